// Round trips at the sizes where framing changes (0, 1, frame − 1, frame, frame + 1, several
// frames), through both paths and across them (stream-encrypted → one-shot-decrypted and back),
// with the framing the format promises: full regular frames, then one final frame of 0 … frameSize.
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  EnvelopeError,
  InMemoryDataKeyProvider,
  DEFAULT_FRAME_SIZE,
  type EnvelopeInfo,
} from '../../enclave/envelope/index.ts';
import { decryptStreamed, encryptStreamed, layout } from './helpers.ts';

const provider = new InMemoryDataKeyProvider();
const context = { purpose: 'test', tenant: 'acme' };
const F = 64;
const sizes = [0, 1, F - 1, F, F + 1, 2 * F, 5 * F + 3];

describe('round trips (one-shot and streamed)', () => {
  for (const n of sizes) {
    test(`${n} bytes with ${F}-byte frames`, async () => {
      const plaintext = randomBytes(n);
      const a = await encrypt(provider, context, plaintext, { frameSize: F });
      const b = await encryptStreamed(provider, context, plaintext, { frameSize: F }, 13);
      // Same framing either way: the envelopes differ only in message id and keys.
      expect(b.length).toBe(a.length);
      for (const env of [a, b]) {
        const one = await decrypt(provider, env);
        expect(one.plaintext.equals(plaintext)).toBe(true);
        expect(one.context).toEqual(context);
        const s = await decryptStreamed(provider, env, {}, 5);
        expect(s.error).toBeUndefined();
        expect(s.plaintext.equals(plaintext)).toBe(true);
      }
      // Full regular frames while more than a frame remains, then one final frame (0 … F bytes).
      const frames = layout(a).frames;
      const regular = n === 0 ? 0 : Math.ceil(n / F) - 1;
      expect(frames.length).toBe(regular + 1);
      expect(frames.slice(0, -1).every((f) => !f.final && f.ciphertext.end - f.ciphertext.start === F)).toBe(true);
      const last = frames.at(-1);
      expect(last?.final).toBe(true);
      expect((last?.ciphertext.end ?? 0) - (last?.ciphertext.start ?? 0)).toBe(n - regular * F);
      expect(frames.at(-1)?.end).toBe(a.length);
    });
  }

  test('frame − 1, frame, frame + 1 bytes at the default frame size (1 MiB), streamed and one-shot', async () => {
    for (const n of [DEFAULT_FRAME_SIZE - 1, DEFAULT_FRAME_SIZE, DEFAULT_FRAME_SIZE + 1]) {
      const plaintext = randomBytes(n);
      const env = await encryptStreamed(provider, context, plaintext, {}, 64 * 1024);
      expect(layout(env).frames.length).toBe(n > DEFAULT_FRAME_SIZE ? 2 : 1);
      expect((await decrypt(provider, env)).plaintext.equals(plaintext)).toBe(true);
      const s = await decryptStreamed(provider, await encrypt(provider, context, plaintext), {}, 64 * 1024);
      expect(s.error).toBeUndefined();
      expect(s.plaintext.equals(plaintext)).toBe(true);
    }
  });

  test('the default frame size is used when none is given, and chunking of the input does not matter', async () => {
    const plaintext = randomBytes(DEFAULT_FRAME_SIZE + 10);
    for (const chunk of [1 << 20, 4096, 777]) {
      const env = await encryptStreamed(provider, {}, plaintext, {}, chunk);
      expect(env.readUInt32BE(7)).toBe(DEFAULT_FRAME_SIZE);
      expect((await decrypt(provider, env)).plaintext.equals(plaintext)).toBe(true);
    }
  });

  test('byte-at-a-time input on both sides (header and frames split everywhere)', async () => {
    const plaintext = randomBytes(3 * F + 7);
    const env = await encryptStreamed(provider, { k: 'v'.repeat(300) }, plaintext, { frameSize: F }, 1);
    const s = await decryptStreamed(provider, env, {}, 1);
    expect(s.error).toBeUndefined();
    expect(s.plaintext.equals(plaintext)).toBe(true);
  });

  test('backpressure: an unread stream stops accepting writes after about one frame', async () => {
    const frameSize = 64 * 1024;
    const enc = encryptStream(provider, {}, { frameSize });
    let written = 0;
    const chunk = randomBytes(4096);
    // Nobody reads: write() must start returning false once a frame or so is buffered.
    while (enc.write(chunk)) {
      written += chunk.length;
      if (written > 64 * frameSize) break;
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r));
    expect(written).toBeLessThan(4 * frameSize);
    expect(enc.readableLength).toBeLessThan(2 * frameSize);
    enc.destroy();

    const env = await encrypt(provider, {}, randomBytes(40 * frameSize), { frameSize });
    const dec = decryptStream(provider);
    let fed = 0;
    for (let o = 0; o < env.length; o += 4096) {
      const ok = dec.write(env.subarray(o, o + 4096));
      fed += 4096;
      await new Promise((r) => setImmediate(r));
      if (!ok) break;
    }
    expect(fed).toBeLessThan(6 * frameSize);
    expect(dec.readableLength).toBeLessThan(3 * frameSize);
    dec.destroy();
  });

  test('the decrypt stream exposes the header (context, frame size, key) before any plaintext', async () => {
    const env = await encrypt(provider, context, Buffer.from('hello'), { frameSize: 16 });
    const d = decryptStream(provider);
    const seen: EnvelopeInfo[] = [];
    d.on('header', (h: EnvelopeInfo) => seen.push(h));
    d.end(env);
    const out: Buffer[] = [];
    for await (const c of d) out.push(c as Buffer);
    expect(Buffer.concat(out).toString()).toBe('hello');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.context).toEqual(context);
    expect(seen[0]?.frameSize).toBe(16);
    expect(seen[0]?.encryptedDataKeys[0]?.providerId).toBe('in-memory');
    expect(seen[0]?.encryptedDataKeys[0]?.keyId).toBe(provider.keyId);
    expect(d.header?.messageId).toHaveLength(32);
  });

  test('two encryptions of the same plaintext differ (fresh message id and data key)', async () => {
    const p = Buffer.from('same');
    const a = await encrypt(provider, context, p);
    const b = await encrypt(provider, context, p);
    expect(a.equals(b)).toBe(false);
    expect(layout(a).messageId).toEqual(layout(b).messageId); // same offsets …
    expect(a.subarray(11, 43).equals(b.subarray(11, 43))).toBe(false); // … different ids
  });

  test('declared plaintextLength: writing more is refused with ERR_ENVELOPE_LIMIT', async () => {
    const err = await encryptStreamed(provider, {}, randomBytes(100), { plaintextLength: 99 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvelopeError);
    expect((err as EnvelopeError).code).toBe('ERR_ENVELOPE_LIMIT');
    // Exactly the declared length, or less, is fine.
    const env = await encryptStreamed(provider, {}, randomBytes(100), { plaintextLength: 100 });
    expect((await decrypt(provider, env)).plaintext).toHaveLength(100);
  });

  test('bad arguments are refused synchronously with ERR_ENVELOPE_INVALID_ARGUMENT', () => {
    const bad: [string, () => unknown][] = [
      ['frame size 0', () => encryptStream(provider, {}, { frameSize: 0 })],
      ['frame size above 16 MiB', () => encryptStream(provider, {}, { frameSize: 16 * 1024 * 1024 + 1 })],
      ['fractional frame size', () => encryptStream(provider, {}, { frameSize: 1.5 })],
      ['negative plaintextLength', () => encryptStream(provider, {}, { plaintextLength: -1 })],
      ['non-string context value', () => encryptStream(provider, { a: 1 as unknown as string })],
      ['empty context key', () => encryptStream(provider, { '': 'x' })],
      ['lone surrogate in context', () => encryptStream(provider, { a: '\ud800' })],
      ['context value over 65535 bytes', () => encryptStream(provider, { a: 'x'.repeat(65536) })],
      ['not a key source', () => encryptStream({} as never, {})],
      ['bad decrypt limit', () => decryptStream(provider, { maxFrameSize: 0 })],
      ['bad contextMatch', () => decryptStream(provider, { contextMatch: 'prefix' as never })],
    ];
    for (const [what, fn] of bad) {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(EnvelopeError);
      expect((err as EnvelopeError).code, what).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
    }
  });

  test('expectedContext: exact by default, subset on request; a mismatch is ERR_ENVELOPE_CONTEXT_MISMATCH before the provider is asked', async () => {
    let decrypts = 0;
    const watched = {
      providerId: provider.providerId,
      generateDataKey: provider.generateDataKey.bind(provider),
      decryptDataKey: (k: Uint8Array, id: string, c: Record<string, string>) => {
        decrypts++;
        return provider.decryptDataKey(k, id, c);
      },
    };
    const env = await encrypt(watched, context, Buffer.from('x'));
    expect((await decrypt(watched, env, { expectedContext: context })).plaintext.toString()).toBe('x');
    expect((await decrypt(watched, env, { expectedContext: { tenant: 'acme' }, contextMatch: 'subset' })).plaintext.toString()).toBe('x');
    expect(decrypts).toBe(2);
    for (const [expectedContext, contextMatch] of [
      [{ tenant: 'acme' }, 'exact'],
      [{ ...context, extra: '1' }, 'exact'],
      [{ tenant: 'other' }, 'subset'],
      [{ ...context, purpose: 'Test' }, 'exact'],
    ] as const) {
      const err = await decrypt(watched, env, { expectedContext, contextMatch }).catch((e: unknown) => e);
      expect((err as EnvelopeError).code).toBe('ERR_ENVELOPE_CONTEXT_MISMATCH');
    }
    expect(decrypts).toBe(2);
  });
});

describe('key sources that misbehave get typed errors', () => {
  const code = (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => (e as EnvelopeError).code);

  test('a provider that throws, or returns a short key or no encrypted key: ERR_ENVELOPE_DATA_KEY', async () => {
    const throwing = { providerId: 'x', generateDataKey: async () => { throw new Error('boom'); }, decryptDataKey: async () => { throw new Error('boom'); } };
    expect(await code(encrypt(throwing, {}, Buffer.from('a')))).toBe('ERR_ENVELOPE_DATA_KEY');
    const short = { providerId: 'x', generateDataKey: async () => ({ plaintextKey: new Uint8Array(16), encryptedKey: new Uint8Array(4), keyId: 'k' }), decryptDataKey: async () => new Uint8Array(16) };
    expect(await code(encrypt(short, {}, Buffer.from('a')))).toBe('ERR_ENVELOPE_DATA_KEY');
    const noEdk = { providerId: 'x', generateDataKey: async () => ({ plaintextKey: new Uint8Array(32), encryptedKey: new Uint8Array(0), keyId: 'k' }), decryptDataKey: async () => new Uint8Array(32) };
    expect(await code(encrypt(noEdk, {}, Buffer.from('a')))).toBe('ERR_ENVELOPE_DATA_KEY');
    const env = await encrypt(provider, {}, Buffer.from('a'));
    const same = { ...throwing, providerId: provider.providerId };
    expect(await code(decrypt(same, env))).toBe('ERR_ENVELOPE_DATA_KEY');
    const shortDecrypt = { ...short, providerId: provider.providerId };
    expect(await code(decrypt(shortDecrypt, env))).toBe('ERR_ENVELOPE_DATA_KEY');
  });

  test("the provider's plaintext data keys are zeroed once copied (generate and decrypt), a wrong-sized one too", async () => {
    const handedOut: Uint8Array[] = [];
    const watched = {
      providerId: provider.providerId,
      generateDataKey: async (c: Record<string, string>) => {
        const g = await provider.generateDataKey(c);
        handedOut.push(g.plaintextKey);
        return g;
      },
      decryptDataKey: async (k: Uint8Array, id: string, c: Record<string, string>) => {
        const key = await provider.decryptDataKey(k, id, c);
        handedOut.push(key);
        return key;
      },
    };
    const plaintext = randomBytes(100);
    const env = await encrypt(watched, context, plaintext);
    expect((await decrypt(watched, env)).plaintext.equals(plaintext)).toBe(true);
    expect(handedOut).toHaveLength(2);
    for (const k of handedOut) expect(k.every((b) => b === 0)).toBe(true);
    const long = new Uint8Array(33).fill(7);
    const wrongSize = { ...watched, decryptDataKey: async () => long };
    expect(await code(decrypt(wrongSize, env))).toBe('ERR_ENVELOPE_DATA_KEY');
    expect(long.every((b) => b === 0)).toBe(true);
  });

  test('a custom materials manager that throws a plain error: ERR_ENVELOPE_DATA_KEY', async () => {
    const mm = { encryptionMaterials: async () => { throw new Error('nope'); }, decryptionKey: async () => { throw new Error('nope'); } };
    expect(await code(encrypt(mm, {}, Buffer.from('a')))).toBe('ERR_ENVELOPE_DATA_KEY');
    expect(await code(decrypt(mm, await encrypt(provider, {}, Buffer.from('a'))))).toBe('ERR_ENVELOPE_DATA_KEY');
    const s = await encryptStreamed(mm, {}, Buffer.from('abc')).then(() => 'accepted', (e: unknown) => (e as EnvelopeError).code);
    expect(s).toBe('ERR_ENVELOPE_DATA_KEY');
  });
});
