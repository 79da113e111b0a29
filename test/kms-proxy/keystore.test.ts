// The KeyStore contract, written against the interface so a PostgreSQL implementation can run the
// same suite: round trips, atomic key+material writes, cascading deletes, sealed import
// parameters, and caches that never serve stale records.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { SqliteKeyStore, type KeyRecord, type KeyStore } from '../../kms-proxy/index.ts';
import { tempDir } from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function key(id: string, over: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyId: id,
    arn: `arn:aws:kms:us-east-1:111122223333:key/${id}`,
    account: '111122223333',
    region: 'us-east-1',
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

function contract(name: string, open: () => { store: KeyStore; reopen: () => KeyStore }) {
  describe(`KeyStore contract: ${name}`, () => {
    test('keys and materials round-trip, newest material is current, and survive reopening', async () => {
      const { store, reopen } = open();
      await store.createKey(key('k1'), mat('k1', 0, 1));
      await store.addMaterial(key('k1', { description: 'rotated' }), mat('k1', 1, 2));
      expect((await store.getKey('k1'))?.description).toBe('rotated');
      expect((await store.currentMaterial('k1'))?.version).toBe(1);
      expect((await store.getMaterial('k1', 0))?.secret).toEqual(new Uint8Array(32).fill(1));
      expect((await store.listMaterials('k1')).map((m) => m.version)).toEqual([0, 1]);
      await store.close();
      const again = reopen();
      expect((await again.getKey('k1'))?.description).toBe('rotated');
      expect((await again.getMaterial('k1', 1))?.secret).toEqual(new Uint8Array(32).fill(2));
      await again.close();
    });

    test('createKey is atomic: a failing material insert leaves no key', async () => {
      const { store } = open();
      await store.createKey(key('k2'), mat('k2', 0, 1));
      // Same (key, version) again violates the primary key: neither half may remain changed.
      await expect(store.createKey(key('k2', { description: 'second' }), mat('k2', 0, 9))).rejects.toThrow();
      expect((await store.getKey('k2'))?.description).toBe('d');
      expect((await store.getMaterial('k2', 0))?.secret).toEqual(new Uint8Array(32).fill(1));
      await store.close();
    });

    test('deleteKey removes materials, aliases, grants and import parameters; caches follow writes', async () => {
      const { store } = open();
      await store.createKey(key('k3'), mat('k3', 0, 3));
      await store.putAlias({ name: 'alias/k3', keyId: 'k3', creationDate: 1, lastUpdatedDate: 1 });
      await store.putGrant({ grantId: 'g3', keyId: 'k3', granteePrincipal: 'p', issuingAccount: 'a', operations: ['Decrypt'], creationDate: 1, grantToken: 't' });
      await store.putImportParameters({ token: 'tok3', keyId: 'k3', wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappingKeySpec: 'RSA_2048', privateKey: new Uint8Array([1, 2, 3]), validTo: 5 });
      expect((await store.listGrants('k3')).map((g) => g.grantId)).toEqual(['g3']);
      expect((await store.getImportParameters('tok3'))?.privateKey).toEqual(new Uint8Array([1, 2, 3]));
      await store.putKey(key('k3', { state: 'Disabled' }));
      expect((await store.getKey('k3'))?.state).toBe('Disabled');
      await store.deleteKey('k3');
      expect(await store.getKey('k3')).toBeUndefined();
      expect(await store.currentMaterial('k3')).toBeUndefined();
      expect(await store.getAlias('alias/k3')).toBeUndefined();
      expect(await store.listGrants('k3')).toEqual([]);
      expect(await store.getGrant('g3')).toBeUndefined();
      await store.close();
    });

    test('deleteMaterials empties a key and updates its record in one step', async () => {
      const { store } = open();
      await store.createKey(key('k4'), mat('k4', 0, 4));
      await store.deleteMaterials(key('k4', { state: 'PendingImport' }));
      expect(await store.currentMaterial('k4')).toBeUndefined();
      expect(await store.getMaterial('k4', 0)).toBeUndefined();
      expect((await store.getKey('k4'))?.state).toBe('PendingImport');
      await store.close();
    });
  });
}

contract('SqliteKeyStore', () => {
  const d = tempDir('kms-keystore-');
  dirs.push(d);
  return { store: new SqliteKeyStore({ dataDir: d }), reopen: () => new SqliteKeyStore({ dataDir: d }) };
});
