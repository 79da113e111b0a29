// Schema migrations of the SQLite store (store/migrations.ts). The fixture in fixtures/store-v1 is a
// data directory written by the first release (schema 1, before versioning: no schema_version, no
// MACs, one account): a rotated symmetric key with an alias, ciphertext under both versions, a
// grant with a retiring principal, an EXTERNAL key waiting for its import, an HMAC key and a key
// pending deletion (fixtures/store-v1/expected.json). fixtures/store-v2 was written by the release
// before Regions (schema 2, commit 57ebe85, through its own SDK calls): the same kinds of records in
// two accounts, with its audit log (fixtures/store-v2/expected.json). Fixtures are copied, never
// changed in place.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { constants, createPrivateKey, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { createKmsApp, KmsError, SqliteKeyStore, explainInDataDir, recoverAuditLog, verifyAuditLog } from '../../kms-proxy/index.ts';
import { SCHEMA_VERSION } from '../../kms-proxy/store/migrations.ts';
import { signedRequest } from './sign.ts';
import { tempDir } from './helpers.ts';

const FIXTURE = new URL('./fixtures/store-v1/', import.meta.url).pathname;
const FIXTURE_V2 = new URL('./fixtures/store-v2/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  clock: number;
  symmetric: { keyId: string; alias: string; blob0: string; plaintext0: string; context0: Record<string, string>; blob1: string; plaintext1: string };
  grant: { grantId: string; grantToken: string };
  external: { keyId: string; importToken: string };
  hmac: { keyId: string; message: string; mac: string };
  pendingDeletion: { keyId: string };
};
const ADMIN = { accessKeyId: 'AKIAV1FIXTUREADMIN00', secretAccessKey: 'v1-fixture-secret-admin-0000000000000000' };
const RETIRER = { accessKeyId: 'AKIAV1FIXTURERETIRE0', secretAccessKey: 'retirer-secret', principalArn: 'arn:aws:iam::111122223333:role/retirer', account: '111122223333' };

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function copyFixture(from = FIXTURE): string {
  const d = tempDir('kms-migrate-');
  dirs.push(d);
  cpSync(from, d, { recursive: true });
  return d;
}

function version(dir: string): { version: number | undefined; tables: string[] } {
  const db = new DatabaseSync(join(dir, 'kms.sqlite'), { readOnly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    const v = tables.includes('schema_version') ? (db.prepare('SELECT version FROM schema_version').get() as { version: number }).version : undefined;
    return { version: v, tables };
  } finally {
    db.close();
  }
}

async function call(app: Awaited<ReturnType<typeof createKmsApp>>, op: string, body: unknown, cred: { accessKeyId: string; secretAccessKey: string } = ADMIN) {
  const { url, init } = await signedRequest(cred, JSON.stringify(body), { target: `TrentService.${op}` });
  const res = await app.app.request(url, init);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * ImportKeyMaterial with an import token issued before the upgrade: its wrapping key, sealed under
 * the same master key, was authenticated as it was copied (the test reads it from the store to wrap).
 */
async function importWithOldToken(app: Awaited<ReturnType<typeof createKmsApp>>, keyId: string, importToken: string, cred?: { accessKeyId: string; secretAccessKey: string }) {
  const token = Buffer.from(importToken, 'base64');
  const stored = await app.service.store.getImportParameters(token.toString('hex'));
  if (!stored) throw new Error('the import parameters did not survive the upgrade');
  const wrappingKey = createPublicKey(createPrivateKey({ key: Buffer.from(stored.privateKey), format: 'der', type: 'pkcs8' }));
  const body = {
    KeyId: keyId,
    ImportToken: token.toString('base64'),
    EncryptedKeyMaterial: publicEncrypt({ key: wrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, randomBytes(32)).toString('base64'),
    ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  };
  return cred === undefined ? call(app, 'ImportKeyMaterial', body) : call(app, 'ImportKeyMaterial', body, cred);
}

describe('a store of schema 1 (the first release) upgrades itself on open', () => {
  test('the fixture really is schema 1: no schema_version, no mac columns', () => {
    const d = copyFixture();
    expect(version(d)).toEqual({ version: undefined, tables: ['aliases', 'grants', 'import_parameters', 'keys', 'materials'] });
    const db = new DatabaseSync(join(d, 'kms.sqlite'), { readOnly: true });
    expect((db.prepare('PRAGMA table_info(keys)').all() as { name: string }[]).map((c) => c.name)).toEqual(['key_id', 'record']);
    db.close();
  });

  test(`every record survives: keys, both material versions, alias, grant, import parameters; the store is now schema ${SCHEMA_VERSION}`, async () => {
    const d = copyFixture();
    // The first release's audit log (audit.log, not kept in the fixture) is not the signed log of
    // today: the documented upgrade sets it aside with 'kms audit recover' (kms-proxy/README.md).
    await recoverAuditLog(d, { reason: 'upgrade from the first release' });
    const app = await createKmsApp({ dataDir: d, clock: () => expected.clock, credentials: [{ ...ADMIN, principalArn: 'arn:aws:iam::111122223333:user/admin', account: '111122223333' }, RETIRER] });
    try {
      expect(version(d).version).toBe(SCHEMA_VERSION);
      // Ciphertext made under material versions 0 and 1 decrypts; the alias still names the key.
      const p0 = await call(app, 'Decrypt', { CiphertextBlob: expected.symmetric.blob0, EncryptionContext: expected.symmetric.context0 });
      expect(Buffer.from(p0.json.Plaintext as string, 'base64').toString()).toBe(expected.symmetric.plaintext0);
      const p1 = await call(app, 'Decrypt', { CiphertextBlob: expected.symmetric.blob1, KeyId: expected.symmetric.alias });
      expect(Buffer.from(p1.json.Plaintext as string, 'base64').toString()).toBe(expected.symmetric.plaintext1);
      const described = await call(app, 'DescribeKey', { KeyId: expected.symmetric.alias });
      expect(described.json.KeyMetadata).toMatchObject({ KeyId: expected.symmetric.keyId, AWSAccountId: '111122223333', Description: 'symmetric, rotated once' });
      // The alias is in its key's account now.
      const aliases = await call(app, 'ListAliases', {});
      expect(aliases.json.Aliases).toEqual([expect.objectContaining({ AliasName: expected.symmetric.alias, TargetKeyId: expected.symmetric.keyId, AliasArn: `arn:aws:kms:us-east-1:111122223333:${expected.symmetric.alias}` })]);
      // The HMAC key computes the same MAC.
      const mac = await call(app, 'VerifyMac', { KeyId: expected.hmac.keyId, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from(expected.hmac.message).toString('base64'), Mac: expected.hmac.mac });
      expect(mac.json.MacValid).toBe(true);
      // The grant is listed, and its retiring principal retires it by its token (token index).
      const grants = await call(app, 'ListGrants', { KeyId: expected.symmetric.keyId });
      expect((grants.json.Grants as { GrantId: string }[]).map((g) => g.GrantId)).toEqual([expected.grant.grantId]);
      const retirable = await call(app, 'ListRetirableGrants', { RetiringPrincipal: RETIRER.principalArn }, RETIRER);
      expect((retirable.json.Grants as { GrantId: string }[]).map((g) => g.GrantId)).toEqual([expected.grant.grantId]);
      expect((await call(app, 'RetireGrant', { GrantToken: expected.grant.grantToken }, RETIRER)).status).toBe(200);
      // The import token still imports: its sealed wrapping key opened under the same master key.
      const pending = await call(app, 'DescribeKey', { KeyId: expected.external.keyId });
      expect((pending.json.KeyMetadata as { KeyState: string }).KeyState).toBe('PendingImport');
      // The import token issued before the upgrade still imports: its wrapping key, sealed under the
      // same master key, was authenticated as it was copied.
      expect((await importWithOldToken(app, expected.external.keyId, expected.external.importToken)).status).toBe(200);
      // The key pending deletion is still pending, and its deletion date is indexed.
      expect(((await call(app, 'DescribeKey', { KeyId: expected.pendingDeletion.keyId })).json.KeyMetadata as { KeyState: string }).KeyState).toBe('PendingDeletion');
      expect(await app.service.store.nextDue(0)).toBe(expected.clock + 30 * 86_400_000);
    } finally {
      await app.close();
    }
    // Opening it again migrates nothing more and changes nothing.
    const again = new SqliteKeyStore({ dataDir: d });
    expect((await again.getKey({ keyId: expected.symmetric.keyId, region: 'us-east-1' }))?.keyId).toBe(expected.symmetric.keyId);
    await again.close();
    expect(version(d).version).toBe(SCHEMA_VERSION);
  });

  test('with a master key that does not open its material, the upgrade is refused and the store is left at schema 1', async () => {
    const d = copyFixture();
    writeFileSync(join(d, 'master.key'), randomBytes(32));
    const err = (await createKmsApp({ dataDir: d }).catch((e: unknown) => e)) as KmsError;
    expect(err).toBeInstanceOf(KmsError);
    expect([err.code, err.awsName]).toEqual(['ERR_KMS_STORE_VERSION', 'KMSInternalException']);
    expect(err.message).toMatch(/does not open under master\.key/);
    expect(version(d)).toEqual({ version: undefined, tables: ['aliases', 'grants', 'import_parameters', 'keys', 'materials'] });
  });

  test('a store of a newer schema than this code knows is refused, not opened', async () => {
    const d = copyFixture();
    new SqliteKeyStore({ dataDir: d }).close();
    const db = new DatabaseSync(join(d, 'kms.sqlite'));
    db.exec(`UPDATE schema_version SET version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_VERSION', message: expect.stringContaining('newer than this nitro-sandbox understands') });
  });

  test('kms explain (read-only) does not upgrade a store: it asks for one start of kms serve', async () => {
    const d = copyFixture();
    await expect(explainInDataDir({ dataDir: d }, { keyId: expected.symmetric.keyId, action: 'kms:Decrypt' })).rejects.toMatchObject({ code: 'ERR_KMS_STORE_VERSION', message: expect.stringContaining("start 'kms serve' on it once") });
    expect(version(d).version).toBeUndefined();
  });

  test('a fresh store is created at the current schema through every migration, with its master key first', () => {
    const d = tempDir('kms-migrate-');
    dirs.push(d);
    new SqliteKeyStore({ dataDir: d }).close();
    expect(version(d)).toEqual({ version: SCHEMA_VERSION, tables: ['aliases', 'grants', 'import_parameters', 'keys', 'materials', 'schema_version', 'store_meta'] });
    expect(readFileSync(join(d, 'master.key')).length).toBe(32);
  });
});

const v2 = JSON.parse(readFileSync(join(FIXTURE_V2, 'expected.json'), 'utf8')) as {
  clock: number;
  adminCredential: { accessKeyId: string; secretAccessKey: string; principalArn: string; account: string };
  partnerCredential: { accessKeyId: string; secretAccessKey: string; principalArn: string; account: string };
  symmetric: { keyId: string; alias: string; blob0: string; plaintext0: string; context0: Record<string, string>; blob1: string; plaintext1: string };
  grant: { grantId: string; grantToken: string; retiringPrincipal: string };
  external: { keyId: string; importToken: string };
  pendingDeletion: { keyId: string; deletionDate: number };
  partnerKey: { keyId: string; blob: string; plaintext: string };
};

describe('a store of schema 2 (before Regions) upgrades itself on open', () => {
  const retirer = { accessKeyId: 'AKIAV2FIXTURERETIRE0', secretAccessKey: 'v2-retirer', principalArn: v2.grant.retiringPrincipal, account: '111122223333' };
  const plain = (r: { json: Record<string, unknown> }) => Buffer.from(r.json.Plaintext as string, 'base64').toString();

  test('the fixture really is schema 2: materials, grants and import parameters without a region', () => {
    const d = copyFixture(FIXTURE_V2);
    expect(version(d).version).toBe(2);
    const db = new DatabaseSync(join(d, 'kms.sqlite'), { readOnly: true });
    for (const t of ['materials', 'grants', 'import_parameters']) expect((db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name)).not.toContain('region');
    db.close();
  });

  test('every record survives with its key\'s Region: two accounts\' keys, both material versions, aliases, the grant, import parameters, the deletion date', async () => {
    const d = copyFixture(FIXTURE_V2);
    const app = await createKmsApp({ dataDir: d, clock: () => v2.clock, credentials: [v2.adminCredential, v2.partnerCredential, retirer] });
    try {
      expect(version(d).version).toBe(SCHEMA_VERSION);
      const db = new DatabaseSync(join(d, 'kms.sqlite'), { readOnly: true });
      expect(db.prepare('SELECT DISTINCT region FROM materials').all()).toEqual([{ region: 'us-east-1' }]);
      db.close();
      expect(plain(await call(app, 'Decrypt', { CiphertextBlob: v2.symmetric.blob0, EncryptionContext: v2.symmetric.context0 }, v2.adminCredential))).toBe(v2.symmetric.plaintext0);
      expect(plain(await call(app, 'Decrypt', { CiphertextBlob: v2.symmetric.blob1, KeyId: v2.symmetric.alias }, v2.adminCredential))).toBe(v2.symmetric.plaintext1);
      // Each account's alias/v2-data still names its own key.
      expect(plain(await call(app, 'Decrypt', { CiphertextBlob: v2.partnerKey.blob, KeyId: v2.symmetric.alias }, v2.partnerCredential))).toBe(v2.partnerKey.plaintext);
      const rotations = await call(app, 'ListKeyRotations', { KeyId: v2.symmetric.keyId }, v2.adminCredential);
      expect((rotations.json.Rotations as { RotationType: string }[]).map((r) => r.RotationType)).toEqual(['ON_DEMAND']);
      const grants = await call(app, 'ListGrants', { KeyId: v2.symmetric.keyId }, v2.adminCredential);
      expect((grants.json.Grants as { GrantId: string }[]).map((g) => g.GrantId)).toEqual([v2.grant.grantId]);
      const retirable = await call(app, 'ListRetirableGrants', { RetiringPrincipal: retirer.principalArn }, retirer);
      expect((retirable.json.Grants as { GrantId: string }[]).map((g) => g.GrantId)).toEqual([v2.grant.grantId]);
      expect((await call(app, 'RetireGrant', { GrantToken: v2.grant.grantToken }, retirer)).status).toBe(200);
      // The import token issued before the upgrade still imports, in its key's Region.
      expect((await app.service.store.getImportParameters(Buffer.from(v2.external.importToken, 'base64').toString('hex')))?.region).toBe('us-east-1');
      expect((await importWithOldToken(app, v2.external.keyId, v2.external.importToken, v2.adminCredential)).status).toBe(200);
      expect(await app.service.store.nextDue(0)).toBe(v2.pendingDeletion.deletionDate);
      // Listing order and the audit log carry on.
      const keys = await call(app, 'ListKeys', {}, v2.adminCredential);
      expect((keys.json.Keys as { KeyId: string }[]).map((k) => k.KeyId)).toEqual([v2.symmetric.keyId, v2.external.keyId, v2.pendingDeletion.keyId]);
    } finally {
      await app.close();
    }
    expect((await verifyAuditLog(d)).ok).toBe(true);
  });

  test.each([
    ['keys', "UPDATE keys SET due = 1 WHERE key_id = '%s'", 'keys row'],
    ['materials', "UPDATE materials SET rotation_type = 'AUTOMATIC' WHERE key_id = '%s' AND version = 1", 'materials row'],
    ['grants', "UPDATE grants SET record = json_set(record, '$.operations', json('[\"Decrypt\",\"Encrypt\"]'))", 'grants row'],
    ['import_parameters', "UPDATE import_parameters SET record = json_set(record, '$.validTo', 99999999999999)", 'import_parameters row'],
  ])('a %s row changed while the store was at schema 2 is refused by the upgrade, which leaves the store at schema 2', async (_table, sql, what) => {
    const d = copyFixture(FIXTURE_V2);
    const db = new DatabaseSync(join(d, 'kms.sqlite'));
    db.exec(sql.replace('%s', v2.symmetric.keyId));
    db.close();
    const err = (await createKmsApp({ dataDir: d, clock: () => v2.clock, credentials: [v2.adminCredential] }).catch((e: unknown) => e)) as KmsError;
    expect(err).toBeInstanceOf(KmsError);
    expect([err.code, err.awsName]).toEqual(['ERR_KMS_STORE_INTEGRITY', 'KMSInternalException']);
    expect(err.message).toContain(what);
    expect(err.message).toContain('left at schema version 2');
    expect(version(d).version).toBe(2);
  });
});
