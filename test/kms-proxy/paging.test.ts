// Listings through the API: ListKeys, ListAliases, ListGrants and ListRetirableGrants page from the
// store's indexes (Limit, NextMarker, Truncated as AWS answers them), every item exactly once in
// order whatever the page size; markers are opaque and belong to their listing. A listing of 1000
// items reads in chunks with turns of the event loop between them, List calls pass one at a time
// through a gate, and their quota is not the cryptographic operations' (tests assert behaviour;
// the costs are measured in bench/kms-scale.bench.ts).
import fc from 'fast-check';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKmsApp, readAuditRecords, type Credential, type KmsApp } from '../../kms-proxy/index.ts';
import { Gate, WorkPacer } from '../../kms-proxy/gate.ts';
import { LIST_CHUNK } from '../../kms-proxy/operations/types.ts';
import { signedRequest } from './sign.ts';
import { tempDir } from './helpers.ts';

const A: Credential = { accessKeyId: 'AKIAPAGINGA000000000', secretAccessKey: 'a', principalArn: 'arn:aws:iam::111122223333:user/a', account: '111122223333' };
const B: Credential = { accessKeyId: 'AKIAPAGINGB000000000', secretAccessKey: 'b', principalArn: 'arn:aws:iam::444455556666:user/b', account: '444455556666' };
const RETIRER = 'arn:aws:iam::111122223333:role/retirer';
const N = 37;

let k: KmsApp;
let dir: string;
const keys: string[] = [];
let grantKey = '';
const grants: string[] = [];

async function call(op: string, body: unknown, cred: Credential = A): Promise<{ status: number; json: Record<string, unknown> }> {
  const { url, init } = await signedRequest(cred, JSON.stringify(body), { target: `TrentService.${op}` });
  const res = await k.app.request(url, init);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  dir = tempDir('kms-paging-');
  k = await createKmsApp({ dataDir: dir, credentials: [A, B], quotas: { write: { rate: 1e6 }, list: { rate: 1e6 } } });
  for (let i = 0; i < N; i++) {
    const id = ((await call('CreateKey', {})).json.KeyMetadata as { KeyId: string }).KeyId;
    keys.push(id);
    if (i % 3 === 0) await call('CreateAlias', { AliasName: `alias/k-${String(i).padStart(2, '0')}`, TargetKeyId: id });
  }
  await call('CreateKey', {}, B);
  grantKey = keys[0] ?? '';
  for (let i = 0; i < 23; i++) {
    const r = await call('CreateGrant', { KeyId: grantKey, GranteePrincipal: `arn:aws:iam::111122223333:role/${i % 2 ? 'odd' : 'even'}`, Operations: ['Decrypt'], ...(i % 4 === 0 ? { RetiringPrincipal: RETIRER } : {}) });
    grants.push(r.json.GrantId as string);
  }
});
afterAll(async () => {
  await k.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Follows NextMarker to the end; checks Truncated against NextMarker on every page. */
async function collect(op: string, body: Record<string, unknown>, member: string, limit: number, cred: Credential = A): Promise<{ items: Record<string, unknown>[]; pages: number }> {
  const items: Record<string, unknown>[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const r = await call(op, { ...body, Limit: limit, ...(marker !== undefined ? { Marker: marker } : {}) }, cred);
    expect(r.status).toBe(200);
    const page = r.json[member] as Record<string, unknown>[];
    expect(page.length).toBeLessThanOrEqual(limit);
    expect(r.json.Truncated).toBe(r.json.NextMarker !== undefined);
    items.push(...page);
    marker = r.json.NextMarker as string | undefined;
    pages++;
  } while (marker !== undefined);
  return { items, pages };
}

describe('pages', () => {
  test('property: ListKeys with any Limit lists each of the account\'s keys once, in creation order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: N + 3 }), async (limit) => {
        const { items, pages } = await collect('ListKeys', {}, 'Keys', limit);
        expect(items.map((x) => x.KeyId)).toEqual(keys);
        expect(pages).toBe(Math.ceil(N / limit));
      }),
      { numRuns: 15 },
    );
  });

  test('ListAliases, with and without KeyId; ListGrants, with and without GranteePrincipal; ListRetirableGrants', async () => {
    const names = keys.flatMap((_id, i) => (i % 3 === 0 ? [`alias/k-${String(i).padStart(2, '0')}`] : []));
    expect((await collect('ListAliases', {}, 'Aliases', 4)).items.map((a) => a.AliasName)).toEqual(names);
    expect((await collect('ListAliases', { KeyId: keys[3] }, 'Aliases', 1)).items.map((a) => a.AliasName)).toEqual(['alias/k-03']);
    expect((await collect('ListGrants', { KeyId: grantKey }, 'Grants', 5)).items.map((g) => g.GrantId)).toEqual(grants);
    expect((await collect('ListGrants', { KeyId: grantKey, GranteePrincipal: 'arn:aws:iam::111122223333:role/odd' }, 'Grants', 3)).items.map((g) => g.GrantId)).toEqual(grants.filter((_g, i) => i % 2 === 1));
    expect((await collect('ListRetirableGrants', { RetiringPrincipal: RETIRER }, 'Grants', 2)).items.map((g) => g.GrantId)).toEqual(grants.filter((_g, i) => i % 4 === 0));
  });

  test('a page of 1000 holds all of them; Limit 0 or 1001 is ValidationException', async () => {
    const r = await call('ListKeys', { Limit: 1000 });
    expect([(r.json.Keys as unknown[]).length, r.json.Truncated, r.json.NextMarker]).toEqual([N, false, undefined]);
    for (const Limit of [0, 1001]) expect((await call('ListKeys', { Limit })).json.__type).toBe('ValidationException');
  });

  test('a List call\'s audit record carries no response elements (CloudTrail logs null), so a page is not copied into the log', async () => {
    const d = tempDir('kms-paging-');
    const one = await createKmsApp({ dataDir: d, credentials: [A] });
    const send = async (op: string, body: unknown) => {
      const { url, init } = await signedRequest(A, JSON.stringify(body), { target: `TrentService.${op}` });
      return one.app.request(url, init);
    };
    for (let i = 0; i < 3; i++) await send('CreateKey', {});
    expect((await send('ListKeys', { Limit: 1000 })).status).toBe(200);
    // Closing writes the last batch of the log.
    await one.close();
    const lines: string[] = [];
    for await (const e of readAuditRecords(d, { types: ['AwsApiCall'] })) if (e.record?.eventName === 'ListKeys') lines.push(JSON.stringify(e.record));
    rmSync(d, { recursive: true, force: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(':key/');
  });

  test('markers: garbage, an edited one, or another listing\'s is InvalidMarkerException; another account\'s lists only the caller\'s keys', async () => {
    const keysMarker = (await call('ListKeys', { Limit: 2 })).json.NextMarker as string;
    const aliasMarker = (await call('ListAliases', { Limit: 2 })).json.NextMarker as string;
    for (const [op, body] of [
      ['ListKeys', { Marker: 'garbage' }],
      ['ListKeys', { Marker: `${keysMarker.slice(0, -2)}zz` }],
      ['ListKeys', { Marker: aliasMarker }],
      ['ListAliases', { Marker: keysMarker }],
      ['ListGrants', { KeyId: grantKey, Marker: keysMarker }],
    ] as const) {
      expect((await call(op, body)).json.__type).toBe('InvalidMarkerException');
    }
    // A marker is a position only: account B following A's marker still sees only B's keys.
    const theirs = (await call('ListKeys', { Marker: keysMarker }, B)).json.Keys as { KeyArn: string }[];
    expect(theirs.every((x) => x.KeyArn.includes(':444455556666:key/'))).toBe(true);
  });
});

describe('List calls and the event loop', () => {
  test(`a 1000-item page is read in chunks (${LIST_CHUNK} items), with turns of the event loop between them`, async () => {
    let turns = 0;
    let done = false;
    const turn = () => {
      if (done) return;
      turns++;
      setImmediate(turn);
    };
    const many = await createKmsApp({ dataDir: tempDir('kms-paging-'), credentials: [A] });
    try {
      const svc = many.service;
      await svc.store.createKeys(
        Array.from({ length: 1000 }, (_v, i) => {
          const keyId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
          return { key: { keyId, arn: svc.keyArn({ account: A.account, region: svc.region }, keyId), account: A.account, region: svc.region, creationDate: 0, description: '', keySpec: 'SYMMETRIC_DEFAULT' as const, keyUsage: 'ENCRYPT_DECRYPT' as const, origin: 'AWS_KMS' as const, state: 'Enabled' as const, policy: '{}', rotationEnabled: false, tags: [] } };
        }),
      );
      const { url, init } = await signedRequest(A, JSON.stringify({ Limit: 1000 }), { target: 'TrentService.ListKeys' });
      const req = many.app.request(url, init);
      setImmediate(turn);
      const res = await req;
      done = true;
      expect(((await res.json()) as { Keys: unknown[] }).Keys).toHaveLength(1000);
      // Other work ran several times while the page was read (one read would give it no turn).
      expect(turns).toBeGreaterThanOrEqual(5);
    } finally {
      await many.close();
    }
  });

  test('the gate runs one at a time, in order; past its waiting room a call is ThrottlingException at once; a failure frees its place', async () => {
    const gate = new Gate(1, 2);
    const order: number[] = [];
    let release: () => void = () => undefined;
    const first = gate.run(() => new Promise<void>((r) => (release = () => r())).then(() => order.push(1)));
    const second = gate.run(async () => order.push(2));
    const third = gate.run(async () => {
      order.push(3);
      throw new Error('boom');
    });
    expect(gate.waiting).toBe(2);
    await expect(gate.run(async () => order.push(4))).rejects.toMatchObject({ code: 'ERR_KMS_THROTTLING', message: 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.' });
    release();
    await first;
    await second;
    await expect(third).rejects.toThrow('boom');
    await gate.run(async () => order.push(5));
    expect(order).toEqual([1, 2, 3, 5]);
    expect(gate.waiting).toBe(0);
  });

  test('the pacer: chunks within the burst get a turn of the event loop; past its share of the time, listing waits for the share to refill', async () => {
    let now = 0;
    const waits: number[] = [];
    const pacer = new WorkPacer(0.5, 50, () => now, async (ms) => {
      waits.push(ms);
      now += ms;
    });
    const chunk = async (ms: number, more = true) => {
      pacer.begin();
      now += ms;
      await pacer.end(more);
    };
    // Within the 50 ms burst (which refills at half speed while it is spent): no waiting.
    for (let i = 0; i < 9; i++) await chunk(10);
    expect(waits).toEqual([]);
    // A flood of chunks: listing ends up busy half of the time, the rest is left to other work.
    for (let i = 0; i < 200; i++) await chunk(10);
    const busy = 209 * 10;
    const waited = waits.reduce((a, b) => a + b, 0);
    expect(busy / (busy + waited)).toBeGreaterThan(0.5);
    expect(busy / (busy + waited)).toBeLessThan(0.53);
    // The last chunk of a page does not wait; it is counted against the next page.
    const before = waits.length;
    await chunk(10, false);
    expect(waits).toHaveLength(before);
  });

  test('a List flood that empties the list quota leaves the cryptographic quota of the same account whole', async () => {
    const d = tempDir('kms-paging-');
    const q = await createKmsApp({ dataDir: d, credentials: [A], quotas: { list: { rate: 0.001, burst: 3 }, cryptographic: { rate: 0.001, burst: 3 } } });
    try {
      const send = async (op: string, body: unknown) => {
        const { url, init } = await signedRequest(A, JSON.stringify(body), { target: `TrentService.${op}` });
        return (await (await q.app.request(url, init)).json()) as Record<string, unknown>;
      };
      const call2 = async (op: string, body: unknown) => (await send(op, body)).__type;
      const id = ((await send('CreateKey', {})).KeyMetadata as { KeyId: string }).KeyId;
      const flood = await Promise.all(Array.from({ length: 20 }, () => call2('ListKeys', {})));
      expect(flood.filter((t) => t === 'ThrottlingException')).toHaveLength(17);
      // Throttled before the body is read: even a malformed one is ThrottlingException, not parsed.
      expect(await call2('ListKeys', { Limit: 'not a number' })).toBe('ThrottlingException');
      for (let i = 0; i < 3; i++) expect(await call2('Encrypt', { KeyId: id, Plaintext: 'AA==' })).toBeUndefined();
      expect(await call2('Encrypt', { KeyId: id, Plaintext: 'AA==' })).toBe('ThrottlingException');
    } finally {
      await q.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
