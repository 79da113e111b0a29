// What the PostgreSQL store adds for replicas (store/postgres.ts, store/coordination.ts), tested on
// two stores opened on one database as two replicas would: the read barrier, the maintenance lock,
// shared quota buckets, the listener's loss and return, and the master key and schema checks. The
// KeyStore contract itself runs on PostgreSQL in keystore.test.ts.
import { rmSync } from 'node:fs';
import { afterAll, expect, test } from 'vitest';
import { PostgresKeyStore, type KeyRecord } from '../../kms-proxy/index.ts';
import { onDatabase, postgresDatabase } from '../support/pg-database.ts';
import { tempDir } from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function key(id: string, over: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyId: id, arn: `arn:aws:kms:us-east-1:111122223333:key/${id}`, account: '111122223333', region: 'us-east-1', creationDate: 1, description: '',
    keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', state: 'Enabled', policy: '{}', rotationEnabled: false, tags: [], ...over,
  };
}

async function twoStores(): Promise<{ a: PostgresKeyStore; b: PostgresKeyStore; url: string; dir: string }> {
  const dir = tempDir('kms-pg-store-');
  dirs.push(dir);
  const url = await postgresDatabase();
  const a = await PostgresKeyStore.open({ url, dataDir: dir });
  const b = await PostgresKeyStore.open({ url, dataDir: dir, onEvent: () => undefined });
  return { a, b, url, dir };
}

test('read barrier: after sync(), a store sees every change another store committed before it, though it had the key cached', async () => {
  const { a, b } = await twoStores();
  await a.createKey(key('k'));
  for (let i = 0; i < 30; i++) {
    expect((await b.getKey({ keyId: 'k', region: 'us-east-1' }))?.description).toBe(i === 0 ? '' : `v${i - 1}`);
    await a.putKey(key('k', { description: `v${i}` }));
    await b.coordination.sync();
    expect((await b.getKey({ keyId: 'k', region: 'us-east-1' }))?.description).toBe(`v${i}`);
  }
  await a.close();
  await b.close();
});

test('read barrier by receipt time: a call received after a change sees it, though a barrier that returned meanwhile was sent before the change; calls received before a barrier is sent share it', async () => {
  const { a, b } = await twoStores();
  await a.createKey(key('r'));
  const at = { keyId: 'r', region: 'us-east-1' };
  for (let i = 0; i < 30; i++) {
    // A barrier for a call received now returns, with the key cached as it is…
    await b.coordination.sync(performance.now());
    expect((await b.getKey(at))?.description).toBe(i === 0 ? '' : `v${i - 1}`);
    // …then another store changes it: a call received after that needs a barrier sent after it.
    await a.putKey(key('r', { description: `v${i}` }));
    const received = performance.now();
    // Several calls received together, before any barrier for them is sent, share one.
    await Promise.all([b.coordination.sync(received), b.coordination.sync(received), b.coordination.sync()]);
    expect((await b.getKey(at))?.description).toBe(`v${i}`);
  }
  await a.close();
  await b.close();
});

test('exclusive: one store runs the work at a time; the other skips it (undefined), and runs it once the first is done', async () => {
  const { a, b } = await twoStores();
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  let entered: () => void = () => undefined;
  const inside = new Promise<void>((r) => (entered = r));
  const first = a.coordination.exclusive('maintenance', async () => {
    entered();
    await held;
    return 'a';
  });
  // Once a runs the work it holds the lock: b's attempt does not run.
  await inside;
  let ran = false;
  const r = await b.coordination.exclusive('maintenance', async () => {
    ran = true;
    return 'b';
  });
  expect(r).toBeUndefined();
  expect(ran).toBe(false);
  release();
  expect(await first).toBe('a');
  expect(await b.coordination.exclusive('maintenance', async () => 'b')).toBe('b');
  await a.close();
  await b.close();
});

test('shared quota buckets: stores leasing concurrently from one bucket never get more than it holds', async () => {
  const { a, b } = await twoStores();
  const quota = { rate: 0.001, burst: 25 };
  const grants = await Promise.all(Array.from({ length: 20 }, (_v, i) => (i % 2 === 0 ? a : b).coordination.leaseTokens('111122223333', 'cryptographic', 3, quota)));
  expect(grants.reduce((x, y) => x + y, 0)).toBe(25);
  expect(grants.every((g) => g >= 0 && g <= 3)).toBe(true);
  // Another account's bucket is its own.
  expect(await a.coordination.leaseTokens('444455556666', 'cryptographic', 3, quota)).toBe(3);
  await a.close();
  await b.close();
});

test('a store whose listener connection is lost refuses sync() (KMSInternalException), drops its caches, and serves again once it reconnected', async () => {
  const { a, b, url } = await twoStores();
  await a.createKey(key('l'));
  expect((await b.getKey({ keyId: 'l', region: 'us-east-1' }))?.state).toBe('Enabled');
  // Every listener's backend on this database is ended, as a database restart or a network cut
  // would end it (only this one: the server is shared with other test files running meanwhile).
  await onDatabase(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'nitro-sandbox-kms-listener' AND datname = current_database()");
  // A change made while b cannot hear about it.
  await a.putKey(key('l', { state: 'Disabled' }));
  let refused = 0;
  for (;;) {
    try {
      await b.coordination.sync();
      break;
    } catch (e) {
      expect(e).toMatchObject({ awsName: 'KMSInternalException', code: 'ERR_KMS_STORE_UNAVAILABLE' });
      refused++;
      await new Promise((r) => setImmediate(r));
    }
  }
  // Whether the loss was seen by a failing barrier (`refused`) or by the connection's end before
  // any, the reconnected store dropped what it had cached: the change it never heard of is read.
  expect((await b.getKey({ keyId: 'l', region: 'us-east-1' }))?.state).toBe('Disabled');
  await a.close();
  await b.close();
});

test('the master key and the schema are checked: another master key, a missing one, a newer schema are refused', async () => {
  const { a, url, dir } = await twoStores();
  await a.close();
  const other = tempDir('kms-pg-other-');
  dirs.push(other);
  // A directory without master.key beside a database that has a store: never a new key.
  await expect(PostgresKeyStore.open({ url, dataDir: other })).rejects.toMatchObject({ code: 'ERR_KMS_MASTER_KEY_MISSING' });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${other}/master.key`, Buffer.alloc(32, 7));
  await expect(PostgresKeyStore.open({ url, dataDir: other })).rejects.toMatchObject({ code: 'ERR_KMS_MASTER_KEY_MISMATCH' });
  await onDatabase(url, 'UPDATE schema_version SET version = 99');
  await expect(PostgresKeyStore.open({ url, dataDir: dir })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_VERSION' });
});
