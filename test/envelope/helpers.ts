// Shared helpers for the envelope tests: run both decryption paths (stream and one-shot), collect
// typed failures, a provider that counts calls, and an independent reading of the wire layout
// written from docs/envelope-format.md (not from the library's parser).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'vitest';
import {
  decrypt,
  decryptStream,
  encryptStream,
  EnvelopeError,
  type DataKeyProvider,
  type DecryptOptions,
  type EncryptionContext,
  type EncryptOptions,
  type GeneratedDataKey,
  type KeySource,
} from '../../enclave/envelope/index.ts';

/** Splits `bytes` into chunks of `size` (the last may be shorter). */
export function chunks(bytes: Uint8Array, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(Buffer.from(bytes.subarray(o, o + size)));
  return out;
}

export async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(c);
  return Buffer.concat(parts);
}

export async function encryptStreamed(keys: KeySource, context: EncryptionContext, plaintext: Uint8Array, opts: EncryptOptions = {}, chunk = 1000): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks(plaintext, chunk)), encryptStream(keys, context, opts), async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) out.push(c);
  });
  return Buffer.concat(out);
}

/** Decrypts through the stream, feeding `chunk`-byte pieces; returns what was released and the error. */
export async function decryptStreamed(keys: KeySource, envelope: Uint8Array, opts: DecryptOptions = {}, chunk = 7): Promise<{ plaintext: Buffer; error?: unknown }> {
  const out: Buffer[] = [];
  try {
    await pipeline(Readable.from(chunks(envelope, chunk)), decryptStream(keys, opts), async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) out.push(c);
    });
    return { plaintext: Buffer.concat(out) };
  } catch (error) {
    return { plaintext: Buffer.concat(out), error };
  }
}

/** Asserts that both decryption paths refuse `envelope` with `code`, and returns the stream's partial output. */
export async function expectRefused(keys: KeySource, envelope: Uint8Array, code: string, opts: DecryptOptions = {}, chunk = 7): Promise<Buffer> {
  let oneShot: unknown;
  try {
    await decrypt(keys, envelope, opts);
  } catch (e) {
    oneShot = e;
  }
  expect(oneShot, 'one-shot decrypt must fail').toBeInstanceOf(EnvelopeError);
  expect((oneShot as EnvelopeError).code).toBe(code);
  const s = await decryptStreamed(keys, envelope, opts, chunk);
  expect(s.error, 'stream decrypt must fail').toBeInstanceOf(EnvelopeError);
  expect((s.error as EnvelopeError).code).toBe(code);
  return s.plaintext;
}

export interface Counted extends DataKeyProvider {
  readonly calls: { generate: number; decrypt: number };
}

/** Wraps a provider and counts its calls (the "KMS calls" the cache saves). */
export function counting(inner: DataKeyProvider, delayMs = 0): Counted {
  const calls = { generate: 0, decrypt: 0 };
  const wait = () => (delayMs > 0 ? new Promise((r) => setTimeout(r, delayMs)) : Promise.resolve());
  return {
    providerId: inner.providerId,
    calls,
    async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
      calls.generate++;
      await wait();
      return inner.generateDataKey(context);
    },
    async decryptDataKey(encryptedKey: Uint8Array, keyId: string, context: EncryptionContext): Promise<Uint8Array> {
      calls.decrypt++;
      await wait();
      return inner.decryptDataKey(encryptedKey, keyId, context);
    },
  };
}

export interface Range {
  readonly start: number;
  readonly end: number;
}

export interface FrameLayout {
  readonly start: number;
  readonly end: number;
  readonly final: boolean;
  readonly seq: Range;
  readonly marker?: Range;
  readonly iv: Range;
  readonly length?: Range;
  readonly ciphertext: Range;
  readonly tag: Range;
}

export interface Layout {
  readonly magic: Range;
  readonly version: Range;
  readonly suite: Range;
  readonly frameSize: Range;
  readonly messageId: Range;
  readonly contextLength: Range;
  readonly context: Range;
  readonly edkCount: Range;
  readonly edks: { providerId: Range; keyId: Range; encryptedKey: Range }[];
  readonly commitment: Range;
  readonly headerTag: Range;
  readonly headerEnd: number;
  readonly frames: FrameLayout[];
}

/** Field offsets of an envelope, read from the layout in docs/envelope-format.md. */
export function layout(b: Buffer): Layout {
  const r = (start: number, len: number): Range => ({ start, end: start + len });
  const frameSize = b.readUInt32BE(7);
  const ctxLen = b.readUInt16BE(43);
  let o = 45 + ctxLen;
  const edkCount = b[o] as number;
  o++;
  const edks: Layout['edks'] = [];
  for (let i = 0; i < edkCount; i++) {
    const p = r(o + 2, b.readUInt16BE(o));
    o = p.end;
    const k = r(o + 2, b.readUInt16BE(o));
    o = k.end;
    const e = r(o + 2, b.readUInt16BE(o));
    o = e.end;
    edks.push({ providerId: p, keyId: k, encryptedKey: e });
  }
  const commitment = r(o, 32);
  const headerTag = r(o + 32, 16);
  o = headerTag.end;
  const headerEnd = o;
  const frames: FrameLayout[] = [];
  while (o < b.length) {
    const start = o;
    if (b.readUInt32BE(o) === 0xffffffff) {
      const len = b.readUInt32BE(o + 20);
      const f: FrameLayout = { start, end: o + 24 + len + 16, final: true, marker: r(o, 4), seq: r(o + 4, 4), iv: r(o + 8, 12), length: r(o + 20, 4), ciphertext: r(o + 24, len), tag: r(o + 24 + len, 16) };
      frames.push(f);
      o = f.end;
      break;
    }
    const f: FrameLayout = { start, end: o + 16 + frameSize + 16, final: false, seq: r(o, 4), iv: r(o + 4, 12), ciphertext: r(o + 16, frameSize), tag: r(o + 16 + frameSize, 16) };
    frames.push(f);
    o = f.end;
  }
  return {
    magic: r(0, 4),
    version: r(4, 1),
    suite: r(5, 2),
    frameSize: r(7, 4),
    messageId: r(11, 32),
    contextLength: r(43, 2),
    context: r(45, ctxLen),
    edkCount: r(45 + ctxLen, 1),
    edks,
    commitment,
    headerTag,
    headerEnd,
    frames,
  };
}

/** A copy of `b` with bit `bit` of byte `at` flipped. */
export function flip(b: Uint8Array, at: number, bit = 0): Buffer {
  const c = Buffer.from(b);
  c[at] = (c[at] as number) ^ (1 << bit);
  return c;
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pseudoRandom(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
