// The store as an attacker with write access to the data directory (but not to master.key) meets
// it: a key policy edited in the database is refused, not honoured (KMSInternalException to the
// client, the row and reason to the operator through onInternalError); a missing master.key beside
// an existing store refuses to start and is never regenerated; another master.key is refused at once.
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { randomBytes } from 'node:crypto';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, test } from 'vitest';
import { createKmsApp, KmsError, type Credential } from '../../kms-proxy/index.ts';
import { deriveSubkey, loadMasterKey, loadOrCreateMasterKey, openMasterKey } from '../../kms-proxy/store/master-key.ts';
import { client, failure, startFixture, tempDir } from './helpers.ts';

const ACCOUNT = '111122223333';
const ADMIN: Credential = { accessKeyId: 'AKIAADMIN00000000000', secretAccessKey: 'admin-secret', principalArn: `arn:aws:iam::${ACCOUNT}:user/admin`, account: ACCOUNT };
const MALLORY: Credential = { accessKeyId: 'AKIAMALLORY000000000', secretAccessKey: 'mallory-secret', principalArn: `arn:aws:iam::${ACCOUNT}:user/mallory`, account: ACCOUNT };

const dirs: string[] = [];
function dir(): string {
  const d = tempDir('kms-integrity-');
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Only the admin may use the key: Mallory is not named. */
const adminOnly = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'admin', Effect: 'Allow', Principal: { AWS: ADMIN.principalArn }, Action: 'kms:*', Resource: '*' }],
});

describe('a key policy edited directly in the database', () => {
  test('is refused, not honoured: Mallory, whom only the edited policy allows, gets KMSInternalException, and the operator is told which row', async () => {
    const d = dir();
    const a = await startFixture({ dataDir: d, credentials: [ADMIN, MALLORY] });
    const keyId = (await a.kms.send(new CreateKeyCommand({ Policy: adminOnly }))).KeyMetadata?.KeyId ?? '';
    const blob = (await a.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret') }))).CiphertextBlob;
    const mallory = client(a.server, MALLORY);
    expect((await failure(() => mallory.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('AccessDeniedException');
    mallory.destroy();
    await a.stop();

    // The attacker rewrites the policy to allow everyone, keeping the row otherwise intact.
    const db = new DatabaseSync(join(d, 'kms.sqlite'));
    const open = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] });
    db.prepare("UPDATE keys SET record = json_set(record, '$.policy', ?) WHERE key_id = ?").run(open, keyId);
    db.close();

    const reported: unknown[] = [];
    const b = await startFixture({ dataDir: d, credentials: [ADMIN, MALLORY], onInternalError: (e) => reported.push(e) });
    const m = client(b.server, MALLORY);
    const refused = await failure(() => m.send(new DecryptCommand({ CiphertextBlob: blob })));
    expect([refused.name, refused.$metadata?.httpStatusCode]).toEqual(['KMSInternalException', 500]);
    expect(refused.message).toBe('An internal error occurred.');
    // The admin is refused too: the key cannot be trusted, whoever asks.
    expect((await failure(() => b.kms.send(new DescribeKeyCommand({ KeyId: keyId })))).name).toBe('KMSInternalException');
    expect(reported.length).toBeGreaterThanOrEqual(1);
    const e = reported[0] as KmsError;
    expect(e).toBeInstanceOf(KmsError);
    expect([e.code, e.awsName]).toEqual(['ERR_KMS_STORE_INTEGRITY', 'KMSInternalException']);
    expect(e.detail).toContain(`keys row ${keyId} failed its integrity check`);
    m.destroy();
    await b.stop();
  });
});

describe('the master key', () => {
  test('missing beside an existing store: the KMS refuses to start, names the fix, and never writes a new one', async () => {
    const d = dir();
    const a = await startFixture({ dataDir: d });
    await a.kms.send(new CreateKeyCommand({}));
    await a.stop();
    unlinkSync(join(d, 'master.key'));
    const err = (await createKmsApp({ dataDir: d }).catch((e: unknown) => e)) as KmsError;
    expect(err).toBeInstanceOf(KmsError);
    expect([err.code, err.awsName]).toEqual(['ERR_KMS_MASTER_KEY_MISSING', 'KMSInternalException']);
    expect(err.message).toMatch(/kms\.sqlite exists but its master key .*master\.key is missing\. Restore master\.key from a backup/);
    expect(existsSync(join(d, 'master.key'))).toBe(false);
    // Nor does a second attempt, nor opening the master key directly.
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_MASTER_KEY_MISSING' });
    expect(() => openMasterKey(d)).toThrow(expect.objectContaining({ code: 'ERR_KMS_MASTER_KEY_MISSING' }));
    expect(() => loadMasterKey(join(d, 'master.key'))).toThrow(expect.objectContaining({ code: 'ERR_KMS_MASTER_KEY_MISSING' }));
    // The first release's entry point keeps the name, with the same rule (the audit log calls it).
    expect(() => loadOrCreateMasterKey(join(d, 'master.key'))).toThrow(expect.objectContaining({ code: 'ERR_KMS_MASTER_KEY_MISSING' }));
    expect(existsSync(join(d, 'master.key'))).toBe(false);
  });

  test('subkeys are HKDF-SHA256 with an empty salt and the label as info (RFC 5869, test case 3); labels give independent keys', () => {
    const okm = deriveSubkey(new Uint8Array(22).fill(0x0b), '', 42);
    expect(Buffer.from(okm).toString('hex')).toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
    const master = randomBytes(32);
    expect(deriveSubkey(master, 'nitro-sandbox/kms/store/record-mac/v1')).not.toEqual(deriveSubkey(master, 'nitro-sandbox/kms/audit-signing-key/v1'));
  });

  test('another master key beside a store is refused at start (ERR_KMS_MASTER_KEY_MISMATCH), before any request fails', async () => {
    const d = dir();
    const a = await startFixture({ dataDir: d });
    await a.kms.send(new CreateKeyCommand({}));
    await a.stop();
    const original = readFileSync(join(d, 'master.key'));
    writeFileSync(join(d, 'master.key'), randomBytes(32));
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_MASTER_KEY_MISMATCH', awsName: 'KMSInternalException' });
    // Restoring the right one is the whole recovery.
    writeFileSync(join(d, 'master.key'), original);
    const b = await createKmsApp({ dataDir: d });
    await b.close();
  });

  test('a fresh data directory gets a new 0600 master key; the store never exists without it', async () => {
    const d = dir();
    const key = openMasterKey(d);
    expect(key.length).toBe(32);
    expect(loadMasterKey(join(d, 'master.key'))).toEqual(key);
    // Opening again loads the same key rather than making another.
    expect(openMasterKey(d)).toEqual(key);
  });
});
