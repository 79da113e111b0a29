// The data-key cache (CachingMaterialsManager), after the ESDK's NodeCachingMaterialsManager:
// limits on age, bytes and messages per data key, an LRU bound, and concurrency. Every assertion
// counts the provider's calls (what would be KMS GenerateDataKey / Decrypt calls) and checks which
// encrypted data key each envelope carries.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, test } from 'vitest';
import {
  CachingMaterialsManager,
  decrypt,
  encrypt,
  encryptStream,
  EnvelopeError,
  InMemoryDataKeyProvider,
  type DataKeyProvider,
} from '../../enclave/envelope/index.ts';
import { counting, layout } from './helpers.ts';

const base = new InMemoryDataKeyProvider();
/** The encrypted data key an envelope carries, as a string to compare. */
const edkOf = (env: Buffer) => {
  const r = layout(env).edks[0]?.encryptedKey;
  return env.subarray(r?.start, r?.end).toString('base64');
};
const groupSizes = (envs: Buffer[]) => {
  const m = new Map<string, number>();
  for (const e of envs) m.set(edkOf(e), (m.get(edkOf(e)) ?? 0) + 1);
  return [...m.values()];
};

describe('encryption limits', () => {
  test('maxMessagesEncrypted: a key serves at most that many messages', async () => {
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxMessagesEncrypted: 3 });
    const envs: Buffer[] = [];
    for (let i = 0; i < 7; i++) envs.push(await encrypt(cmm, { a: '1' }, Buffer.from([i])));
    expect(p.calls.generate).toBe(3);
    expect(groupSizes(envs)).toEqual([3, 3, 1]);
    for (const [i, e] of envs.entries()) expect((await decrypt(base, e)).plaintext[0]).toBe(i);
  });

  test('maxBytesEncrypted: a key encrypts at most that many bytes; exactly the limit is allowed', async () => {
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxBytesEncrypted: 1000 });
    const envs: Buffer[] = [];
    for (let i = 0; i < 5; i++) envs.push(await encrypt(cmm, {}, randomBytes(400)));
    expect(p.calls.generate).toBe(3); // 400 + 400, 400 + 400, 400
    expect(groupSizes(envs)).toEqual([2, 2, 1]);
    const q = counting(base);
    const exact = new CachingMaterialsManager({ provider: q, maxAge: 60_000, maxBytesEncrypted: 1000 });
    await encrypt(exact, {}, randomBytes(600));
    await encrypt(exact, {}, randomBytes(400));
    expect(q.calls.generate).toBe(1);
    await encrypt(exact, {}, randomBytes(1));
    expect(q.calls.generate).toBe(2);
  });

  test('a message larger than maxBytesEncrypted gets a fresh key that is never cached (as the ESDK)', async () => {
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxBytesEncrypted: 100 });
    const a = await encrypt(cmm, {}, randomBytes(101));
    const b = await encrypt(cmm, {}, randomBytes(101));
    expect(p.calls.generate).toBe(2);
    expect(edkOf(a)).not.toBe(edkOf(b));
    expect(cmm.size.encrypt).toBe(0);
  });

  test('maxAge with an injected clock: usable while age <= maxAge, replaced after', async () => {
    let now = 1_000_000;
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 1000, clock: () => now });
    const a = await encrypt(cmm, {}, Buffer.from('a'));
    now += 1000;
    const b = await encrypt(cmm, {}, Buffer.from('b'));
    expect(p.calls.generate).toBe(1);
    expect(edkOf(b)).toBe(edkOf(a));
    now += 1;
    const c = await encrypt(cmm, {}, Buffer.from('c'));
    expect(p.calls.generate).toBe(2);
    expect(edkOf(c)).not.toBe(edkOf(a));
  });

  test('a stream of unknown length bypasses the cache; with plaintextLength it is counted', async () => {
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxBytesEncrypted: 250 });
    const run = async (opts: { plaintextLength?: number }) => {
      const out: Buffer[] = [];
      await pipeline(Readable.from([randomBytes(100)]), encryptStream(cmm, { s: '1' }, opts), async (src: AsyncIterable<Buffer>) => {
        for await (const c of src) out.push(c);
      });
      return Buffer.concat(out);
    };
    await run({});
    await run({});
    expect(p.calls.generate).toBe(2);
    expect(cmm.size.encrypt).toBe(0);
    const x = await run({ plaintextLength: 100 });
    const y = await run({ plaintextLength: 100 });
    expect(p.calls.generate).toBe(3);
    expect(edkOf(x)).toBe(edkOf(y));
    await run({ plaintextLength: 100 }); // 300 > 250: a new key
    expect(p.calls.generate).toBe(4);
  });

  test('entries are per context (canonical: key order does not matter)', async () => {
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000 });
    const a = await encrypt(cmm, { x: '1', y: '2' }, Buffer.from('a'));
    const b = await encrypt(cmm, { y: '2', x: '1' }, Buffer.from('b'));
    const c = await encrypt(cmm, { x: '1', y: '3' }, Buffer.from('c'));
    await encrypt(cmm, {}, Buffer.from('d'));
    expect(p.calls.generate).toBe(3);
    expect(edkOf(a)).toBe(edkOf(b));
    expect(edkOf(c)).not.toBe(edkOf(a));
    expect((await decrypt(base, c, { expectedContext: { x: '1', y: '3' } })).plaintext.toString()).toBe('c');
  });

  test('LRU bound: at most `capacity` contexts are kept, the least recently used goes first', async () => {
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000, capacity: 2 });
    const use = (k: string) => encrypt(cmm, { k }, Buffer.from(k));
    await use('A'); // gen 1
    await use('B'); // gen 2
    await use('A'); // hit: A is now the most recent
    await use('C'); // gen 3, evicts B
    expect(cmm.size.encrypt).toBe(2);
    await use('A'); // hit
    expect(p.calls.generate).toBe(3);
    await use('B'); // gen 4 (was evicted), evicts C
    await use('C'); // gen 5
    expect(p.calls.generate).toBe(5);
    expect(cmm.size.encrypt).toBe(2);
  });
});

describe('concurrency', () => {
  test('concurrent encrypts of one context share a single in-flight GenerateDataKey', async () => {
    const p = counting(base, 20);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000 });
    const envs = await Promise.all(Array.from({ length: 50 }, (_, i) => encrypt(cmm, { c: '1' }, Buffer.from([i]))));
    expect(p.calls.generate).toBe(1);
    expect(groupSizes(envs)).toEqual([50]);
  });

  test('under concurrency the message limit is never exceeded and no more keys are made than needed', async () => {
    const p = counting(base, 10);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxMessagesEncrypted: 4 });
    const envs = await Promise.all(Array.from({ length: 10 }, (_, i) => encrypt(cmm, {}, Buffer.from([i]))));
    expect(p.calls.generate).toBe(3);
    expect(groupSizes(envs).sort()).toEqual([2, 4, 4]);
  });

  test('under concurrency the byte limit is never exceeded', async () => {
    const p = counting(base, 5);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxBytesEncrypted: 1000 });
    const envs = await Promise.all(Array.from({ length: 10 }, () => encrypt(cmm, {}, randomBytes(300))));
    for (const n of groupSizes(envs)) expect(n * 300).toBeLessThanOrEqual(1000);
    expect(p.calls.generate).toBe(4);
  });

  test('a failing GenerateDataKey fails every waiter with ERR_ENVELOPE_DATA_KEY once, and is not cached', async () => {
    let calls = 0;
    let fail = true;
    const flaky: DataKeyProvider = {
      providerId: base.providerId,
      generateDataKey: async (c) => {
        calls++;
        await new Promise((r) => setTimeout(r, 10));
        if (fail) throw new Error('AccessDeniedException');
        return base.generateDataKey(c);
      },
      decryptDataKey: (k, id, c) => base.decryptDataKey(k, id, c),
    };
    const cmm = new CachingMaterialsManager({ provider: flaky, maxAge: 60_000 });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => encrypt(cmm, {}, Buffer.from('x'))));
    expect(calls).toBe(1);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(((r as PromiseRejectedResult).reason as EnvelopeError).code).toBe('ERR_ENVELOPE_DATA_KEY');
    }
    fail = false;
    await encrypt(cmm, {}, Buffer.from('x'));
    expect(calls).toBe(2);
  });
});

describe('decryption cache', () => {
  test('decrypted data keys are reused per encrypted key + context, concurrently too', async () => {
    const p = counting(base, 10);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000 });
    const env = await encrypt(base, { d: '1' }, Buffer.from('hello'));
    await Promise.all(Array.from({ length: 20 }, () => decrypt(cmm, env)));
    await decrypt(cmm, env);
    expect(p.calls.decrypt).toBe(1);
    // Another envelope under the same data key (made through an encryption cache) is a hit too.
    const enc = new CachingMaterialsManager({ provider: base, maxAge: 60_000 });
    const e1 = await encrypt(enc, { d: '2' }, Buffer.from('one'));
    const e2 = await encrypt(enc, { d: '2' }, Buffer.from('two'));
    expect((await decrypt(cmm, e1)).plaintext.toString()).toBe('one');
    expect((await decrypt(cmm, e2)).plaintext.toString()).toBe('two');
    expect(p.calls.decrypt).toBe(2);
  });

  test('a changed encrypted key is a miss that the provider refuses (never served from the cache)', async () => {
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 60_000 });
    const env = await encrypt(base, {}, Buffer.from('x'));
    await decrypt(cmm, env);
    const r = layout(env).edks[0]?.encryptedKey;
    const bad = Buffer.from(env);
    const i = (r?.start ?? 0) + 20;
    bad[i] = (bad[i] as number) ^ 1;
    const e = await decrypt(cmm, bad).catch((x: unknown) => x);
    expect((e as EnvelopeError).code).toBe('ERR_ENVELOPE_TAMPERED');
    expect(p.calls.decrypt).toBe(2);
  });

  test('decrypted keys expire after maxAge and are LRU-bounded by decryptCapacity', async () => {
    let now = 0;
    const p = counting(base);
    const cmm = new CachingMaterialsManager({ provider: p, maxAge: 500, decryptCapacity: 2, clock: () => now });
    const envs = await Promise.all(['A', 'B', 'C'].map((k) => encrypt(base, { k }, Buffer.from(k))));
    const [A, B, C] = envs as [Buffer, Buffer, Buffer];
    await decrypt(cmm, A);
    await decrypt(cmm, B);
    await decrypt(cmm, A); // hit
    expect(p.calls.decrypt).toBe(2);
    await decrypt(cmm, C); // evicts B
    expect(cmm.size.decrypt).toBe(2);
    await decrypt(cmm, B);
    expect(p.calls.decrypt).toBe(4);
    now += 501;
    await decrypt(cmm, B);
    expect(p.calls.decrypt).toBe(5);
  });
});

test('bad cache options are refused with ERR_ENVELOPE_INVALID_ARGUMENT', () => {
  const bad = [
    { maxAge: 0 },
    { maxAge: Number.POSITIVE_INFINITY },
    { maxAge: 1, maxMessagesEncrypted: 0 },
    { maxAge: 1, maxMessagesEncrypted: 2 ** 32 + 1 },
    { maxAge: 1, maxBytesEncrypted: -5 },
    { maxAge: 1, capacity: 0 },
    { maxAge: 1, decryptCapacity: 1.5 },
  ];
  for (const o of bad) {
    let err: unknown;
    try {
      new CachingMaterialsManager({ provider: base, ...o });
    } catch (e) {
      err = e;
    }
    expect((err as EnvelopeError).code, JSON.stringify(o)).toBe('ERR_ENVELOPE_INVALID_ARGUMENT');
  }
  expect(() => new CachingMaterialsManager({ provider: {} as DataKeyProvider, maxAge: 1 })).toThrow(EnvelopeError);
});

test('a key used up by its first message is not kept in the cache', async () => {
  const p = counting(base);
  const one = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxMessagesEncrypted: 1 });
  await encrypt(one, {}, Buffer.from('a'));
  expect(one.size.encrypt).toBe(0);
  await encrypt(one, {}, Buffer.from('b'));
  expect(p.calls.generate).toBe(2);
  const full = new CachingMaterialsManager({ provider: p, maxAge: 60_000, maxBytesEncrypted: 10 });
  await encrypt(full, {}, randomBytes(10));
  expect(full.size.encrypt).toBe(0);
  await encrypt(full, {}, randomBytes(9));
  expect(full.size.encrypt).toBe(1);
});
