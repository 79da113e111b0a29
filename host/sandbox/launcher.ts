// Builds the enclave launcher (launcher.c, whose header says why it is C) with the machine's C
// compiler, once, into the host's private directory. The binary is named after a hash of the
// source and of the compiler, so an edited source or another compiler gives a new binary and a
// stale one is never run; it is written under a temporary name and renamed into place, so
// concurrent first launches (test workers, two daemons) never run a half-written file.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE = new URL('./launcher.c', import.meta.url);

/** Where a program is installed, from a fixed list of system directories (PATH is not trusted). */
export function systemTool(name: string): string | null {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

export type LauncherBuild = { readonly path: string } | { readonly path: null; readonly reason: string };

/** The launcher binary in `dir` (a private directory), compiled first if needed. */
export function buildLauncher(dir: string): LauncherBuild {
  const cc = systemTool('cc') ?? systemTool('gcc') ?? systemTool('clang');
  if (!cc) return { path: null, reason: 'no C compiler (cc) to build the launcher' };
  const source = readFileSync(SOURCE);
  const compiler = statSync(realpathSync(cc));
  const hash = createHash('sha256')
    .update(source)
    .update(`\0${realpathSync(cc)}\0${compiler.size}\0${compiler.mtimeMs}\0${process.arch}`)
    .digest('hex')
    .slice(0, 20);
  const out = join(dir, `launcher-${hash}`);
  if (existsSync(out) && lstatSync(out).isFile()) return { path: out };
  const tmp = join(dir, `.launcher-${randomBytes(6).toString('hex')}`);
  const r = spawnSync(cc, ['-std=gnu11', '-O2', '-Wall', '-x', 'c', '-', '-o', tmp], { input: source, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 120_000 });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(0, 3).join(' / ');
    return { path: null, reason: `the launcher did not compile with ${cc}: ${why}` };
  }
  renameSync(tmp, out);
  return { path: out };
}
