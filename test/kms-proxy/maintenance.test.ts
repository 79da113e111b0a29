// Maintenance (deletion, rotation, expiry) runs before key lookups once something is due. A key
// whose maintenance fails must not take the service down: the failure is reported, the other keys
// and every later request are served, and the failed key is retried later.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { createKmsApp, SqliteKeyStore, type KmsApp } from '../../kms-proxy/index.ts';
import { tempDir } from './helpers.ts';

const DAY = 86_400_000;
let now = Date.UTC(2026, 5, 1);
const opened: { app: KmsApp; dir: string }[] = [];

afterEach(async () => {
  for (const { app, dir } of opened.splice(0)) {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function open(patch: (store: SqliteKeyStore) => void): Promise<{ app: KmsApp; reported: Error[] }> {
  const dir = tempDir('kms-maint-');
  const store = new SqliteKeyStore({ dataDir: dir });
  patch(store);
  const reported: Error[] = [];
  // A long interval: only requests run maintenance, so the test decides when.
  const app = await createKmsApp({ dataDir: dir, store, allowAnonymous: true, clock: () => now, maintenanceIntervalMs: 3_600_000, onInternalError: (e) => reported.push(e as Error) });
  opened.push({ app, dir });
  return { app, reported };
}

async function call(app: KmsApp, op: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await app.app.request('http://localhost/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function createKey(app: KmsApp): Promise<{ id: string; arn: string }> {
  const r = await call(app, 'CreateKey', {});
  const m = r.json.KeyMetadata as { KeyId: string; Arn: string };
  return { id: m.KeyId, arn: m.Arn };
}

test('a rotation that throws once is reported; other keys are served meanwhile, and the key rotates when retried', async () => {
  let failures = 1;
  const { app, reported } = await open((store) => {
    const addMaterial = store.addMaterial.bind(store);
    store.addMaterial = async (key, material) => {
      if (failures-- > 0) throw new Error('disk I/O error');
      return addMaterial(key, material);
    };
  });
  const rotating = await createKey(app);
  const other = await createKey(app);
  expect((await call(app, 'EnableKeyRotation', { KeyId: rotating.id, RotationPeriodInDays: 90 })).status).toBe(200);

  now += 91 * DAY;
  // This lookup runs the due maintenance, whose rotation fails: the request is still served.
  const first = await call(app, 'DescribeKey', { KeyId: other.id });
  expect(first.status).toBe(200);
  expect(reported).toHaveLength(1);
  expect(reported[0]?.message).toBe(`maintenance of ${rotating.arn} failed (retried in 60 s): disk I/O error`);
  expect((reported[0]?.cause as Error).message).toBe('disk I/O error');
  for (const id of [other.id, rotating.id]) expect((await call(app, 'DescribeKey', { KeyId: id })).status).toBe(200);
  expect((await call(app, 'Encrypt', { KeyId: rotating.id, Plaintext: Buffer.from('x').toString('base64') })).status).toBe(200);
  expect((await call(app, 'ListKeyRotations', { KeyId: rotating.id })).json.Rotations).toEqual([]);

  // A minute later the key is retried, and rotates.
  now += 60_000;
  expect((await call(app, 'DescribeKey', { KeyId: other.id })).status).toBe(200);
  const rotations = (await call(app, 'ListKeyRotations', { KeyId: rotating.id })).json.Rotations as { RotationType: string }[];
  expect(rotations.map((r) => r.RotationType)).toEqual(['AUTOMATIC']);
  expect(reported).toHaveLength(1);
});

test('a deletion that throws leaves the other due keys to be handled in the same run', async () => {
  const { app, reported } = await open((store) => {
    const deleteKey = store.deleteKey.bind(store);
    let first = true;
    store.deleteKey = async (keyId) => {
      if (first) {
        first = false;
        throw new Error('database is locked');
      }
      return deleteKey(keyId);
    };
  });
  const a = await createKey(app);
  const b = await createKey(app);
  for (const k of [a, b]) expect((await call(app, 'ScheduleKeyDeletion', { KeyId: k.id, PendingWindowInDays: 7 })).status).toBe(200);
  now += 8 * DAY;
  const listed = await call(app, 'ListKeys', {});
  expect(listed.status).toBe(200);
  // One deletion failed and was reported; the other key was deleted in that run.
  expect(reported).toHaveLength(1);
  const left = (listed.json.Keys as { KeyId: string }[]).map((k) => k.KeyId).filter((id) => id === a.id || id === b.id);
  expect(left).toHaveLength(1);
  now += 60_000;
  const after = (await call(app, 'ListKeys', {})).json.Keys as { KeyId: string }[];
  expect(after.map((k) => k.KeyId).filter((id) => id === a.id || id === b.id)).toEqual([]);
});

test('when the store cannot list the due keys, that run fails; requests in the following minute are served', async () => {
  let broken = false;
  const { app } = await open((store) => {
    const listDueKeys = store.listDueKeys.bind(store);
    store.listDueKeys = async (now, page) => {
      if (broken) throw new Error('disk I/O error');
      return listDueKeys(now, page);
    };
  });
  const k = await createKey(app);
  expect((await call(app, 'ScheduleKeyDeletion', { KeyId: k.id, PendingWindowInDays: 7 })).status).toBe(200);
  const other = await createKey(app);
  broken = true;
  now += 8 * DAY;
  const failed = await call(app, 'DescribeKey', { KeyId: other.id });
  expect(failed).toEqual({ status: 500, json: { __type: 'KMSInternalException', message: 'An internal error occurred.' } });
  expect((await call(app, 'DescribeKey', { KeyId: other.id })).status).toBe(200);
  broken = false;
  now += 60_000;
  expect((await call(app, 'DescribeKey', { KeyId: k.id })).json.__type).toBe('NotFoundException');
});

test('maintenanceIntervalMs of 0, NaN, a fraction or over 2^31 − 1 is refused before the data directory is made (ERR_KMS_VALIDATION)', async () => {
  for (const maintenanceIntervalMs of [0, Number.NaN, 1.5, 2 ** 31]) {
    const dataDir = `${tempDir('kms-maint-')}/data`;
    await expect(createKmsApp({ dataDir, maintenanceIntervalMs })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    expect(existsSync(dataDir)).toBe(false);
  }
});

test('a KMS that refuses to start (an audit log that fails verification: here an unsigned audit.log of an earlier version) closes the store it opened', async () => {
  const dir = tempDir('kms-maint-');
  writeFileSync(join(dir, 'audit.log'), '{"cut off');
  const store = new SqliteKeyStore({ dataDir: dir });
  let closed = 0;
  const close = store.close.bind(store);
  store.close = async () => {
    closed++;
    await close();
  };
  await expect(createKmsApp({ dataDir: dir, store, allowAnonymous: true })).rejects.toMatchObject({ code: 'ERR_KMS_INTERNAL' });
  expect(closed).toBe(1);
  rmSync(dir, { recursive: true, force: true });
});

test('a run reads only the due keys, from the store\'s index, a page at a time: 110 keys due at once are all deleted, the others never read', async () => {
  const pages: string[][] = [];
  const { app, reported } = await open((store) => {
    const listDueKeys = store.listDueKeys.bind(store);
    store.listDueKeys = async (t, page) => {
      const p = await listDueKeys(t, page);
      pages.push(p.items.map((k) => k.keyId));
      return p;
    };
  });
  const doomed: string[] = [];
  for (let i = 0; i < 110; i++) {
    const k = await createKey(app);
    expect((await call(app, 'ScheduleKeyDeletion', { KeyId: k.id, PendingWindowInDays: 7 })).status).toBe(200);
    doomed.push(k.id);
  }
  const kept = await createKey(app);
  pages.length = 0;
  now += 8 * DAY;
  expect((await call(app, 'DescribeKey', { KeyId: kept.id })).status).toBe(200);
  expect(reported).toEqual([]);
  // Two pages (100 + 10) of exactly the doomed keys; the kept key was never read by maintenance.
  expect(pages.map((p) => p.length)).toEqual([100, 10]);
  expect(pages.flat().sort()).toEqual([...doomed].sort());
  const listed = (await call(app, 'ListKeys', { Limit: 1000 })).json.Keys as { KeyId: string }[];
  expect(listed.map((k) => k.KeyId)).toEqual([kept.id]);
});
