// The CLI loads a command's module only when that command runs (host/cli/commands/index.ts): the
// command list comes from the index alone, and a command loads its own file and nothing of the
// others. Checked in a fresh process whose module resolutions are recorded by a resolve hook.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { commands } from '../../host/cli/commands/index.ts';
import { repoRoot } from '../enclave/fixtures.ts';

/** The command modules (host/cli/commands/*.ts, index.ts aside) a CLI call loaded, and its exit status. */
function loaded(...argv: string[]): { files: string[]; status: number | null } {
  const hook = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r; } });
    process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify([...seen].filter((u) => u.includes('/host/cli/commands/') && !u.endsWith('/index.ts')).map((u) => u.slice(u.lastIndexOf('/') + 1))) + '\\n'));
  `;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, join(repoRoot, 'bin/nitro-sandbox.js'), ...argv], { encoding: 'utf8', env: { ...process.env, NITRO_SANDBOX_RUNTIME_DIR: join(repoRoot, '.no-such-runtime-dir') } });
  const line = /LOADED (.*)/.exec(r.stderr)?.[1];
  if (line === undefined) throw new Error(`no record of loaded modules: ${r.stderr}`);
  return { files: (JSON.parse(line) as string[]).sort(), status: r.status };
}

describe('CLI commands load lazily', () => {
  test('the command list (--help) loads no command module, and names every command', () => {
    const r = loaded('--help');
    expect(r).toEqual({ files: [], status: 0 });
  });

  test("a command's --help loads that command's module and what it imports of this folder, no other", () => {
    expect(loaded('describe-enclaves', '--help')).toEqual({ files: ['describe-enclaves.ts'], status: 0 });
    // kms explain reads documents as verify-attestation does, and shares the KMS options.
    expect(loaded('kms', 'explain', '--help')).toEqual({ files: ['kms-explain.ts', 'kms-options.ts', 'verify-attestation.ts'], status: 0 });
  });

  test('every entry loads a command with help text and options', async () => {
    for (const entry of commands) {
      const c = await entry.load();
      expect(c.help, entry.name).toMatch(new RegExp(`^Usage: nitro-sandbox ${entry.name}`));
      expect(typeof c.run).toBe('function');
    }
  });
});
