// Reads a file line by line in constant memory: one buffer of `maxLineBytes + chunkBytes`, filled
// `chunkBytes` at a time; a line longer than `maxLineBytes` is reported, never materialized.
// This is what lets `kms audit verify` check a log of any size.
import { open } from 'node:fs/promises';
import { MAX_LINE_BYTES } from './format.ts';

export const DEFAULT_CHUNK_BYTES = 256 * 1024;

export interface ReadLimits {
  /** Bytes read per read(2); default 256 KiB. */
  readonly chunkBytes?: number;
  /** Longest line accepted; default MAX_LINE_BYTES (1 MiB). */
  readonly maxLineBytes?: number;
}

export interface Line {
  /** The line without its "\n": a view into the reader's buffer, valid until the next batch is asked for. */
  readonly bytes: Buffer;
  /** 1-based line number. */
  readonly number: number;
  /** Byte offset of the line in the file. */
  readonly offset: number;
  /** False for a last line with no "\n" (a write that was cut short). */
  readonly complete: boolean;
}

/** A line longer than the limit: reported with its number and offset, and the last event. */
export interface LongLine {
  readonly tooLong: true;
  readonly number: number;
  readonly offset: number;
}

export type LineEvent = Line | LongLine;

/**
 * The lines of `path` in order, in batches (the lines completed by one read). A batch's `bytes`
 * views are overwritten by the next read: use them before asking for the next batch.
 */
export async function* lineBatches(path: string, limits: ReadLimits = {}): AsyncGenerator<LineEvent[], void, undefined> {
  const chunk = limits.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const maxLine = limits.maxLineBytes ?? MAX_LINE_BYTES;
  const buf = Buffer.allocUnsafe(maxLine + chunk);
  const fh = await open(path, 'r');
  let position = 0;
  let filled = 0; // bytes of an unfinished line at buf[0 … filled)
  let number = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, filled, chunk, position);
      const base = position - filled; // file offset of buf[0]
      position += bytesRead;
      if (bytesRead === 0) {
        if (filled > 0) yield [{ bytes: buf.subarray(0, filled), number: number + 1, offset: base, complete: false }];
        return;
      }
      const view = buf.subarray(0, filled + bytesRead);
      const batch: LineEvent[] = [];
      let start = 0;
      for (let nl = view.indexOf(10, filled); nl !== -1; nl = view.indexOf(10, start)) {
        number++;
        if (nl - start > maxLine) {
          batch.push({ tooLong: true, number, offset: base + start });
          yield batch;
          return;
        }
        batch.push({ bytes: view.subarray(start, nl), number, offset: base + start, complete: true });
        start = nl + 1;
      }
      filled = view.length - start;
      if (filled > maxLine) {
        batch.push({ tooLong: true, number: number + 1, offset: base + start });
        yield batch;
        return;
      }
      if (batch.length > 0) yield batch;
      buf.copyWithin(0, start, view.length);
    }
  } finally {
    await fh.close();
  }
}
