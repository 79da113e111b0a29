// fast-check properties: round trips over random sizes, frame sizes, chunkings and contexts; the
// context codec; and "random bytes never escape the typed error" for both decryption paths and the
// header parser, from pure noise and from mutated valid envelopes.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decrypt,
  encrypt,
  EnvelopeError,
  InMemoryDataKeyProvider,
  parseContext,
  parseHeader,
  serializeContext,
} from '../../enclave/envelope/index.ts';
import { decryptStreamed, encryptStreamed, pseudoRandom } from './helpers.ts';

const provider = new InMemoryDataKeyProvider();
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const contextArb = fc.dictionary(text.filter((k) => k.length > 0), text, { maxKeys: 5 });

describe('properties', () => {
  test('round trip: any size, frame size, chunking and context (stream and one-shot, crossed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(3000), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 900 }), contextArb, fc.integer(), async (size, frameSize, chunk, context, seed) => {
        const plaintext = pseudoRandom(size, seed);
        const streamed = await encryptStreamed(provider, context, plaintext, { frameSize }, chunk);
        const oneShot = await encrypt(provider, context, plaintext, { frameSize });
        expect(streamed.length).toBe(oneShot.length);
        const a = await decrypt(provider, streamed, { expectedContext: context });
        expect(a.plaintext.equals(plaintext)).toBe(true);
        const b = await decryptStreamed(provider, oneShot, {}, chunk);
        expect(b.error).toBeUndefined();
        expect(b.plaintext.equals(plaintext)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  test('context codec: serialize → parse is the identity, and the encoding is independent of key order', () => {
    fc.assert(
      fc.property(contextArb, (context) => {
        const bytes = serializeContext(context);
        expect(parseContext(bytes)).toEqual(context);
        const reversed = Object.fromEntries(Object.entries(context).reverse());
        expect(Buffer.from(serializeContext(reversed)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('random bytes never escape the typed error (decrypt, stream, header parser, context parser)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (bytes, withMagic) => {
        const input = withMagic ? Buffer.concat([Buffer.from('NSEV\x01\x00\x01', 'latin1'), bytes]) : Buffer.from(bytes);
        const e = await decrypt(provider, input).then(() => 'accepted', (x: unknown) => x);
        expect(e).toBeInstanceOf(EnvelopeError);
        const s = await decryptStreamed(provider, input, {}, 11);
        expect(s.error).toBeInstanceOf(EnvelopeError);
        expect(s.plaintext).toHaveLength(0);
        try {
          parseHeader(input);
        } catch (x) {
          expect(x).toBeInstanceOf(EnvelopeError);
        }
        try {
          parseContext(bytes);
        } catch (x) {
          expect(x).toBeInstanceOf(EnvelopeError);
        }
      }),
      { numRuns: 400 },
    );
  });

  test('mutated valid envelopes (overwrite, insert, delete, cut) are refused with a typed error, never accepted', async () => {
    const plaintext = pseudoRandom(300, 7);
    const env = await encrypt(provider, { k: 'v' }, plaintext, { frameSize: 64 });
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(env.length - 1), value: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(env.length), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(env.length - 1), n: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(env.length - 1) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        let b = Buffer.from(env);
        for (const m of ms) {
          if (m.kind === 'set') {
            b = Buffer.from(b);
            const at = m.at % Math.max(1, b.length);
            b[at] = ((b[at] ?? 0) ^ m.value) & 0xff;
          } else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, m.at), m.bytes, b.subarray(m.at)]);
          else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, m.at), b.subarray(m.at + m.n)]);
          else b = b.subarray(0, m.at);
        }
        if (b.equals(env)) return; // a mutation that undid itself
        const e = await decrypt(provider, b).then(() => 'accepted', (x: unknown) => x);
        expect(e).toBeInstanceOf(EnvelopeError);
        const s = await decryptStreamed(provider, b, {}, 13);
        expect(s.error).toBeInstanceOf(EnvelopeError);
        // Whatever was released before the failure is a prefix of the true plaintext, whole frames only.
        expect(plaintext.subarray(0, s.plaintext.length).equals(s.plaintext)).toBe(true);
        expect(s.plaintext.length % 64).toBe(0);
      }),
      { numRuns: 400 },
    );
  });
});
