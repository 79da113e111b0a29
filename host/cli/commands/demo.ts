// `nitro-sandbox demo` (what `npm start` runs): the attestation story as far as it is built today —
// a sandbox PKI, an NSM device with measured PCRs, a document bound to a nonce, its verification,
// and the refusals a verifier owes its users. Runs in a temporary data directory it removes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  AttestationAuthority,
  AttestationError,
  ChainCache,
  awsNitroRoot,
  measure,
  toHex,
  verifyAttestation,
  type VerifyOptions,
} from '../../../attestation/index.ts';
import { stringOpt, type Command } from '../command.ts';
import { randomEnclaveId } from './attest.ts';

function outcome(bytes: Uint8Array, options: VerifyOptions): string {
  try {
    verifyAttestation(bytes, options);
    return 'accepted';
  } catch (e) {
    if (e instanceof AttestationError) return `refused: ${e.code}`;
    throw e;
  }
}

export const demo: Command = {
  name: 'demo',
  summary: 'run the end-to-end demo (what npm start runs)',
  help: `Usage: nitro-sandbox demo [--data-dir DIR]

Runs the demo step by step: creates a sandbox PKI, boots a mock Nitro Security Module with measured
PCRs, asks it for a document bound to a fresh nonce, verifies it against the sandbox root, and shows
the refusals: wrong PCR, wrong nonce, a tampered byte, a debug-mode enclave, the wrong root, and a
real AWS document checked at its own time and now. Uses a temporary directory unless --data-dir is
given, and removes it at the end.
`,
  options: { 'data-dir': { type: 'string' } },
  async run(args, io) {
    const given = stringOpt(args, 'data-dir');
    const dataDir = given ?? mkdtempSync(join(tmpdir(), 'nitro-sandbox-demo-'));
    const step = (n: number, text: string): void => io.out(`\n[${n}] ${text}\n`);
    try {
      step(1, `Sandbox PKI in ${dataDir} (root, regional, zonal, instance CAs, as AWS has)`);
      const authority = await AttestationAuthority.open({ dataDir });
      io.out(`    root: ${authority.pki.rootPem().split('\n')[1]?.slice(0, 40)}…\n`);

      step(2, 'Measure an "image" and boot an NSM device with PCR0–2 locked');
      const app = new TextEncoder().encode('export default async function main() { /* the measured app */ }');
      const runtime = new TextEncoder().encode(`node ${process.version} --permission`);
      const pcrs = new Map([
        [0, measure(runtime, app)],
        [1, measure(runtime)],
        [2, measure(app)],
      ]);
      for (const [i, v] of pcrs) io.out(`    PCR${i} ${toHex(v)}\n`);
      const moduleId = randomEnclaveId();
      const device = await authority.createDevice({ moduleId, measurements: pcrs });
      io.out(`    enclave ${moduleId}\n`);

      step(3, 'A client sends a fresh nonce; the enclave returns a document bound to it');
      const nonce = new Uint8Array(randomBytes(32));
      const doc = await device.attestation({ nonce });
      io.out(`    ${doc.length} bytes, begins ${toHex(doc.slice(0, 8))} (untagged COSE_Sign1, ES384)\n`);

      step(4, 'The client verifies chain, signature, PCRs and nonce');
      const cache = new ChainCache();
      const base: VerifyOptions = { trustAnchors: [authority.rootCertificate], expectedPcrs: pcrs, expectedNonce: nonce, maxAgeMs: 300_000, chainCache: cache };
      io.out(`    expected PCRs + nonce: ${outcome(doc, base)}\n`);

      step(5, 'What a verifier must refuse');
      const wrongPcr = new Map(pcrs).set(2, measure(new TextEncoder().encode('another app')));
      io.out(`    PCR2 of another app:        ${outcome(doc, { ...base, expectedPcrs: wrongPcr })}\n`);
      io.out(`    another nonce:              ${outcome(doc, { ...base, expectedNonce: new Uint8Array(32) })}\n`);
      const tampered = new Uint8Array(doc);
      tampered[doc.length - 1]! ^= 1;
      io.out(`    signature byte flipped:     ${outcome(tampered, base)}\n`);
      const debugDevice = await authority.createDevice({ moduleId: randomEnclaveId(), measurements: pcrs, debug: true });
      const debugDoc = await debugDevice.attestation({ nonce });
      io.out(`    debug-mode enclave:         ${outcome(debugDoc, { ...base, expectedPcrs: new Map() })}\n`);
      io.out(`    AWS root instead of ours:   ${outcome(doc, { ...base, trustAnchors: [awsNitroRoot()] })}\n`);

      step(6, 'A real AWS Nitro document (eu-central-1, signed EIF), verified against AWS Nitro Root-G1');
      const vectors = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared', 'vectors', 'nitro', 'signed-eif-2025-04-01.b64');
      let aws: Uint8Array | undefined;
      try {
        aws = new Uint8Array(Buffer.from(readFileSync(vectors, 'utf8'), 'base64'));
      } catch {
        io.out('    (vector not found beside the repository; skipped)\n');
      }
      if (aws) {
        io.out(`    at 2025-04-01T14:00:00Z:    ${outcome(aws, { trustAnchors: [awsNitroRoot()], at: Date.parse('2025-04-01T14:00:00Z') })}\n`);
        io.out(`    now (leaf lived 3 hours):   ${outcome(aws, { trustAnchors: [awsNitroRoot()] })}\n`);
      }
      io.out('\nDone.\n');
      return 0;
    } finally {
      if (given === undefined) rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
