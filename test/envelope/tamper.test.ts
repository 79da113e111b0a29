// Every kind of tampering is refused, with its code, by both decryption paths; and no plaintext of
// a frame that fails is ever released. Offsets come from the documented layout (helpers.layout).
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { beforeAll, describe, expect, test } from 'vitest';
import { CachingMaterialsManager, decrypt, decryptStream, encrypt, EnvelopeError, InMemoryDataKeyProvider } from '../../enclave/envelope/index.ts';
import { expectRefused, flip, layout, type Layout } from './helpers.ts';

const F = 32;
const provider = new InMemoryDataKeyProvider({ keys: { 'key-a': randomBytes(32), 'key-b': randomBytes(32) } });
const context = { purpose: 'tamper', n: '1' };
const plaintext = randomBytes(3 * F + 5); // three regular frames and a final one of 5 bytes
let env: Buffer;
let L: Layout;

beforeAll(async () => {
  env = await encrypt(provider, context, plaintext, { frameSize: F });
  L = layout(env);
  expect(L.frames.map((f) => f.final)).toEqual([false, false, false, true]);
  expect((await decrypt(provider, env)).plaintext.equals(plaintext)).toBe(true);
});

const cat = (...parts: Buffer[]) => Buffer.concat(parts);
const frame = (i: number) => {
  const f = L.frames[i];
  if (!f) throw new Error(`no frame ${i}`);
  return env.subarray(f.start, f.end);
};
const header = () => env.subarray(0, L.headerEnd);

describe('header fields (docs/envelope-format.md, "Header")', () => {
  test('magic, version, suite: ERR_ENVELOPE_BAD_HEADER', async () => {
    for (let i = L.magic.start; i < L.suite.end; i++) await expectRefused(provider, flip(env, i, 3), 'ERR_ENVELOPE_BAD_HEADER');
  });

  test('frame size: out of range is BAD_HEADER, in range fails the header tag (TAMPERED)', async () => {
    await expectRefused(provider, flip(env, L.frameSize.start, 7), 'ERR_ENVELOPE_BAD_HEADER'); // > 16 MiB
    const zero = Buffer.from(env);
    zero.writeUInt32BE(0, L.frameSize.start);
    await expectRefused(provider, zero, 'ERR_ENVELOPE_BAD_HEADER');
    await expectRefused(provider, flip(env, L.frameSize.end - 1, 0), 'ERR_ENVELOPE_TAMPERED'); // 33
    await expectRefused(provider, flip(env, L.frameSize.end - 1, 4), 'ERR_ENVELOPE_TAMPERED'); // 16
  });

  test('decryptor limit on frame size: ERR_ENVELOPE_LIMIT', async () => {
    await expectRefused(provider, env, 'ERR_ENVELOPE_LIMIT', { maxFrameSize: F - 1 });
  });

  test('decryptor limit on header size: ERR_ENVELOPE_LIMIT as soon as the header claims more', async () => {
    await expectRefused(provider, env, 'ERR_ENVELOPE_LIMIT', { maxHeaderBytes: L.headerEnd - 1 });
    expect((await decrypt(provider, env, { maxHeaderBytes: L.headerEnd })).plaintext.equals(plaintext)).toBe(true);
  });

  test('message id: the key commitment no longer matches (TAMPERED)', async () => {
    for (const i of [L.messageId.start, L.messageId.start + 17, L.messageId.end - 1]) await expectRefused(provider, flip(env, i, 2), 'ERR_ENVELOPE_TAMPERED');
  });

  test('context length: the context no longer parses (BAD_HEADER)', async () => {
    await expectRefused(provider, flip(env, L.contextLength.end - 1, 0), 'ERR_ENVELOPE_BAD_HEADER');
    await expectRefused(provider, flip(env, L.contextLength.end - 1, 1), 'ERR_ENVELOPE_BAD_HEADER');
  });

  test('context value: the provider refuses the data key under the changed context (TAMPERED)', async () => {
    // Last byte of the context is the last byte of the last value ("tamper" → "tampes").
    await expectRefused(provider, flip(env, L.context.end - 1, 0), 'ERR_ENVELOPE_TAMPERED');
  });

  test('context keys out of order or duplicated: BAD_HEADER (one canonical encoding)', async () => {
    // Entries are "n" then "purpose"; make the first key "q" (> "purpose").
    const c = Buffer.from(env);
    expect(c.toString('latin1', L.context.start + 4, L.context.start + 5)).toBe('n');
    c[L.context.start + 4] = 'q'.charCodeAt(0);
    await expectRefused(provider, c, 'ERR_ENVELOPE_BAD_HEADER');
    c[L.context.start + 4] = 0xff; // invalid UTF-8
    await expectRefused(provider, c, 'ERR_ENVELOPE_BAD_HEADER');
  });

  test('encrypted data key count 0: BAD_HEADER; above the decryptor limit: LIMIT', async () => {
    await expectRefused(provider, flip(env, L.edkCount.start, 0), 'ERR_ENVELOPE_BAD_HEADER');
    const three = flip(env, L.edkCount.start, 1); // 3 keys: the parser reads garbage and refuses it
    const e = await decrypt(provider, three).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EnvelopeError);
    await expectRefused(provider, three, 'ERR_ENVELOPE_LIMIT', { maxEncryptedDataKeys: 2 });
  });

  test('provider id: no encrypted data key for this provider (ERR_ENVELOPE_DATA_KEY)', async () => {
    const edk = L.edks[0];
    if (!edk) throw new Error('no edk');
    await expectRefused(provider, flip(env, edk.providerId.start, 0), 'ERR_ENVELOPE_DATA_KEY');
  });

  test('key id: unknown key is DATA_KEY; another existing key fails authentication (TAMPERED)', async () => {
    const edk = L.edks[0];
    if (!edk) throw new Error('no edk');
    await expectRefused(provider, flip(env, edk.keyId.start, 1), 'ERR_ENVELOPE_DATA_KEY'); // "key-a" → "kgy-a"
    const other = Buffer.from(env);
    expect(other.toString('latin1', edk.keyId.start, edk.keyId.end)).toBe('key-a');
    other.write('key-b', edk.keyId.start, 'latin1');
    await expectRefused(provider, other, 'ERR_ENVELOPE_TAMPERED');
  });

  test('encrypted data key bytes: TAMPERED', async () => {
    const edk = L.edks[0];
    if (!edk) throw new Error('no edk');
    for (let i = edk.encryptedKey.start; i < edk.encryptedKey.end; i += 9) await expectRefused(provider, flip(env, i, 5), 'ERR_ENVELOPE_TAMPERED');
  });

  test('key commitment and header tag: TAMPERED', async () => {
    for (const r of [L.commitment, L.headerTag]) for (const i of [r.start, r.end - 1]) await expectRefused(provider, flip(env, i, 6), 'ERR_ENVELOPE_TAMPERED');
  });

  test('every single-bit flip anywhere in the header is refused with a typed error, never accepted', async () => {
    for (let i = 0; i < L.headerEnd; i++) {
      for (const bit of [0, 7]) {
        const e = await decrypt(provider, flip(env, i, bit)).catch((x: unknown) => x);
        expect(e, `byte ${i} bit ${bit}`).toBeInstanceOf(EnvelopeError);
        expect(['ERR_ENVELOPE_BAD_HEADER', 'ERR_ENVELOPE_TAMPERED', 'ERR_ENVELOPE_DATA_KEY', 'ERR_ENVELOPE_TRUNCATED', 'ERR_ENVELOPE_LIMIT']).toContain((e as EnvelopeError).code);
      }
    }
  });
});

describe('frames (docs/envelope-format.md, "Frames")', () => {
  test('a bit flipped in a frame ciphertext, tag, IV or sequence number: TAMPERED', async () => {
    for (const f of L.frames) {
      for (const r of [f.ciphertext, f.tag, f.iv, f.seq]) {
        if (r.end === r.start) continue;
        await expectRefused(provider, flip(env, r.start, 0), 'ERR_ENVELOPE_TAMPERED');
        await expectRefused(provider, flip(env, r.end - 1, 7), 'ERR_ENVELOPE_TAMPERED');
      }
    }
  });

  test('the final-frame marker or its length changed: refused', async () => {
    const fin = L.frames[3];
    if (!fin?.marker || !fin.length) throw new Error('no final frame');
    // Marker 0xFFFFFFFE reads as a regular frame numbered 4294967294: out of sequence.
    await expectRefused(provider, flip(env, fin.marker.end - 1, 0), 'ERR_ENVELOPE_TAMPERED');
    // A shorter length moves the tag: it does not verify.
    await expectRefused(provider, flip(env, fin.length.end - 1, 0), 'ERR_ENVELOPE_TAMPERED'); // 5 → 4
    // A length beyond the frame size is refused before reading on.
    await expectRefused(provider, flip(env, fin.length.start, 7), 'ERR_ENVELOPE_TAMPERED');
    // A longer length (within the frame size) claims bytes that are not there.
    await expectRefused(provider, flip(env, fin.length.end - 1, 1), 'ERR_ENVELOPE_TRUNCATED'); // 5 → 7
  });

  test('a regular frame turned into a "final" one (truncation attack) is refused', async () => {
    // Re-label frame 1 as final with length F: the final flag and length are in the AAD.
    const f = L.frames[0];
    if (!f) throw new Error('no frame');
    const head = Buffer.alloc(24);
    head.writeUInt32BE(0xffffffff, 0);
    head.writeUInt32BE(1, 4);
    env.copy(head, 8, f.iv.start, f.iv.end);
    head.writeUInt32BE(F, 20);
    const forged = cat(header(), head, env.subarray(f.ciphertext.start, f.end));
    await expectRefused(provider, forged, 'ERR_ENVELOPE_TAMPERED');
  });

  test('dropped, swapped, duplicated frames: TAMPERED', async () => {
    await expectRefused(provider, cat(header(), frame(0), frame(2), frame(3)), 'ERR_ENVELOPE_TAMPERED');
    await expectRefused(provider, cat(header(), frame(1), frame(0), frame(2), frame(3)), 'ERR_ENVELOPE_TAMPERED');
    await expectRefused(provider, cat(header(), frame(0), frame(2), frame(1), frame(3)), 'ERR_ENVELOPE_TAMPERED');
    await expectRefused(provider, cat(header(), frame(0), frame(0), frame(1), frame(2), frame(3)), 'ERR_ENVELOPE_TAMPERED');
    await expectRefused(provider, cat(header(), frame(0), frame(1), frame(2), frame(2), frame(3)), 'ERR_ENVELOPE_TAMPERED');
    // Dropping the last regular frame (so the final one follows frame 2).
    await expectRefused(provider, cat(header(), frame(0), frame(1), frame(3)), 'ERR_ENVELOPE_TAMPERED');
  });

  test('truncated at every frame boundary and at every byte inside the frames: TRUNCATED', async () => {
    for (const f of L.frames) await expectRefused(provider, env.subarray(0, f.start), 'ERR_ENVELOPE_TRUNCATED');
    for (let n = L.headerEnd; n < env.length; n++) {
      const e = await decrypt(provider, env.subarray(0, n)).catch((x: unknown) => x);
      expect((e as EnvelopeError).code, `cut at ${n}`).toBe('ERR_ENVELOPE_TRUNCATED');
    }
    // Mid-frame through the stream too (a few points per frame).
    for (const f of L.frames) for (const cut of [f.start + 1, f.start + 20, f.end - 1]) await expectRefused(provider, env.subarray(0, cut), 'ERR_ENVELOPE_TRUNCATED');
  });

  test('truncated inside the header (including empty input): TRUNCATED', async () => {
    for (let n = 0; n < L.headerEnd; n++) {
      const e = await decrypt(provider, env.subarray(0, n)).catch((x: unknown) => x);
      expect((e as EnvelopeError).code, `cut at ${n}`).toBe('ERR_ENVELOPE_TRUNCATED');
    }
    await expectRefused(provider, env.subarray(0, 0), 'ERR_ENVELOPE_TRUNCATED');
    await expectRefused(provider, env.subarray(0, 50), 'ERR_ENVELOPE_TRUNCATED');
  });

  test('bytes appended after the final frame: TRAILING_DATA', async () => {
    await expectRefused(provider, cat(env, Buffer.from([0])), 'ERR_ENVELOPE_TRAILING_DATA');
    await expectRefused(provider, cat(env, frame(3)), 'ERR_ENVELOPE_TRAILING_DATA');
    await expectRefused(provider, cat(env, env), 'ERR_ENVELOPE_TRAILING_DATA');
  });

  test('a frame from another message under the same data key: TAMPERED', async () => {
    // The cache hands both messages the same data key; the per-message content key and AAD differ.
    const cmm = new CachingMaterialsManager({ provider, maxAge: 60_000 });
    const a = await encrypt(cmm, context, plaintext, { frameSize: F });
    const b = await encrypt(cmm, context, plaintext, { frameSize: F });
    const La = layout(a);
    const Lb = layout(b);
    expect(a.subarray(La.edks[0]?.encryptedKey.start, La.edks[0]?.encryptedKey.end)).toEqual(b.subarray(Lb.edks[0]?.encryptedKey.start, Lb.edks[0]?.encryptedKey.end));
    const fa = (i: number) => a.subarray(La.frames[i]?.start, La.frames[i]?.end);
    const fb = (i: number) => b.subarray(Lb.frames[i]?.start, Lb.frames[i]?.end);
    await expectRefused(cmm, cat(a.subarray(0, La.headerEnd), fa(0), fb(1), fa(2), fa(3)), 'ERR_ENVELOPE_TAMPERED');
    await expectRefused(cmm, cat(a.subarray(0, La.headerEnd), fa(0), fa(1), fa(2), fb(3)), 'ERR_ENVELOPE_TAMPERED');
    // And b's header with a's frames.
    await expectRefused(cmm, cat(b.subarray(0, Lb.headerEnd), fa(0), fa(1), fa(2), fa(3)), 'ERR_ENVELOPE_TAMPERED');
  });

  test('no plaintext of a failing frame is released: the stream yields exactly the verified frames', async () => {
    const released = async (bad: Buffer) => {
      const d = decryptStream(provider);
      const out: Buffer[] = [];
      d.on('data', (c: Buffer) => out.push(c)); // flowing: every push is seen as it happens
      const failed = once(d, 'error');
      d.end(bad);
      const [e] = (await failed) as [EnvelopeError];
      expect(e.code).toBe('ERR_ENVELOPE_TAMPERED');
      return Buffer.concat(out);
    };
    expect((await released(flip(env, L.frames[2]?.tag.start ?? 0, 0))).equals(plaintext.subarray(0, 2 * F))).toBe(true);
    expect((await released(flip(env, L.frames[0]?.ciphertext.start ?? 0, 0))).length).toBe(0);
    expect((await released(flip(env, L.frames[3]?.ciphertext.start ?? 0, 0))).equals(plaintext.subarray(0, 3 * F))).toBe(true);
  });

  test('the header event and getter show only an authenticated header', async () => {
    const d = decryptStream(provider);
    let seen = 0;
    d.on('header', () => seen++);
    d.on('data', () => {});
    const failed = once(d, 'error');
    d.end(flip(env, L.headerTag.start, 0));
    const [e] = (await failed) as [EnvelopeError];
    expect(e.code).toBe('ERR_ENVELOPE_TAMPERED');
    expect(seen).toBe(0);
    expect(d.header).toBeUndefined();
  });

  test('the wrong encryption context demanded by the caller: CONTEXT_MISMATCH', async () => {
    await expectRefused(provider, env, 'ERR_ENVELOPE_CONTEXT_MISMATCH', { expectedContext: { purpose: 'other', n: '1' } });
  });

  test('the wrong provider (other wrapping keys under the same names): TAMPERED', async () => {
    const stranger = new InMemoryDataKeyProvider({ keys: { 'key-a': randomBytes(32) } });
    await expectRefused(stranger, env, 'ERR_ENVELOPE_TAMPERED');
  });
});
