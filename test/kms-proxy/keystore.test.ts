// The KeyStore contract, written against the interface so a PostgreSQL implementation can run the
// same suite (store/types.ts lists what every implementation owes): round trips, atomic writes,
// cascading deletes, sealed import parameters, caches that never serve stale records; resources in
// an account and region (alias names unique per scope); pages read from indexes; maintenance dates;
// resource quotas checked inside the write's transaction; every row authenticated.
//
// An implementation supplies `open()` (a fresh store, and how to reopen it) and `tamper(store dir,
// what)`, which changes stored rows behind the store's back the way someone with write access to
// its database would, for the integrity tests. Both stores run it: SQLite in a temporary
// directory, PostgreSQL in a new database on the run's server (test/support/postgres.ts).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, test } from 'vitest';
import { PostgresKeyStore, SqliteKeyStore, type GrantRecord, type KeyRecord, type KeyStore } from '../../kms-proxy/index.ts';
import { onDatabase, postgresDatabase } from '../support/pg-database.ts';
import { tempDir } from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const A = { account: '111122223333', region: 'us-east-1' };
const B = { account: '444455556666', region: 'us-east-1' };
const A_WEST = { account: '111122223333', region: 'eu-west-1' };

function key(id: string, over: Partial<KeyRecord> = {}): KeyRecord {
  const scope = { account: over.account ?? A.account, region: over.region ?? A.region };
  return {
    keyId: id,
    arn: `arn:aws:kms:${scope.region}:${scope.account}:key/${id}`,
    ...scope,
    creationDate: 1_700_000_000_000,
    description: 'd',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS',
    state: 'Enabled',
    policy: '{}',
    rotationEnabled: false,
    tags: [],
    ...over,
  };
}

const mat = (keyId: string, version: number, byte: number) => ({ keyId, version, id: `${byte}`.padStart(64, '0'), createdAt: version, secret: new Uint8Array(32).fill(byte) });

/** A key's address: its id in a Region (default A's). */
const at = (keyId: string, region = A.region) => ({ keyId, region });

function grant(id: string, keyId: string, over: Partial<GrantRecord> = {}): GrantRecord {
  return { grantId: id, keyId, region: A.region, granteePrincipal: 'arn:aws:iam::111122223333:role/g', issuingAccount: A.account, operations: ['Decrypt'], creationDate: 1, grantToken: `token-${id}`, ...over };
}

const alias = (scope: typeof A, name: string, keyId: string) => ({ ...scope, name, keyId, creationDate: 1, lastUpdatedDate: 2 });

/** Every item of a listing, page by page with `limit`, and the number of pages. */
async function all<T>(limit: number, read: (p: { limit: number; marker?: string }) => Promise<{ items: readonly T[]; nextMarker?: string }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const p = await read({ limit, ...(marker !== undefined ? { marker } : {}) });
    expect(p.items.length).toBeLessThanOrEqual(limit);
    items.push(...p.items);
    marker = p.nextMarker;
    pages++;
  } while (marker !== undefined);
  return { items, pages };
}

/** Row changes made behind the store's back (each names the row it changes). */
export type Tamper =
  | 'key policy edited'
  | 'key moved to another account'
  | 'key row given another row’s MAC'
  | 'key maintenance date cleared'
  | 'material metadata edited'
  | 'materials swapped between versions'
  | 'alias re-pointed'
  | 'alias moved to another account'
  | 'grant operations widened'
  | 'grant moved to another key'
  | 'grant retiring principal changed'
  | 'import record edited'
  | 'material moved to another Region'
  | 'grant moved to another Region'
  | 'import parameters moved to another Region';

interface Implementation {
  open(): Promise<{ store: KeyStore; reopen: () => Promise<KeyStore>; dir: string }>;
  /** Changes rows of the store opened in `dir` directly. */
  tamper(dir: string, what: Tamper): Promise<void>;
}

function contract(name: string, impl: Implementation) {
  const { open } = impl;
  describe(`KeyStore contract: ${name}`, () => {
    test('keys and materials round-trip, newest material is current, and survive reopening', async () => {
      const { store, reopen } = await open();
      await store.createKey(key('k1'), mat('k1', 0, 1));
      await store.addMaterial(key('k1', { description: 'rotated' }), mat('k1', 1, 2));
      expect((await store.getKey(at('k1')))?.description).toBe('rotated');
      expect((await store.currentMaterial(at('k1')))?.version).toBe(1);
      expect((await store.getMaterial(at('k1'), 0))?.secret).toEqual(new Uint8Array(32).fill(1));
      expect((await store.listMaterials(at('k1'))).map((m) => m.version)).toEqual([0, 1]);
      await store.close();
      const again = await reopen();
      expect((await again.getKey(at('k1')))?.description).toBe('rotated');
      expect((await again.getMaterial(at('k1'), 1))?.secret).toEqual(new Uint8Array(32).fill(2));
      await again.close();
    });

    test('createKey is atomic: a failing material insert leaves no key', async () => {
      const { store } = await open();
      await store.createKey(key('k2'), mat('k2', 0, 1));
      // Same (key, version) again violates the primary key: neither half may remain changed.
      await expect(store.createKey(key('k2', { description: 'second' }), mat('k2', 0, 9))).rejects.toThrow();
      expect((await store.getKey(at('k2')))?.description).toBe('d');
      expect((await store.getMaterial(at('k2'), 0))?.secret).toEqual(new Uint8Array(32).fill(1));
      await store.close();
    });

    test('deleteKey removes materials, aliases, grants and import parameters; caches follow writes', async () => {
      const { store } = await open();
      await store.createKey(key('k3'), mat('k3', 0, 3));
      await store.putAlias(alias(A, 'alias/k3', 'k3'));
      await store.putGrant(grant('g3', 'k3'));
      await store.putImportParameters({ token: 'tok3', keyId: 'k3', region: A.region, wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappingKeySpec: 'RSA_2048', privateKey: new Uint8Array([1, 2, 3]), validTo: 5 });
      expect((await store.listGrants(at('k3'))).map((g) => g.grantId)).toEqual(['g3']);
      expect((await store.getImportParameters('tok3'))?.privateKey).toEqual(new Uint8Array([1, 2, 3]));
      await store.putKey(key('k3', { state: 'Disabled' }));
      expect((await store.getKey(at('k3')))?.state).toBe('Disabled');
      await store.deleteKey(at('k3'));
      expect(await store.getKey(at('k3'))).toBeUndefined();
      expect(await store.currentMaterial(at('k3'))).toBeUndefined();
      expect(await store.getAlias(A, 'alias/k3')).toBeUndefined();
      expect(await store.listGrants(at('k3'))).toEqual([]);
      expect(await store.getGrant('g3')).toBeUndefined();
      expect(await store.getGrantByToken('token-g3')).toBeUndefined();
      expect(await store.getImportParameters('tok3')).toBeUndefined();
      await store.close();
    });

    test('deleteMaterials empties a key and updates its record in one step', async () => {
      const { store } = await open();
      await store.createKey(key('k4'), mat('k4', 0, 4));
      await store.deleteMaterials(key('k4', { state: 'PendingImport' }));
      expect(await store.currentMaterial(at('k4'))).toBeUndefined();
      expect(await store.getMaterial(at('k4'), 0)).toBeUndefined();
      expect((await store.getKey(at('k4')))?.state).toBe('PendingImport');
      await store.close();
    });

    test('deleteMaterials with versions deletes only those versions (one imported material of several), the others stay readable', async () => {
      const { store } = await open();
      await store.createKey(key('k5'), mat('k5', 0, 5));
      await store.addMaterial(key('k5'), mat('k5', 1, 6));
      await store.addMaterial(key('k5'), mat('k5', 2, 7));
      expect((await store.getMaterial(at('k5'), 1))?.version).toBe(1); // cached before the delete
      await store.deleteMaterials(key('k5', { description: 'one gone' }), [1]);
      expect(await store.getMaterial(at('k5'), 1)).toBeUndefined();
      expect((await store.listMaterials(at('k5'))).map((m) => m.version)).toEqual([0, 2]);
      expect((await store.currentMaterial(at('k5')))?.version).toBe(2);
      expect((await store.getKey(at('k5')))?.description).toBe('one gone');
      await store.close();
    });

    test('a key is found by id and Region: the keys of a multi-Region key share an id, each with its own materials, grants, aliases and import parameters', async () => {
      const { store } = await open();
      const west = A_WEST.region;
      await store.createKey(key('mrk-1', { multiRegionKeyType: 'PRIMARY' }), mat('mrk-1', 0, 1));
      await store.createKey(key('mrk-1', { region: west, multiRegionKeyType: 'REPLICA', description: 'west' }), mat('mrk-1', 0, 1));
      await store.addMaterial(key('mrk-1', { region: west, multiRegionKeyType: 'REPLICA', description: 'west' }), mat('mrk-1', 1, 2));
      expect((await store.getKey(at('mrk-1')))?.description).toBe('d');
      expect((await store.getKey(at('mrk-1', west)))?.description).toBe('west');
      expect(await store.getKey(at('mrk-1', 'ap-south-1'))).toBeUndefined();
      expect((await store.relatedKeys('mrk-1')).map((k) => [k.region, k.multiRegionKeyType])).toEqual([[west, 'REPLICA'], [A.region, 'PRIMARY']]);
      expect(await store.relatedKeys('mrk-none')).toEqual([]);
      expect((await store.currentMaterial(at('mrk-1')))?.version).toBe(0);
      expect((await store.currentMaterial(at('mrk-1', west)))?.version).toBe(1);
      expect(await store.getMaterial(at('mrk-1'), 1)).toBeUndefined();
      const retirer = 'arn:aws:iam::111122223333:role/mrk-retirer';
      await store.putGrant(grant('g-east', 'mrk-1', { retiringPrincipal: retirer }));
      await store.putGrant(grant('g-west', 'mrk-1', { region: west, retiringPrincipal: retirer }));
      expect((await store.listRetirableGrants(retirer, west, { limit: 10 })).items.map((g) => g.grantId)).toEqual(['g-west']);
      expect((await store.listGrants(at('mrk-1'))).map((g) => g.grantId)).toEqual(['g-east']);
      expect((await store.listGrants(at('mrk-1', west))).map((g) => g.grantId)).toEqual(['g-west']);
      expect((await store.listGrantPage(at('mrk-1'), { limit: 10 }, { grantId: 'g-west' })).items).toEqual([]);
      await store.putAlias(alias(A, 'alias/m', 'mrk-1'));
      await store.putAlias(alias(A_WEST, 'alias/m', 'mrk-1'));
      for (const region of [A.region, west]) {
        await store.putImportParameters({ token: `tok-${region}`, keyId: 'mrk-1', region, wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappingKeySpec: 'RSA_2048', privateKey: new Uint8Array([9]), validTo: 5 });
      }
      expect((await store.getImportParameters(`tok-${west}`))?.region).toBe(west);
      // Deleting one Region's key takes what is its own, and nothing of the other's.
      await store.deleteKey(at('mrk-1', west));
      expect(await store.getKey(at('mrk-1', west))).toBeUndefined();
      expect(await store.currentMaterial(at('mrk-1', west))).toBeUndefined();
      expect(await store.listGrants(at('mrk-1', west))).toEqual([]);
      expect(await store.getAlias(A_WEST, 'alias/m')).toBeUndefined();
      expect(await store.getImportParameters(`tok-${west}`)).toBeUndefined();
      expect((await store.getKey(at('mrk-1')))?.description).toBe('d');
      expect((await store.getMaterial(at('mrk-1'), 0))?.secret).toEqual(new Uint8Array(32).fill(1));
      expect((await store.listGrants(at('mrk-1'))).map((g) => g.grantId)).toEqual(['g-east']);
      expect((await store.getAlias(A, 'alias/m'))?.keyId).toBe('mrk-1');
      expect(await store.getImportParameters(`tok-${A.region}`)).toBeDefined();
      expect((await store.relatedKeys('mrk-1')).map((k) => k.region)).toEqual([A.region]);
      await store.close();
    });

    test('writeKeys changes related keys in one transaction (removed, created within the quota, replaced, materials added); a failure changes nothing', async () => {
      const { store, reopen } = await open();
      const west = A_WEST.region;
      const primary = key('mrk-2', { multiRegionKeyType: 'PRIMARY', state: 'PendingReplicaDeletion', pendingWindowInDays: 7 });
      const replica = key('mrk-2', { region: west, multiRegionKeyType: 'REPLICA', state: 'PendingDeletion', deletionDate: 10 });
      await store.createKeys([{ key: primary, material: mat('mrk-2', 0, 1) }, { key: replica, material: mat('mrk-2', 0, 1) }]);
      // Cached reads must not outlive the write.
      expect(await store.getKey(at('mrk-2', west))).toBeDefined();
      expect(await store.getMaterial(at('mrk-2', west), 0)).toBeDefined();
      await store.writeKeys({ remove: [replica], put: [{ ...primary, state: 'PendingDeletion', deletionDate: 99 }] });
      expect(await store.getKey(at('mrk-2', west))).toBeUndefined();
      expect(await store.getMaterial(at('mrk-2', west), 0)).toBeUndefined();
      expect((await store.getKey(at('mrk-2')))?.state).toBe('PendingDeletion');
      expect(await store.nextDue(0)).toBe(99);

      await store.createKey(key('mrk-3', { multiRegionKeyType: 'PRIMARY' }), mat('mrk-3', 0, 3));
      const copy = key('mrk-3', { region: west, multiRegionKeyType: 'REPLICA' });
      await store.writeKeys({ create: [copy], materials: [{ key: copy, material: mat('mrk-3', 0, 3) }, { key: copy, material: mat('mrk-3', 1, 4) }] }, { maxKeys: 1 });
      expect((await store.listMaterials(at('mrk-3', west))).map((m) => m.version)).toEqual([0, 1]);
      // A material version that exists already fails the whole write: the record keeps its old self.
      await expect(store.writeKeys({ put: [{ ...copy, description: 'changed' }], materials: [{ key: copy, material: mat('mrk-3', 1, 9) }] })).rejects.toThrow();
      expect((await store.getKey(at('mrk-3', west)))?.description).toBe('d');
      expect((await store.getMaterial(at('mrk-3', west), 1))?.secret).toEqual(new Uint8Array(32).fill(4));
      // A created key counts against its scope's quota, in the transaction.
      await expect(store.writeKeys({ create: [key('q-1', { region: west })], put: [{ ...copy, description: 'no' }] }, { maxKeys: 1 })).rejects.toMatchObject({ code: 'ERR_KMS_LIMIT_EXCEEDED' });
      expect(await store.getKey(at('q-1', west))).toBeUndefined();
      expect((await store.getKey(at('mrk-3', west)))?.description).toBe('d');
      // A material is only ever added to a key of its own id.
      await expect(store.writeKeys({ materials: [{ key: copy, material: mat('other', 2, 1) }] })).rejects.toThrow();
      await store.close();
      const again = await reopen();
      expect((await again.getMaterial(at('mrk-3', west), 1))?.secret).toEqual(new Uint8Array(32).fill(4));
      await again.close();
    });

    test('an alias name is unique per account and region, not across them; each scope sees its own', async () => {
      const { store } = await open();
      await store.createKeys([{ key: key('ka') }, { key: key('kb', { account: B.account }) }, { key: key('kw', { region: A_WEST.region }) }]);
      await store.putAlias(alias(A, 'alias/prod', 'ka'));
      await store.putAlias(alias(B, 'alias/prod', 'kb'));
      await store.putAlias(alias(A_WEST, 'alias/prod', 'kw'));
      expect((await store.getAlias(A, 'alias/prod'))?.keyId).toBe('ka');
      expect((await store.getAlias(B, 'alias/prod'))?.keyId).toBe('kb');
      expect((await store.getAlias(A_WEST, 'alias/prod'))?.keyId).toBe('kw');
      // Deleting one account's alias leaves the others.
      await store.deleteAlias(B, 'alias/prod');
      expect(await store.getAlias(B, 'alias/prod')).toBeUndefined();
      expect((await store.getAlias(A, 'alias/prod'))?.keyId).toBe('ka');
      expect((await store.listAliases(A, { limit: 10 })).items.map((a) => [a.account, a.region, a.name, a.keyId])).toEqual([[A.account, A.region, 'alias/prod', 'ka']]);
      expect((await store.listAliases(B, { limit: 10 })).items).toEqual([]);
      await store.close();
    });

    test('listKeys pages one scope in creation order, every key exactly once, O(page) per call', async () => {
      const { store } = await open();
      const ids = Array.from({ length: 23 }, (_v, i) => `a-${String(i).padStart(2, '0')}`);
      await store.createKeys(ids.map((id) => ({ key: key(id) })));
      await store.createKeys([{ key: key('b-0', { account: B.account }) }, { key: key('w-0', { region: A_WEST.region }) }]);
      for (const limit of [1, 2, 5, 22, 23, 24, 1000]) {
        const { items, pages } = await all(limit, (p) => store.listKeys(A, p));
        expect(items.map((k) => k.keyId)).toEqual(ids);
        expect(items[0]?.arn).toBe(key(ids[0] ?? '').arn);
        expect(pages).toBe(Math.max(1, Math.ceil(ids.length / limit)));
      }
      expect((await store.listKeys(B, { limit: 10 })).items.map((k) => k.keyId)).toEqual(['b-0']);
      expect((await store.listKeys(A_WEST, { limit: 10 })).items.map((k) => k.keyId)).toEqual(['w-0']);
      await store.close();
    });

    test('a page starts where its marker points: keys added or deleted between pages are not repeated, and the rest not skipped', async () => {
      const { store } = await open();
      await store.createKeys(['m0', 'm1', 'm2', 'm3', 'm4'].map((id) => ({ key: key(id) })));
      const first = await store.listKeys(A, { limit: 2 });
      expect(first.items.map((k) => k.keyId)).toEqual(['m0', 'm1']);
      await store.deleteKey(at('m0'));
      await store.deleteKey(at('m2'));
      await store.createKey(key('m5'));
      const rest = await all(2, (p) => store.listKeys(A, first.nextMarker === undefined ? p : { ...p, marker: p.marker ?? first.nextMarker }));
      expect(rest.items.map((k) => k.keyId)).toEqual(['m3', 'm4', 'm5']);
      await store.close();
    });

    test('markers are opaque and belong to one listing: garbage or another listing\'s marker is InvalidMarkerException', async () => {
      const { store } = await open();
      await store.createKeys(['n0', 'n1'].map((id) => ({ key: key(id) })));
      await store.putAlias(alias(A, 'alias/n0', 'n0'));
      await store.putAlias(alias(A, 'alias/n1', 'n1'));
      const keysMarker = (await store.listKeys(A, { limit: 1 })).nextMarker ?? '';
      const aliasMarker = (await store.listAliases(A, { limit: 1 })).nextMarker ?? '';
      expect(keysMarker).not.toBe('');
      for (const bad of ['garbage', 'off:1', aliasMarker, `${keysMarker}x`, Buffer.from('["keys",-1]').toString('base64url'), Buffer.from('["keys","1"]').toString('base64url')]) {
        await expect(store.listKeys(A, { limit: 1, marker: bad })).rejects.toMatchObject({ code: 'ERR_KMS_INVALID_MARKER' });
      }
      await expect(store.listAliases(A, { limit: 1, marker: keysMarker })).rejects.toMatchObject({ code: 'ERR_KMS_INVALID_MARKER' });
      await expect(store.listGrantPage(at('n0'), { limit: 1, marker: keysMarker })).rejects.toMatchObject({ code: 'ERR_KMS_INVALID_MARKER' });
      await store.close();
    });

    test('listAliases pages a scope by name, or only one key\'s aliases', async () => {
      const { store } = await open();
      await store.createKeys([{ key: key('p0') }, { key: key('p1') }]);
      const names = ['alias/c', 'alias/a', 'alias/e', 'alias/b', 'alias/d'];
      for (const [i, n] of names.entries()) await store.putAlias(alias(A, n, i % 2 === 0 ? 'p0' : 'p1'));
      expect((await all(2, (p) => store.listAliases(A, p))).items.map((a) => a.name)).toEqual([...names].sort());
      expect((await all(1, (p) => store.listAliases(A, p, 'p0'))).items.map((a) => a.name)).toEqual(['alias/c', 'alias/d', 'alias/e']);
      expect((await all(5, (p) => store.listAliases(A, p, 'p1'))).items.map((a) => a.name)).toEqual(['alias/a', 'alias/b']);
      await store.close();
    });

    test('grants: by id and by token; all of a key; pages filtered by id or grantee; retirable by principal on any key', async () => {
      const { store } = await open();
      await store.createKeys([{ key: key('q0') }, { key: key('q1', { account: B.account }) }]);
      const r = 'arn:aws:iam::111122223333:role/retirer';
      const g = Array.from({ length: 7 }, (_v, i) => grant(`g${i}`, i < 5 ? 'q0' : 'q1', { granteePrincipal: `arn:aws:iam::111122223333:role/${i % 2 === 0 ? 'even' : 'odd'}`, ...(i % 3 === 0 ? { retiringPrincipal: r } : {}) }));
      for (const x of g) await store.putGrant(x);
      expect((await store.getGrant('g4'))?.keyId).toBe('q0');
      expect((await store.getGrantByToken('token-g5'))?.grantId).toBe('g5');
      expect(await store.getGrantByToken('token-none')).toBeUndefined();
      expect((await store.listGrants(at('q0'))).map((x) => x.grantId)).toEqual(['g0', 'g1', 'g2', 'g3', 'g4']);
      expect((await all(2, (p) => store.listGrantPage(at('q0'), p))).items.map((x) => x.grantId)).toEqual(['g0', 'g1', 'g2', 'g3', 'g4']);
      expect((await all(1, (p) => store.listGrantPage(at('q0'), p, { granteePrincipal: 'arn:aws:iam::111122223333:role/even' }))).items.map((x) => x.grantId)).toEqual(['g0', 'g2', 'g4']);
      expect((await store.listGrantPage(at('q0'), { limit: 10 }, { grantId: 'g3' })).items.map((x) => x.grantId)).toEqual(['g3']);
      // A grant id of another key, or with another grantee, is not in this key's listing.
      expect((await store.listGrantPage(at('q0'), { limit: 10 }, { grantId: 'g5' })).items).toEqual([]);
      expect((await store.listGrantPage(at('q0'), { limit: 10 }, { grantId: 'g3', granteePrincipal: 'arn:aws:iam::111122223333:role/even' })).items).toEqual([]);
      expect((await all(1, (p) => store.listRetirableGrants(r, A.region, p))).items.map((x) => x.grantId)).toEqual(['g0', 'g3', 'g6']);
      // Replacing a grant keeps its place; deleting it removes it from every index.
      await store.putGrant({ ...(g[0] as GrantRecord), name: 'renamed' });
      expect((await store.listGrants(at('q0'))).map((x) => x.name ?? x.grantId)).toEqual(['renamed', 'g1', 'g2', 'g3', 'g4']);
      await store.deleteGrant('g3');
      expect((await store.listGrants(at('q0'))).map((x) => x.grantId)).not.toContain('g3');
      expect(await store.getGrantByToken('token-g3')).toBeUndefined();
      expect((await store.listRetirableGrants(r, A.region, { limit: 10 })).items.map((x) => x.grantId)).toEqual(['g0', 'g6']);
      await store.close();
    });

    test('listDueKeys and nextDue follow the records\' maintenance dates (deletion, expiry, rotation of Enabled keys)', async () => {
      const { store } = await open();
      await store.createKeys([
        { key: key('d-del', { state: 'PendingDeletion', deletionDate: 300 }) },
        { key: key('d-rot', { rotationEnabled: true, nextRotationDate: 100 }) },
        { key: key('d-rot-disabled', { state: 'Disabled', rotationEnabled: true, nextRotationDate: 50 }) },
        { key: key('d-exp', { validTo: 200, expirationModel: 'KEY_MATERIAL_EXPIRES' }) },
        { key: key('d-none') },
      ]);
      expect((await store.listDueKeys(99, { limit: 10 })).items).toEqual([]);
      expect((await store.listDueKeys(250, { limit: 10 })).items.map((k) => k.keyId)).toEqual(['d-rot', 'd-exp']);
      expect((await all(1, (p) => store.listDueKeys(1000, p))).items.map((k) => k.keyId)).toEqual(['d-rot', 'd-exp', 'd-del']);
      expect(await store.nextDue(0)).toBe(100);
      expect(await store.nextDue(100)).toBe(200);
      expect(await store.nextDue(300)).toBeUndefined();
      // Writing a record moves its date: the rotated key is due again later, the enabled one now.
      await store.putKey(key('d-rot', { rotationEnabled: true, nextRotationDate: 5000 }));
      await store.putKey(key('d-rot-disabled', { rotationEnabled: true, nextRotationDate: 50 }));
      expect((await store.listDueKeys(250, { limit: 10 })).items.map((k) => k.keyId)).toEqual(['d-rot-disabled', 'd-exp']);
      await store.close();
    });

    test('resource quotas are checked in the write\'s transaction: keys per scope, aliases and grants per key', async () => {
      const { store } = await open();
      await store.createKeys([{ key: key('l0') }, { key: key('l1') }], { maxKeys: 2 });
      await expect(store.createKey(key('l2'), undefined, { maxKeys: 2 })).rejects.toMatchObject({ code: 'ERR_KMS_LIMIT_EXCEEDED', awsName: 'LimitExceededException' });
      // Another account's quota is its own.
      await store.createKey(key('l3', { account: B.account }), undefined, { maxKeys: 2 });
      // A batch that would pass the quota is refused whole.
      await expect(store.createKeys([{ key: key('l4', { account: B.account }) }, { key: key('l5', { account: B.account }) }], { maxKeys: 2 })).rejects.toMatchObject({ code: 'ERR_KMS_LIMIT_EXCEEDED' });
      expect(await store.getKey(at('l4'))).toBeUndefined();
      // Two writers started together cannot both pass the check.
      const racing = await Promise.allSettled([store.createKey(key('l6', { account: B.account }), undefined, { maxKeys: 2 }), store.createKey(key('l7', { account: B.account }), undefined, { maxKeys: 2 })]);
      expect(racing.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);

      await store.putAlias(alias(A, 'alias/x', 'l0'), { maxPerKey: 2 });
      await store.putAlias(alias(A, 'alias/y', 'l0'), { maxPerKey: 2 });
      await expect(store.putAlias(alias(A, 'alias/z', 'l0'), { maxPerKey: 2 })).rejects.toMatchObject({ code: 'ERR_KMS_LIMIT_EXCEEDED' });
      // Rewriting an alias of the key does not count it twice; moving one to a full key does.
      await store.putAlias({ ...alias(A, 'alias/y', 'l0'), lastUpdatedDate: 9 }, { maxPerKey: 2 });
      await store.putAlias(alias(A, 'alias/z', 'l1'), { maxPerKey: 2 });
      await expect(store.putAlias(alias(A, 'alias/z', 'l0'), { maxPerKey: 2 })).rejects.toMatchObject({ code: 'ERR_KMS_LIMIT_EXCEEDED' });
      expect((await store.getAlias(A, 'alias/z'))?.keyId).toBe('l1');

      await store.putGrant(grant('gl0', 'l0'), { maxPerKey: 2 });
      await store.putGrant(grant('gl1', 'l0'), { maxPerKey: 2 });
      await expect(store.putGrant(grant('gl2', 'l0'), { maxPerKey: 2 })).rejects.toMatchObject({ code: 'ERR_KMS_LIMIT_EXCEEDED' });
      await store.putGrant({ ...grant('gl1', 'l0'), name: 'again' }, { maxPerKey: 2 });
      expect(await store.getGrant('gl2')).toBeUndefined();
      await store.close();
    });

    test('putAlias with create inserts only: of concurrent creators of one name exactly one succeeds, the others AlreadyExistsException', async () => {
      const { store } = await open();
      await store.createKeys([{ key: key('c0') }, { key: key('c1') }]);
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_v, i) => store.putAlias(alias(A, 'alias/once', i % 2 === 0 ? 'c0' : 'c1'), { create: true })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ERR_KMS_ALREADY_EXISTS', message: `An alias with the name arn:aws:kms:${A.region}:${A.account}:alias/once already exists` });
      // Without create, the same call replaces the alias.
      await store.putAlias(alias(A, 'alias/once', 'c1'));
      expect((await store.getAlias(A, 'alias/once'))?.keyId).toBe('c1');
      await store.close();
    });

    test('a conditional write applies only while the key is the record it was based on (StoreConflictError otherwise, nothing changed)', async () => {
      const { store } = await open();
      const base = key('w0', { rotationEnabled: true, nextRotationDate: 10 });
      await store.createKey(base, mat('w0', 0, 1));
      const read = await store.getKey(at('w0'));
      // Another writer changes the key after it was read.
      await store.putKey({ ...base, state: 'Disabled' });
      await expect(store.addMaterial({ ...base, nextRotationDate: 20 }, mat('w0', 1, 2), { ifUnchanged: read })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_CONFLICT' });
      await expect(store.deleteMaterials({ ...base, state: 'PendingImport' }, undefined, { ifUnchanged: read })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_CONFLICT' });
      await expect(store.deleteKey(at('w0'), { ifUnchanged: read })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_CONFLICT' });
      await expect(store.writeKeys({ put: [{ ...base, description: 'settled' }] }, {}, { ifUnchanged: read })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_CONFLICT' });
      // The condition names one Region's key: the same id elsewhere is another record.
      await store.createKey(key('w0', { region: A_WEST.region }));
      await expect(store.deleteKey(at('w0', A_WEST.region), { ifUnchanged: read })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_CONFLICT' });
      expect((await store.getKey(at('w0')))?.state).toBe('Disabled');
      expect((await store.getKey(at('w0')))?.description).toBe('d');
      expect(await store.getKey(at('w0', A_WEST.region))).toBeDefined();
      expect((await store.listMaterials(at('w0'))).map((m) => m.version)).toEqual([0]);
      // Based on the current record, it applies.
      const now = await store.getKey(at('w0'));
      await store.addMaterial({ ...(now as KeyRecord), nextRotationDate: 20 }, mat('w0', 1, 2), { ifUnchanged: now });
      expect((await store.currentMaterial(at('w0')))?.version).toBe(1);
      await store.deleteKey(at('w0'), { ifUnchanged: await store.getKey(at('w0')) });
      expect(await store.getKey(at('w0'))).toBeUndefined();
      await store.close();
    });

    test.each<Tamper>([
      'key policy edited',
      'key moved to another account',
      'key row given another row’s MAC',
      'key maintenance date cleared',
      'material metadata edited',
      'materials swapped between versions',
      'alias re-pointed',
      'alias moved to another account',
      'grant operations widened',
      'grant moved to another key',
      'grant retiring principal changed',
      'import record edited',
      'material moved to another Region',
      'grant moved to another Region',
      'import parameters moved to another Region',
    ])('a row changed outside the store (%s) is refused when read: ERR_KMS_STORE_INTEGRITY, KMSInternalException', async (what) => {
      const { store, reopen, dir } = await open();
      await store.createKey(key('t0'), mat('t0', 0, 7));
      await store.addMaterial(key('t0', { rotationEnabled: true, nextRotationDate: 10 }), mat('t0', 1, 8));
      await store.createKey(key('t1'), mat('t1', 0, 9));
      // The same id in another Region (a multi-Region key's replica): rows of one must not pass as the other's.
      await store.createKey(key('t0', { region: A_WEST.region }), mat('t0', 0, 7));
      await store.putAlias(alias(A, 'alias/t', 't0'));
      await store.putGrant(grant('gt', 't0', { retiringPrincipal: 'arn:aws:iam::111122223333:role/r' }));
      await store.putImportParameters({ token: 'tokt', keyId: 't0', region: A.region, wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappingKeySpec: 'RSA_2048', privateKey: new Uint8Array([4]), validTo: 5 });
      await store.close();
      await impl.tamper(dir, what);
      const s = await reopen();
      const reads: Record<Tamper, () => Promise<unknown>> = {
        'key policy edited': () => s.getKey(at('t0')),
        'key moved to another account': () => s.listKeys(B, { limit: 10 }),
        'key row given another row’s MAC': () => s.getKey(at('t1')),
        'key maintenance date cleared': () => s.getKey(at('t0')),
        'material metadata edited': () => s.getMaterial(at('t0'), 0),
        'materials swapped between versions': () => s.getMaterial(at('t0'), 1),
        'alias re-pointed': () => s.getAlias(A, 'alias/t'),
        'alias moved to another account': () => s.listAliases(B, { limit: 10 }),
        'grant operations widened': () => s.listGrants(at('t0')),
        'grant moved to another key': () => s.listGrants(at('t1')),
        'grant retiring principal changed': () => s.listRetirableGrants('arn:aws:iam::111122223333:role/attacker', A.region, { limit: 10 }),
        'import record edited': () => s.getImportParameters('tokt'),
        'material moved to another Region': () => s.getMaterial(at('t0', A_WEST.region), 1),
        'grant moved to another Region': () => s.listGrants(at('t0', A_WEST.region)),
        'import parameters moved to another Region': () => s.getImportParameters('tokt'),
      };
      await expect(reads[what]()).rejects.toMatchObject({ code: 'ERR_KMS_STORE_INTEGRITY', awsName: 'KMSInternalException', status: 500 });
      await s.close();
    });
  });
}

const OPEN_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}';

/**
 * The SQL that changes rows behind the store's back, for SQLite (`json_set`) or PostgreSQL
 * (`jsonb_set` on the record's text); the same rows and columns in both.
 */
function tamperSql(what: Tamper, dialect: 'sqlite' | 'postgres'): string {
  const set = (path: string, value: string) =>
    dialect === 'sqlite' ? `json_set(record, '$.${path}', ${value})` : `jsonb_set(record::jsonb, '{${path}}', ${value}::jsonb)::text`;
  const str = (v: string) => (dialect === 'sqlite' ? `'${v}'` : `'"${v}"'`);
  const json = (v: string) => (dialect === 'sqlite' ? `json('${v}')` : `'${v}'`);
  switch (what) {
    case 'key policy edited':
      return `UPDATE keys SET record = ${set('policy', dialect === 'sqlite' ? `'${OPEN_POLICY}'` : `to_jsonb('${OPEN_POLICY}'::text)`)} WHERE key_id = 't0'`;
    case 'key moved to another account':
      return `UPDATE keys SET account = '444455556666' WHERE key_id = 't0'`;
    case 'key row given another row’s MAC':
      return `UPDATE keys SET record = (SELECT record FROM keys WHERE key_id = 't0' AND region = 'us-east-1'), digest = (SELECT digest FROM keys WHERE key_id = 't0' AND region = 'us-east-1'), mac = (SELECT mac FROM keys WHERE key_id = 't0' AND region = 'us-east-1') WHERE key_id = 't1'`;
    case 'key maintenance date cleared':
      return `UPDATE keys SET due = NULL WHERE key_id = 't0'`;
    case 'material metadata edited':
      return `UPDATE materials SET rotation_type = 'ON_DEMAND' WHERE key_id = 't0' AND version = 0`;
    case 'materials swapped between versions':
      return `UPDATE materials SET sealed = (SELECT sealed FROM materials WHERE key_id = 't0' AND region = 'us-east-1' AND version = 0) WHERE key_id = 't0' AND region = 'us-east-1' AND version = 1`;
    case 'alias re-pointed':
      return `UPDATE aliases SET key_id = 't1' WHERE name = 'alias/t'`;
    case 'alias moved to another account':
      return `UPDATE aliases SET account = '444455556666' WHERE name = 'alias/t'`;
    case 'grant operations widened':
      return `UPDATE grants SET record = ${set('operations', json('["Decrypt","Encrypt","CreateGrant"]'))} WHERE grant_id = 'gt'`;
    case 'grant moved to another key':
      return `UPDATE grants SET key_id = 't1', record = ${set('keyId', str('t1'))} WHERE grant_id = 'gt'`;
    case 'grant retiring principal changed':
      return `UPDATE grants SET retiring = 'arn:aws:iam::111122223333:role/attacker', record = ${set('retiringPrincipal', str('arn:aws:iam::111122223333:role/attacker'))} WHERE grant_id = 'gt'`;
    case 'import record edited':
      return `UPDATE import_parameters SET record = ${set('validTo', dialect === 'sqlite' ? '99999999999999' : "'99999999999999'")} WHERE token = 'tokt'`;
    case 'material moved to another Region':
      return `UPDATE materials SET region = 'eu-west-1' WHERE key_id = 't0' AND region = 'us-east-1' AND version = 1`;
    case 'grant moved to another Region':
      return `UPDATE grants SET region = 'eu-west-1', record = ${set('region', str('eu-west-1'))} WHERE grant_id = 'gt'`;
    case 'import parameters moved to another Region':
      return `UPDATE import_parameters SET region = 'eu-west-1', record = ${set('region', str('eu-west-1'))} WHERE token = 'tokt'`;
  }
}

/** Changes rows of a SQLite store's file directly, as someone with write access to it would. */
async function tamperSqlite(dir: string, what: Tamper): Promise<void> {
  const db = new DatabaseSync(join(dir, 'kms.sqlite'));
  db.exec(tamperSql(what, 'sqlite'));
  db.close();
}

contract('SqliteKeyStore', {
  async open() {
    const dir = tempDir('kms-keystore-');
    dirs.push(dir);
    return { store: new SqliteKeyStore({ dataDir: dir }), reopen: async () => new SqliteKeyStore({ dataDir: dir }), dir };
  },
  tamper: tamperSqlite,
});

/** The database URL of each PostgreSQL store's directory (its master key's). */
const databases = new Map<string, string>();

contract('PostgresKeyStore', {
  async open() {
    const dir = tempDir('kms-keystore-pg-');
    dirs.push(dir);
    const url = await postgresDatabase();
    databases.set(dir, url);
    return { store: await PostgresKeyStore.open({ url, dataDir: dir }), reopen: () => PostgresKeyStore.open({ url, dataDir: dir }), dir };
  },
  async tamper(dir, what) {
    await onDatabase(databases.get(dir) ?? '', tamperSql(what, 'postgres'));
  },
});
