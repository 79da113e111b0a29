// Small assertion and conversion helpers used at every boundary (after noble's `abytes`): the
// message names the field, so a caller knows which argument was wrong.
import { timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from './errors.ts';

export function isBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array;
}

export function abytes(x: unknown, title: string, opts: { min?: number; max?: number; len?: number } = {}): Uint8Array {
  if (!isBytes(x)) throw new InvalidArgumentError(`${title} must be a Uint8Array`);
  if (opts.len !== undefined && x.length !== opts.len) {
    throw new InvalidArgumentError(`${title} must be ${opts.len} bytes, got ${x.length}`);
  }
  if (opts.min !== undefined && x.length < opts.min) {
    throw new InvalidArgumentError(`${title} must be at least ${opts.min} bytes, got ${x.length}`);
  }
  if (opts.max !== undefined && x.length > opts.max) {
    throw new InvalidArgumentError(`${title} must be at most ${opts.max} bytes, got ${x.length}`);
  }
  return x;
}

/** A private copy, so callers can't mutate what we keep (and we can't mutate theirs). */
export function copy(x: Uint8Array): Uint8Array {
  return new Uint8Array(x);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function toHex(x: Uint8Array): string {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex');
}

export function fromHex(hex: string, title: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new InvalidArgumentError(`${title} must be an even-length hex string`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
