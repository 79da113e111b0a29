// Small whole-file reads the verifier needs beside its line stream: a file's size and SHA-256
// (set-aside evidence), a bounded small file (the head), one line at a known offset.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Size and SHA-256 of a file, read in 256 KiB steps; undefined when it does not exist. */
export async function fileDigest(path: string): Promise<{ bytes: number; sha256: string } | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw e;
  }
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(256 * 1024);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, bytes);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

/**
 * Moves the bytes of `path` from `keep` to its end into a new file `target` (fsynced), then cuts
 * `path` to `keep` bytes; returns what was moved. Streams in 256 KiB steps, whatever the size.
 */
export async function moveTail(path: string, keep: number, target: string): Promise<{ bytes: number; sha256: string }> {
  const src = await open(path, 'r+');
  const dst = await open(target, 'wx', 0o600);
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(256 * 1024);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await src.read(buf, 0, buf.length, keep + bytes);
      if (bytesRead === 0) break;
      await dst.write(buf, 0, bytesRead, bytes);
      hash.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    await dst.sync();
    await src.truncate(keep);
    await src.sync();
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    await dst.close();
    await src.close();
  }
}

export async function readSmall(path: string, max: number): Promise<Buffer | 'too-large' | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    if (size > max) return 'too-large';
    const buf = Buffer.alloc(size);
    await fh.read(buf, 0, size, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

export async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}
