// One KMS per data directory: two servers appending to one audit chain would fork it, and their
// in-memory caches would go stale. The lock is a file holding the owner's pid; a lock whose
// process is gone (kill -9) is taken over, so restarts after a crash need no cleanup.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { kmsError } from './errors.ts';

/** Whether a process with this pid exists (EPERM: it exists, as another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the live process holding the data directory's lock, if any (read-only: never takes it). */
export function lockOwner(dataDir: string): number | undefined {
  let owner: number;
  try {
    owner = Number(readFileSync(join(dataDir, 'kms.lock'), 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(owner) && owner > 0 && processAlive(owner) ? owner : undefined;
}

/** Takes the data directory's lock; returns the release function. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'kms.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released between our open and read: try again
    }
    if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) {
      throw kmsError('KMSInternalException', `The data directory ${dataDir} is in use by another KMS (pid ${owner}).`);
    }
    try {
      unlinkSync(path); // stale: its owner is gone
    } catch {
      // someone else removed it first
    }
  }
  throw kmsError('KMSInternalException', `Could not lock the data directory ${dataDir}.`);
}
