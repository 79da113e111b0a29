// Directories only this user can reach. Everything the host writes for enclaves (the launcher it
// compiles, the empty root it builds, the daemon's socket) lives in one, because whoever could
// write there could put code into every enclave or take the daemon's socket. A guessable path
// under a shared directory such as /tmp could be made first by another user (with their own
// files in it), so a path is checked from / down, and a path another user controls is refused
// with ERR_PRIVATE_PATH, never silently used.
import { chmodSync, lstatSync, mkdirSync, realpathSync, type Stats } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { PrivatePathError } from '../errors.ts';

function uid(): number {
  return process.getuid?.() ?? 0;
}

function lstat(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Every prefix of an absolute path, '/' first. */
function prefixes(path: string): string[] {
  const parts = path.split(sep).filter(Boolean);
  return ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
}

const trusted = (st: Stats): boolean => st.uid === 0 || st.uid === uid();

/**
 * The checks on the directories above what we create or use (`dirs`, resolved, / first): each is
 * owned by root or us and writable by nobody else, except a sticky directory (like /tmp), whose
 * next component must then be ours or root's (the sticky bit stops others renaming or deleting it).
 */
function checkAncestors(dirs: readonly string[], target: string): void {
  for (let i = 0; i < dirs.length; i++) {
    const dir = dirs[i]!;
    const st = lstatSync(dir);
    if (!st.isDirectory() || !trusted(st)) throw new PrivatePathError(`${dir} belongs to uid ${st.uid}: ${target} is not private to this user`);
    if ((st.mode & 0o022) !== 0) {
      const next = i + 1 < dirs.length ? lstat(dirs[i + 1]!) : undefined;
      if ((st.mode & 0o1000) === 0 || (next !== undefined && !trusted(next))) throw new PrivatePathError(`${dir} is writable by other users: ${target} is not private to this user`);
    }
  }
}

/**
 * Creates `path` (mode 0700, missing parents too) or checks it, and returns it. Refused with
 * ERR_PRIVATE_PATH: a symlink on the way that another user owns, an ancestor another user may
 * write, and a final directory that is not ours; a final directory of ours that others may enter
 * is tightened to 0700.
 */
export function ensurePrivateDir(path: string): string {
  const abs = resolve(path);
  for (const p of prefixes(abs)) {
    const st = lstat(p);
    if (st?.isSymbolicLink() && !trusted(st)) throw new PrivatePathError(`${p} is a symlink of uid ${st.uid}: ${abs} is not private to this user`);
  }
  // Parents are checked before anything is created in them: the deepest that exists is one too,
  // unless it is the directory itself (which is checked as ours below).
  let existing = abs;
  while (!lstat(existing)) existing = dirname(existing);
  const above = prefixes(realpathSync(existing));
  checkAncestors(existing === abs ? above.slice(0, -1) : above, abs);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  const real = realpathSync(abs);
  checkAncestors(prefixes(real).slice(0, -1), real);
  const st = lstatSync(real);
  if (!st.isDirectory()) throw new PrivatePathError(`${real} is not a directory`);
  if (st.uid !== uid()) throw new PrivatePathError(`${real} belongs to uid ${st.uid}, not to this user (${uid()})`);
  if ((st.mode & 0o077) !== 0) chmodSync(real, 0o700);
  return real;
}
