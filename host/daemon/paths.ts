// The daemon's runtime directory: its socket, lock file and log. The directory is private to the
// user (0700, owned by us), like $XDG_RUNTIME_DIR itself: the socket gives full control over every
// enclave, so nobody else may reach it.
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonError } from './errors.ts';

export interface RuntimePaths {
  readonly dir: string;
  readonly socket: string;
  readonly lock: string;
  readonly log: string;
}

export function runtimePaths(dir: string): RuntimePaths {
  return { dir, socket: join(dir, 'daemon.sock'), lock: join(dir, 'daemon.lock'), log: join(dir, 'daemon.log') };
}

/** Creates the runtime directory (0700) or checks an existing one is a directory we own, and tightens its mode. */
export function ensureRuntimeDir(dir: string): RuntimePaths {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new DaemonError(`cannot create the runtime directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new DaemonError(`runtime directory ${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new DaemonError(`runtime directory ${dir} belongs to uid ${st.uid}, not to us (${uid})`);
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  return runtimePaths(dir);
}
