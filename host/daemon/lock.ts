// The daemon lock file: `daemon.lock` holds the pid of whoever is starting or running the daemon.
// It is created with O_CREAT|O_EXCL, so of two concurrent first `run-enclave`s exactly one starts a
// daemon; the other waits for the socket. A lock whose pid is dead is stale (the daemon was
// SIGKILLed, or its starter died) and is taken over.
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface LockInfo {
  readonly pid: number;
}

export function readLock(path: string): LockInfo | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+)\n$/.exec(text);
  return m ? { pid: Number(m[1]) } : undefined;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the pid exists but belongs to someone else; it is alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates the lock holding `pid`; false when it already exists. */
export function tryCreateLock(path: string, pid = process.pid): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Replaces the lock's content atomically (the daemon takes over the lock its starter created). */
export function rewriteLock(path: string, pid = process.pid): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}`;
  writeFileSync(tmp, `${pid}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Removes a lock whose holder is dead. It is first renamed away (atomic), and the renamed file is
 * checked again: if a live process had just created a fresh lock in between, it is linked back
 * (link fails rather than overwrite, should a third process have locked meanwhile).
 */
export function removeStaleLock(path: string): void {
  const aside = `${path}.stale.${randomBytes(6).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  const info = readLock(aside);
  if (info && pidAlive(info.pid)) {
    try {
      linkSync(aside, path);
    } catch {
      // someone else holds the lock now; theirs wins
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}

/** Deletes the lock if it still holds `pid` (never someone else's). */
export function releaseLock(path: string, pid = process.pid): void {
  if (readLock(path)?.pid !== pid) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
