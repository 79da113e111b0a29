// The daemon's runtime directory: its socket, lock file and log. The directory is private to the
// user (0700, owned by us, every ancestor writable by nobody else: sandbox/private-dir.ts), like
// $XDG_RUNTIME_DIR itself: the socket gives full control over every enclave, so nobody else may
// reach it, and a directory another user made first is refused, never used.
import { join } from 'node:path';
import { ensurePrivateDir } from '../sandbox/private-dir.ts';
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

/**
 * Creates the runtime directory (0700) or checks an existing one is private to us, and tightens its
 * mode; refused with ERR_HOST_DAEMON (the cause says why) when another user controls it.
 */
export function ensureRuntimeDir(dir: string): RuntimePaths {
  try {
    ensurePrivateDir(dir);
  } catch (e) {
    throw new DaemonError(`cannot use the runtime directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  return runtimePaths(dir);
}
