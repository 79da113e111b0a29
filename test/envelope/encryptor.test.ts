// The incremental encryptor (`createEncryptor`): the same envelopes as the stream and one-shot
// paths, frames handed out exactly when a chunk completes them (memory bounded by one frame), and
// every misuse refused with a code: update after final, after destroy, after a failure, more than
// the declared length, a non-byte chunk.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createEncryptor, decrypt, encrypt, EnvelopeError, InMemoryDataKeyProvider } from '../../enclave/envelope/index.ts';
import { chunks, counting, decryptStreamed, layout, pseudoRandom } from './helpers.ts';

const provider = new InMemoryDataKeyProvider();
const context = { purpose: 'encryptor' };
const F = 64;

async function encryptWith(plaintext: Uint8Array, frameSize: number, chunk: number): Promise<Buffer> {
  const e = await createEncryptor(provider, context, { frameSize });
  const out = [e.header];
  for (const c of chunks(plaintext, chunk)) out.push(...e.update(c));
  out.push(...e.final());
  return Buffer.concat(out);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EnvelopeError);
    return (e as EnvelopeError).code;
  }
  return undefined;
}

describe('createEncryptor', () => {
  for (const n of [0, 1, F - 1, F, F + 1, 3 * F + 5]) {
    test(`${n} bytes: decrypts on both paths, framed like encrypt()`, async () => {
      const plaintext = randomBytes(n);
      const env = await encryptWith(plaintext, F, 10);
      expect(env.length).toBe((await encrypt(provider, context, plaintext, { frameSize: F })).length);
      expect((await decrypt(provider, env, { expectedContext: context })).plaintext.equals(plaintext)).toBe(true);
      const s = await decryptStreamed(provider, env, {}, 9);
      expect(s.error).toBeUndefined();
      expect(s.plaintext.equals(plaintext)).toBe(true);
    });
  }

  test('a frame is handed out by the update that takes its frame + 1st byte, never earlier; final gives the rest', async () => {
    const e = await createEncryptor(provider, context, { frameSize: F });
    expect(e.update(randomBytes(F))).toEqual([]); // exactly one frame held: it may still be the final one
    const first = Buffer.concat(e.update(randomBytes(1)));
    // One regular frame: 4-byte sequence number, 12-byte IV, F bytes, 16-byte tag.
    expect(first.length).toBe(4 + 12 + F + 16);
    expect(first.readUInt32BE(0)).toBe(1);
    // 1 byte held + 3 frames' worth: three frames are complete and followed by a byte, so regular.
    expect(Buffer.concat(e.update(randomBytes(3 * F))).length).toBe(3 * (4 + 12 + F + 16));
    expect(e.bytesWritten).toBe(4 * F + 1);
    const last = Buffer.concat(e.final());
    expect(last.readUInt32BE(0)).toBe(0xffffffff);
    expect(last.length).toBe(24 + 1 + 16);
  });

  test('chunks are held by reference until their frame is made: memory is one frame, not the payload', async () => {
    const e = await createEncryptor(provider, context, { frameSize: F });
    let out = 0;
    // 100 frames' worth in 7-byte chunks: output keeps pace with input, never more than a frame behind.
    for (let i = 0; i < (100 * F) / 7; i++) {
      for (const b of e.update(randomBytes(7))) out += b.length;
      const framesOut = Math.floor(out / (4 + 12 + F + 16));
      expect(e.bytesWritten - framesOut * F).toBeLessThanOrEqual(F + 7);
    }
    e.final();
  });

  test('the key source is asked once per envelope, when the encryptor is made', async () => {
    const p = counting(provider);
    const e = await createEncryptor(p, context);
    expect(p.calls.generate).toBe(1);
    e.update(randomBytes(10));
    e.final();
    expect(p.calls.generate).toBe(1);
  });

  test('misuse: update or final after final, after destroy, a non-byte chunk → ERR_ENVELOPE_INVALID_ARGUMENT', async () => {
    const done = await createEncryptor(provider, context);
    done.final();
    expect(codeOf(() => done.update(Buffer.from('x')))).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    expect(codeOf(() => done.final())).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    const gone = await createEncryptor(provider, context);
    gone.update(Buffer.from('held'));
    gone.destroy();
    expect(codeOf(() => gone.update(Buffer.from('x')))).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    expect(codeOf(() => gone.final())).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    const typed = await createEncryptor(provider, context);
    expect(codeOf(() => typed.update('text' as unknown as Uint8Array))).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    // A refused argument does not spoil the envelope.
    typed.update(Buffer.from('ok'));
    expect(Buffer.concat([typed.header, ...typed.final()]).length).toBeGreaterThan(0);
  });

  test('more than the declared plaintextLength → ERR_ENVELOPE_LIMIT, and the encryptor is unusable afterwards', async () => {
    const e = await createEncryptor(provider, context, { plaintextLength: 10, frameSize: F });
    e.update(randomBytes(6));
    expect(codeOf(() => e.update(randomBytes(5)))).toBe('ERR_ENVELOPE_LIMIT');
    expect(codeOf(() => e.final())).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
  });

  test('bad options are refused before the key source is asked', async () => {
    const p = counting(provider);
    for (const opts of [{ frameSize: 0 }, { frameSize: 2 ** 24 + 1 }, { plaintextLength: -1 }, { plaintextLength: 0.5 }]) {
      const err = await createEncryptor(p, context, opts).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(EnvelopeError);
      expect((err as EnvelopeError).code).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    }
    const err = await createEncryptor(p, { '': 'empty key' }).then(() => undefined, (e: unknown) => e);
    expect((err as EnvelopeError).code).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    expect(p.calls.generate).toBe(0);
  });

  test('property: any size, frame size and chunking gives the layout encrypt() gives and decrypts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(2000), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 500 }), fc.integer(), async (size, frameSize, chunk, seed) => {
        const plaintext = pseudoRandom(size, seed);
        const env = await encryptWith(plaintext, frameSize, chunk);
        const oneShot = await encrypt(provider, context, plaintext, { frameSize });
        const a = layout(env);
        const b = layout(oneShot);
        expect(a.frames.map((f) => [f.final, f.ciphertext.end - f.ciphertext.start])).toEqual(b.frames.map((f) => [f.final, f.ciphertext.end - f.ciphertext.start]));
        expect((await decrypt(provider, env)).plaintext.equals(plaintext)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
