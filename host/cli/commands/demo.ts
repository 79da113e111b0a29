// `nitro-sandbox demo` (what `npm start` runs): the whole story on embedded defaults, step by step
// (host/demo-story.ts tells it; this command prints it). Everything lives in a temporary directory
// removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatExplanation } from '../../../kms-proxy/index.ts';
import { playDemo, type DemoEvent } from '../../demo-story.ts';
import { stringOpt, type CliIo, type Command } from '../command.ts';

/** Which lines of `kms explain` the terminal shows for a decision: all, what differs, or the verdict. */
const EXPLAIN_LINES: Record<'full' | 'summary' | 'verdict', (line: string) => boolean> = {
  full: () => true,
  summary: (l) => /^(decision|outcome)|ImageSha384|PCR[12]/.test(l.trim()),
  verdict: (l) => /^decision/.test(l.trim()),
};

function printer(io: CliIo): (e: DemoEvent) => void {
  const say = (text: string): void => io.out(`    ${text}\n`);
  return (e) => {
    switch (e.kind) {
      case 'step':
        io.out(`\n[${e.n}] ${e.title}\n`);
        return;
      case 'say':
        say(e.text);
        return;
      case 'decision': {
        const lines = formatExplanation(e.explanation).split('\n').filter(EXPLAIN_LINES[e.verbosity]);
        if (e.verbosity === 'full') {
          say(`kms explain --action kms:Decrypt --attestation <the document ${e.enclave} presents>:`);
          for (const line of lines) say(`  ${line}`);
        } else if (e.verbosity === 'verdict') {
          for (const line of lines) say(`kms explain: ${line.trim()}`);
        } else for (const line of lines) say(`  ${line.trim()}`);
        return;
      }
      default:
        return; // measurements and enclaves are already in the text above
    }
  };
}

export const demo: Command = {
  help: `Usage: nitro-sandbox demo [--data-dir DIR]

Runs the whole story step by step, on embedded defaults, in a temporary directory it removes:
starts the KMS, builds an enclave image and prints its PCRs, creates a key whose policy pins them,
runs the enclave isolated, processes a sensitive record through an attested session, shows the
enclave obtaining a data key the host never sees, then shows a one-character-modified enclave and
a debug-mode enclave being denied, with 'kms explain' output for each. 'nitro-sandbox ui' plays
the same story in a web page.

Options:
  --data-dir DIR   work in DIR instead (the PKI, the KMS's store and enclave B's source) and keep it
`,
  options: { 'data-dir': { type: 'string' } },
  async run(args, io) {
    const work = stringOpt(args, 'data-dir') ?? mkdtempSync(join(tmpdir(), 'nitro-sandbox-demo-'));
    try {
      await playDemo({ workDir: work, onEvent: printer(io) });
      return 0;
    } finally {
      if (stringOpt(args, 'data-dir') === undefined) rmSync(work, { recursive: true, force: true });
    }
  },
};
