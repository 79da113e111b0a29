// Where EIF bytes come from: memory (tests, the daemon) or an open file. EIF files hold a Linux
// kernel and whole Docker images (hundreds of MiB), so the reader never asks for more than one
// bounded chunk at a time and nothing is loaded whole.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ImageTruncatedError } from '../errors.ts';

export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (a view for memory, a fresh buffer for files). */
  read(offset: number, length: number): Uint8Array;
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => {
      if (offset + length > bytes.length) throw new ImageTruncatedError(`EIF truncated: ${length} bytes at offset ${offset} run past the end (${bytes.length})`);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A file source (read-only unless `flags` says 'r+'); `close()` when done. The size is taken once, at open. */
export function fileSource(path: string, flags: 'r' | 'r+' = 'r'): ByteSource & { readonly fd: number; close(): void } {
  const fd = openSync(path, flags);
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return {
    fd,
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new ImageTruncatedError(`EIF truncated: the file ended at ${offset + done} while ${length} bytes at ${offset} were read (it changed while being read?)`);
        done += n;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}
