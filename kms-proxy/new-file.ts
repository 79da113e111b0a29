// Files a KMS creates once and several processes may race to create: the master key and
// credentials.json of a data directory that replicas start on together (kms-proxy/README.md,
// "Replicas on PostgreSQL"). `open(path, 'wx')` then `write` lets a second process find the name
// while it is still empty or partly written, and refuse the data directory as corrupt; here the
// bytes are complete and durable before the name appears.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Creates `path` holding `data` (mode `mode`), all at once: written and fsynced under a temporary
 * name in the same directory, linked to `path` (link(2) refuses an existing name: EEXIST, which
 * the caller answers by reading the file that won), the temporary name removed and the directory
 * fsynced. A crash leaves at most a `.<name>.<random>.tmp` file, never a partial `path`.
 */
export function createFileAtomically(path: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}
