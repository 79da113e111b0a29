// The durable store: state survives a restart, key material is sealed at rest under a separate
// master key, generated secrets are 0600 files, and seed files are idempotent.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetKeyPolicyCommand, GetPublicKeyCommand, GetKeyRotationStatusCommand, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, test } from 'vitest';
import { createKmsApp, KmsError } from '../../kms-proxy/index.ts';
import { startFixture, tempDir } from './helpers.ts';

const dirs: string[] = [];
function dir(): string {
  const d = tempDir('kms-store-');
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const SEED_KEY = '0b6a5a3e-2b8e-4a0e-9f55-2f1a4c1f7e01';
const MATERIAL = Buffer.from(Array.from({ length: 32 }, (_b, i) => (i * 37 + 11) & 0xff));
const seedYaml = `
keys:
  - id: ${SEED_KEY}
    description: seeded
    material: ${MATERIAL.toString('base64')}
    aliases: [alias/seeded, alias/seeded-too]
    tags: { team: blue }
    rotation: { enabled: true, periodInDays: 180 }
    policy:
      Version: "2012-10-17"
      Statement:
        - Sid: root
          Effect: Allow
          Principal: { AWS: "arn:aws:iam::111122223333:root" }
          Action: "kms:*"
          Resource: "*"
  - id: 5d7c3a9e-1111-4c2b-9a55-000000000002
    keySpec: HMAC_256
`;

describe('durability', () => {
  test('keys, aliases and ciphertexts survive a restart on the same data directory', async () => {
    const d = dir();
    const a = await startFixture({ dataDir: d });
    const id = (await a.kms.send(new CreateKeyCommand({ Description: 'persist' }))).KeyMetadata?.KeyId ?? '';
    await a.kms.send(new CreateAliasCommand({ AliasName: 'alias/persist', TargetKeyId: id }));
    const blob = (await a.kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('still here'), EncryptionContext: { k: 'v' } }))).CiphertextBlob;
    const cred = a.server.credential;
    await a.stop();
    const b = await startFixture({ dataDir: d });
    expect(b.server.credential).toEqual(cred);
    expect(b.server.credentialsCreated).toBe(false);
    expect((await b.kms.send(new DescribeKeyCommand({ KeyId: 'alias/persist' }))).KeyMetadata?.Description).toBe('persist');
    const p = await b.kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { k: 'v' } }));
    expect(Buffer.from(p.Plaintext ?? []).toString()).toBe('still here');
    await b.stop();
  });

  test('master key and credentials are 0600 files; the database holds no plaintext key material', async () => {
    const d = dir();
    const f = await startFixture({ dataDir: d, seed: writeSeed(d) });
    expect(f.server.credentialsCreated).toBe(true);
    await f.stop();
    expect(statSync(join(d, 'master.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'credentials.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'master.key')).size).toBe(32);
    for (const file of ['kms.sqlite', 'kms.sqlite-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(d, file));
      } catch {
        continue;
      }
      expect(bytes.includes(MATERIAL)).toBe(false);
    }
  });

  test('one KMS per data directory: a second is refused while the first runs, a dead owner\'s lock is taken over', async () => {
    const d = dir();
    const a = await createKmsApp({ dataDir: d });
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_INTERNAL', message: expect.stringContaining(`in use by another KMS (pid ${process.pid})`) });
    await a.close();
    writeFileSync(join(d, 'kms.lock'), '999999999');
    const b = await createKmsApp({ dataDir: d });
    await b.close();
  });

  test('a malformed credentials.json is refused with a typed error', async () => {
    const d = dir();
    writeFileSync(join(d, 'credentials.json'), JSON.stringify([{ accessKeyId: 'AKIA' }]));
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_INTERNAL', message: expect.stringContaining('credentials.json[0]: accessKeyId must be') });
    writeFileSync(join(d, 'credentials.json'), JSON.stringify([]));
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_INTERNAL', message: expect.stringContaining('must be a non-empty array') });
    writeFileSync(join(d, 'credentials.json'), '{');
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_INTERNAL', message: expect.stringContaining('is not valid JSON') });
  });

  test('a corrupt master key file is refused with a typed error', async () => {
    const d = dir();
    writeFileSync(join(d, 'master.key'), 'short');
    await expect(createKmsApp({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_KMS_MASTER_KEY_CORRUPT', awsName: 'KMSInternalException' });
  });
});

function writeSeed(d: string): string {
  const p = join(d, 'seed.yaml');
  writeFileSync(p, seedYaml);
  return p;
}

describe('seed files', () => {
  test('keys get fixed ids, given material, aliases, tags, policy and rotation state', async () => {
    const d = dir();
    const f = await startFixture({ dataDir: d, seed: writeSeed(d) });
    const m = (await f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/seeded' }))).KeyMetadata;
    expect(m).toMatchObject({ KeyId: SEED_KEY, Description: 'seeded', KeyState: 'Enabled' });
    expect((await f.kms.send(new ListResourceTagsCommand({ KeyId: SEED_KEY }))).Tags).toEqual([{ TagKey: 'team', TagValue: 'blue' }]);
    expect((await f.kms.send(new GetKeyRotationStatusCommand({ KeyId: SEED_KEY }))).RotationPeriodInDays).toBe(180);
    expect(JSON.parse((await f.kms.send(new GetKeyPolicyCommand({ KeyId: SEED_KEY }))).Policy ?? '{}').Statement[0].Sid).toBe('root');
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: '5d7c3a9e-1111-4c2b-9a55-000000000002' }))).KeyMetadata?.KeySpec).toBe('HMAC_256');
    // The given material is really used: an independently built blob would need it; a second
    // server seeded from the same file in another directory decrypts this one's ciphertext.
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: 'alias/seeded', Plaintext: Buffer.from('det') }))).CiphertextBlob;
    await f.stop();
    const d2 = dir();
    const g = await startFixture({ dataDir: d2, seed: writeSeed(d2) });
    expect(Buffer.from((await g.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('det');
    await g.stop();
  });

  test('asymmetric material may be seeded as PKCS#8 PEM; GetPublicKey returns its public half', async () => {
    const d = dir();
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const p = join(d, 'seed.json');
    writeFileSync(p, JSON.stringify({ keys: [{ id: '9f0c1d2e-3a4b-4c5d-8e6f-000000000003', keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', material: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) }] }));
    const f = await startFixture({ dataDir: d, seed: p });
    const pub = (await f.kms.send(new GetPublicKeyCommand({ KeyId: '9f0c1d2e-3a4b-4c5d-8e6f-000000000003' }))).PublicKey ?? new Uint8Array();
    expect(Buffer.from(pub).equals(pair.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    await f.stop();
  });

  test('re-seeding is idempotent: same keys, same aliases, material unchanged', async () => {
    const d = dir();
    const seed = writeSeed(d);
    const a = await startFixture({ dataDir: d, seed });
    const before = await a.kms.send(new ListKeysCommand({}));
    const aliases = await a.kms.send(new ListAliasesCommand({}));
    const blob = (await a.kms.send(new EncryptCommand({ KeyId: SEED_KEY, Plaintext: Buffer.from('x') }))).CiphertextBlob;
    await a.stop();
    const b = await startFixture({ dataDir: d, seed });
    expect((await b.kms.send(new ListKeysCommand({}))).Keys).toEqual(before.Keys);
    expect((await b.kms.send(new ListAliasesCommand({}))).Aliases).toEqual(aliases.Aliases);
    expect(Buffer.from((await b.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('x');
    await b.stop();
  });

  test.each([
    ['not a list', 'keys: 3'],
    ['bad id', 'keys:\n  - id: nope'],
    ['bad spec', `keys:\n  - id: ${SEED_KEY}\n    keySpec: AES_999`],
    ['short material', `keys:\n  - id: ${SEED_KEY}\n    material: AAAA`],
    ['bad policy', `keys:\n  - id: ${SEED_KEY}\n    policy: "{"`],
    ['bad alias', `keys:\n  - id: ${SEED_KEY}\n    aliases: [noprefix]`],
    ['aliases not a list', `keys:\n  - id: ${SEED_KEY}\n    aliases: alias/one`],
    ['unknown state', `keys:\n  - id: ${SEED_KEY}\n    state: Bogus`],
    ['description not a string', `keys:\n  - id: ${SEED_KEY}\n    description: [a]`],
    ['material not a string', `keys:\n  - id: ${SEED_KEY}\n    material: 5`],
    ['asymmetric material that is not a private key', `keys:\n  - id: ${SEED_KEY}\n    keySpec: ECC_NIST_P256\n    keyUsage: SIGN_VERIFY\n    material: AAAA`],
    ['asymmetric material of another spec', `keys:\n  - id: ${SEED_KEY}\n    keySpec: ECC_NIST_P256\n    keyUsage: SIGN_VERIFY\n    material: ${generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')}`],
    ['rotation period out of range', `keys:\n  - id: ${SEED_KEY}\n    rotation: { enabled: true, periodInDays: 5 }`],
    ['rotation of a key spec that cannot rotate', `keys:\n  - id: ${SEED_KEY}\n    keySpec: ECC_NIST_P256\n    keyUsage: SIGN_VERIFY\n    rotation: { enabled: true }`],
    ['an unknown key field', `keys:\n  - id: ${SEED_KEY}\n    alias: [alias/typo]`],
    ['an unknown top-level field', `keys: []\nkey:\n  - id: ${SEED_KEY}`],
    ['an account that is not 12 digits', `keys:\n  - id: ${SEED_KEY}\n    account: 1234`],
    ['an unquoted account YAML reads as a number', `keys:\n  - id: ${SEED_KEY}\n    account: 444455556666`],
    ['a key id given twice', `keys:\n  - id: ${SEED_KEY}\n  - id: ${SEED_KEY.toUpperCase()}`],
    ['one alias for two keys of one account', `keys:\n  - id: ${SEED_KEY}\n    aliases: [alias/x]\n  - id: 5d7c3a9e-1111-4c2b-9a55-000000000002\n    aliases: [alias/x]`],
    ['a bad credential', `credentials:\n  - accessKeyId: AKIASEEDED0000000001\n    secretAccessKey: s\n    principalArn: partner`],
  ])('a bad seed (%s) is refused with a typed error', async (_what, text) => {
    const d = dir();
    const p = join(d, 'seed.yaml');
    writeFileSync(p, text);
    const err = await createKmsApp({ dataDir: d, seed: p }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KmsError);
    expect((err as KmsError).code).toMatch(/^ERR_KMS_(VALIDATION|MALFORMED_POLICY_DOCUMENT)$/);
    // Refused as a whole: nothing of it was stored.
    const app = await createKmsApp({ dataDir: d });
    expect((await app.service.store.listKeys({ account: '111122223333', region: 'us-east-1' }, { limit: 1000 })).items).toEqual([]);
    await app.close();
  });

  test('a seed or credentials file over 64 MiB is refused unread, and one that does not parse is refused (ERR_KMS_VALIDATION)', async () => {
    const d = dir();
    const big = join(d, 'big.yaml');
    // Sparse: its size says 64 MiB + 1 without writing it.
    writeFileSync(big, '');
    truncateSync(big, 64 * 1024 * 1024 + 1);
    await expect(createKmsApp({ dataDir: d, seed: big })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: expect.stringMatching(/^seed: .*big\.yaml is 67108865 bytes, more than 67108864$/) });
    await expect(createKmsApp({ dataDir: d, credentialFiles: [big] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: expect.stringMatching(/^credentials: /) });
    const bad = join(d, 'bad.json');
    writeFileSync(bad, '[{');
    await expect(createKmsApp({ dataDir: d, credentialFiles: [bad] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: expect.stringContaining('does not parse') });
  });

  test('a seed may give one alias name to keys of two accounts; a key it names in another account than the stored one is refused', async () => {
    const d = dir();
    const p = join(d, 'seed.yaml');
    const other = '5d7c3a9e-1111-4c2b-9a55-000000000002';
    writeFileSync(p, `keys:\n  - id: ${SEED_KEY}\n    aliases: [alias/same]\n  - id: ${other}\n    account: "444455556666"\n    aliases: [alias/same]\n`);
    const app = await createKmsApp({ dataDir: d, seed: p });
    expect((await app.service.store.getAlias({ account: '111122223333', region: 'us-east-1' }, 'alias/same'))?.keyId).toBe(SEED_KEY);
    expect((await app.service.store.getAlias({ account: '444455556666', region: 'us-east-1' }, 'alias/same'))?.keyId).toBe(other);
    await app.close();
    writeFileSync(p, `keys:\n  - id: ${other}\n    account: "111122223333"\n`);
    await expect(createKmsApp({ dataDir: d, seed: p })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: `seed: key ${other} exists in account 444455556666 (us-east-1), not in 111122223333` });
  });

  test('a seed key may name a served Region: it is made there, with its aliases; a Region not served or malformed is refused', async () => {
    const d = dir();
    const p = join(d, 'seed.yaml');
    writeFileSync(p, `keys:\n  - id: ${SEED_KEY}\n    region: eu-west-1\n    aliases: [alias/west]\n`);
    const app = await createKmsApp({ dataDir: d, seed: p, regions: ['us-east-1', 'eu-west-1'] });
    expect((await app.service.store.getKey({ keyId: SEED_KEY, region: 'eu-west-1' }))?.arn).toBe(`arn:aws:kms:eu-west-1:111122223333:key/${SEED_KEY}`);
    expect(await app.service.store.getKey({ keyId: SEED_KEY, region: 'us-east-1' })).toBeUndefined();
    expect((await app.service.store.getAlias({ account: '111122223333', region: 'eu-west-1' }, 'alias/west'))?.keyId).toBe(SEED_KEY);
    await app.close();
    await expect(createKmsApp({ dataDir: d, seed: p })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: `seed: key ${SEED_KEY}: region eu-west-1 is not one this KMS serves (us-east-1)` });
    writeFileSync(p, `keys:\n  - id: ${SEED_KEY}\n    region: west\n`);
    await expect(createKmsApp({ dataDir: d, seed: p, regions: ['us-east-1', 'eu-west-1'] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: 'seed: key region must be a Region name like us-east-1, got west' });
  });

  test('the served Regions are checked at start-up: names, the default among them, the transient state time', async () => {
    const d = dir();
    await expect(createKmsApp({ dataDir: d, regions: ['us-east-1', 'nowhere'] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: "not an AWS Region name: 'nowhere' (like us-east-1)" });
    await expect(createKmsApp({ dataDir: d, region: 'eu-west-1', regions: ['us-east-1'] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: 'the default region eu-west-1 is not one of the served regions (us-east-1)' });
    await expect(createKmsApp({ dataDir: d, regions: [] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    await expect(createKmsApp({ dataDir: d, transientStateMs: -1 })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    // The default is the first served Region unless named.
    const app = await createKmsApp({ dataDir: d, regions: ['eu-west-1', 'us-east-1'] });
    expect([app.service.region, [...app.service.regions]]).toEqual(['eu-west-1', ['eu-west-1', 'us-east-1']]);
    await app.close();
  });

  test('a seed file that cannot be read is refused with a typed error', async () => {
    const d = dir();
    await expect(createKmsApp({ dataDir: d, seed: join(d, 'missing.yaml') })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
  });

  test('a bad key later in the file refuses the whole seed: earlier keys are not stored', async () => {
    const d = dir();
    const p = join(d, 'seed.yaml');
    writeFileSync(p, `keys:\n  - id: ${SEED_KEY}\n  - id: nope`);
    await expect(createKmsApp({ dataDir: d, seed: p })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    const app = await createKmsApp({ dataDir: d });
    expect((await app.service.store.listKeys({ account: '111122223333', region: 'us-east-1' }, { limit: 1000 })).items).toEqual([]);
    await app.close();
  });
});
