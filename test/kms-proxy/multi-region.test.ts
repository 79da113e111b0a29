// Regions and multi-Region keys end to end, through the unmodified @aws-sdk/client-kms: one KMS
// serving three Regions, a client per Region (its SigV4 scope is the request's Region). KMS
// Developer Guide, "Multi-Region keys in AWS KMS", "Key states of KMS keys"; KMS API Reference,
// "ReplicateKey", "UpdatePrimaryRegion", "ScheduleKeyDeletion". The lifecycle clock is injected:
// the transient states (Creating, Updating) and deletion windows end when the test moves it.
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand,
  EnableKeyRotationCommand, EncryptCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, GetParametersForImportCommand, ImportKeyMaterialCommand,
  KMSClient, ListAliasesCommand, ListGrantsCommand, ListKeyRotationsCommand, ListKeysCommand, ListResourceTagsCommand, PutKeyPolicyCommand,
  ListRetirableGrantsCommand, ReplicateKeyCommand, RetireGrantCommand, RevokeGrantCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand, UpdatePrimaryRegionCommand, type KeyMetadata,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditRecords, failure, startFixture, tempDir, type Fixture } from './helpers.ts';

const ACCOUNT = '111122223333';
const EAST = 'us-east-1';
const WEST = 'eu-west-1';
const SYDNEY = 'ap-southeast-2';
const DAY = 86_400_000;
const SETTLE = 2000;

let f: Fixture;
let now = Date.UTC(2026, 5, 1);
const kms: Record<string, KMSClient> = {};

beforeAll(async () => {
  f = await startFixture({ clock: () => now, regions: [EAST, WEST, SYDNEY], transientStateMs: SETTLE, maintenanceIntervalMs: 10 });
  for (const region of [EAST, WEST, SYDNEY]) {
    kms[region] = new KMSClient({ endpoint: f.server.endpoint, region, credentials: { accessKeyId: f.server.credential.accessKeyId, secretAccessKey: f.server.credential.secretAccessKey }, maxAttempts: 1 });
  }
});
afterAll(async () => {
  for (const c of Object.values(kms)) c.destroy();
  await f.stop();
});

const client = (region: string): KMSClient => kms[region] as KMSClient;
const arn = (region: string, keyId: string) => `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`;

async function describe_(region: string, keyId: string): Promise<KeyMetadata> {
  const m = (await client(region).send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
  if (!m) throw new Error('no metadata');
  return m;
}

async function primaryKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}): Promise<string> {
  const m = (await client(EAST).send(new CreateKeyCommand({ MultiRegion: true, ...input }))).KeyMetadata;
  return m?.KeyId ?? '';
}

async function encrypt(region: string, keyId: string, text: string): Promise<Uint8Array> {
  const out = await client(region).send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(text), EncryptionContext: { app: 'mrk' } }));
  return out.CiphertextBlob ?? new Uint8Array();
}

async function decrypt(region: string, blob: Uint8Array): Promise<string> {
  const out = await client(region).send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { app: 'mrk' } }));
  return Buffer.from(out.Plaintext ?? []).toString();
}

describe('one KMS, several Regions: each request is for the Region of its SigV4 scope', () => {
  test('a key of one Region is not found from another, by key id or by ARN; ListKeys and ListAliases are per Region', async () => {
    const id = (await client(EAST).send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    await client(EAST).send(new CreateAliasCommand({ AliasName: 'alias/regional', TargetKeyId: id }));
    // As AWS answers (localstack's recording of real AWS, test_get_key_in_different_region).
    const byId = await failure(() => client(WEST).send(new DescribeKeyCommand({ KeyId: id })));
    expect([byId.name, byId.message]).toEqual(['NotFoundException', `Key '${arn(WEST, id)}' does not exist`]);
    const byArn = await failure(() => client(WEST).send(new DescribeKeyCommand({ KeyId: arn(EAST, id) })));
    expect([byArn.name, byArn.message]).toEqual(['NotFoundException', `Invalid arn ${EAST}`]);
    expect((await failure(() => client(WEST).send(new DescribeKeyCommand({ KeyId: 'alias/regional' })))).name).toBe('NotFoundException');
    // A ciphertext names its key, and it is looked up in the request's Region only.
    const blob = await encrypt(EAST, id, 'east only');
    expect((await failure(() => client(WEST).send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { app: 'mrk' } })))).name).toBe('NotFoundException');
    expect((await describe_(EAST, id)).Arn).toBe(arn(EAST, id));
    expect((await client(EAST).send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).toContain(id);
    expect((await client(WEST).send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyId)).not.toContain(id);
    // The same alias name in another Region is another alias.
    const westKey = (await client(WEST).send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    await client(WEST).send(new CreateAliasCommand({ AliasName: 'alias/regional', TargetKeyId: westKey }));
    const westAliases = (await client(WEST).send(new ListAliasesCommand({}))).Aliases ?? [];
    expect(westAliases.find((a) => a.AliasName === 'alias/regional')).toMatchObject({ TargetKeyId: westKey, AliasArn: `arn:aws:kms:${WEST}:${ACCOUNT}:alias/regional` });
    expect((await describe_(EAST, 'alias/regional')).KeyId).toBe(id);
  });

  test('a Region the KMS does not serve is refused at the signature, as AWS refuses a scope it does not serve', async () => {
    const other = new KMSClient({ endpoint: f.server.endpoint, region: 'ca-central-1', credentials: f.server.credential, maxAttempts: 1 });
    try {
      const e = await failure(() => other.send(new ListKeysCommand({})));
      expect([e.name, e.message]).toEqual(['InvalidSignatureException', 'Credential should be scoped to a valid region.']);
    } finally {
      other.destroy();
    }
  });

  test('the audit record of each call names its Region (CloudTrail awsRegion)', async () => {
    await client(SYDNEY).send(new ListKeysCommand({ Limit: 1 }));
    const records = await auditRecords(f.server, f.dir);
    expect(records.filter((r) => r.eventName === 'ListKeys').map((r) => r.awsRegion)).toContain(SYDNEY);
    expect(records.filter((r) => r.eventName === 'CreateAlias').map((r) => r.awsRegion).sort()).toEqual([WEST, EAST]);
  });
});

describe('multi-Region keys', () => {
  let mrk: string;
  let eastBlob: Uint8Array;

  test('CreateKey MultiRegion: an mrk- key id, a PRIMARY with no replicas yet', async () => {
    const m = (await client(EAST).send(new CreateKeyCommand({ MultiRegion: true, Description: 'primary', Tags: [{ TagKey: 'side', TagValue: 'east' }] }))).KeyMetadata;
    mrk = m?.KeyId ?? '';
    expect(mrk).toMatch(/^mrk-[0-9a-f]{32}$/);
    expect(m).toMatchObject({ Arn: arn(EAST, mrk), MultiRegion: true, KeyState: 'Enabled', MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: arn(EAST, mrk), Region: EAST }, ReplicaKeys: [] } });
    // A single-Region key says MultiRegion false and has no configuration.
    const single = (await client(EAST).send(new CreateKeyCommand({}))).KeyMetadata;
    expect(single?.MultiRegion).toBe(false);
    expect(single?.MultiRegionConfiguration).toBeUndefined();
    eastBlob = await encrypt(EAST, mrk, 'made in us-east-1');
  });

  test('ReplicateKey: a replica Creating in the other Region, with the same id and its own policy, description and tags', async () => {
    const out = await client(EAST).send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: WEST, Description: 'replica', Tags: [{ TagKey: 'side', TagValue: 'west' }] }));
    // As a recorded ReplicateKey answer (localstack, test_replicate_key): Creating, not Enabled yet.
    expect(out.ReplicaKeyMetadata).toMatchObject({
      KeyId: mrk,
      Arn: arn(WEST, mrk),
      AWSAccountId: ACCOUNT,
      Description: 'replica',
      KeyState: 'Creating',
      Enabled: false,
      KeySpec: 'SYMMETRIC_DEFAULT',
      MultiRegion: true,
      MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Arn: arn(EAST, mrk), Region: EAST }, ReplicaKeys: [{ Arn: arn(WEST, mrk), Region: WEST }] },
    });
    expect(out.ReplicaTags).toEqual([{ TagKey: 'side', TagValue: 'west' }]);
    expect(JSON.parse(out.ReplicaPolicy ?? '{}')).toMatchObject({ Statement: [{ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*' }] });
    // While Creating it is managed, not used ("KMSInvalidStateException: <key ARN> is creating.").
    const creating = await failure(() => decrypt(WEST, eastBlob));
    expect([creating.name, creating.message]).toEqual(['KMSInvalidStateException', `${arn(WEST, mrk)} is creating.`]);
    expect((await failure(() => client(WEST).send(new DisableKeyCommand({ KeyId: mrk })))).message).toBe(`${arn(WEST, mrk)} is creating.`);
    expect((await client(WEST).send(new ListResourceTagsCommand({ KeyId: mrk }))).Tags).toEqual([{ TagKey: 'side', TagValue: 'west' }]);
    expect((await client(EAST).send(new ListResourceTagsCommand({ KeyId: mrk }))).Tags).toEqual([{ TagKey: 'side', TagValue: 'east' }]);
    expect((await describe_(EAST, mrk)).MultiRegionConfiguration?.ReplicaKeys).toEqual([{ Arn: arn(WEST, mrk), Region: WEST }]);
  });

  test('after the transient state, a ciphertext from one Region decrypts with the replica in the other, both ways', async () => {
    now += SETTLE;
    expect(await describe_(WEST, mrk)).toMatchObject({ KeyState: 'Enabled', Enabled: true });
    expect(await decrypt(WEST, eastBlob)).toBe('made in us-east-1');
    expect(await decrypt(EAST, await encrypt(WEST, mrk, 'made in eu-west-1'))).toBe('made in eu-west-1');
    // The Decrypt answer names the key of the request's Region.
    const out = await client(WEST).send(new DecryptCommand({ CiphertextBlob: eastBlob, EncryptionContext: { app: 'mrk' } }));
    expect(out.KeyId).toBe(arn(WEST, mrk));
  });

  test('each related key has its own key policy and grants', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'west-only', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] });
    await client(WEST).send(new PutKeyPolicyCommand({ KeyId: mrk, Policy: policy }));
    expect((await client(WEST).send(new GetKeyPolicyCommand({ KeyId: mrk }))).Policy).toBe(policy);
    expect((await client(EAST).send(new GetKeyPolicyCommand({ KeyId: mrk }))).Policy).not.toBe(policy);
    const retirer = f.server.credential.principalArn;
    const g = await client(WEST).send(new CreateGrantCommand({ KeyId: mrk, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/west-app`, RetiringPrincipal: retirer, Operations: ['Decrypt'] }));
    expect((await client(WEST).send(new ListGrantsCommand({ KeyId: mrk }))).Grants?.map((x) => [x.GrantId, x.KeyId])).toEqual([[g.GrantId, arn(WEST, mrk)]]);
    expect((await client(EAST).send(new ListGrantsCommand({ KeyId: mrk }))).Grants).toEqual([]);
    // ListRetirableGrants lists the Region's grants; a grant is retired in its own Region only.
    expect((await client(WEST).send(new ListRetirableGrantsCommand({ RetiringPrincipal: retirer }))).Grants?.map((x) => x.GrantId)).toEqual([g.GrantId]);
    expect((await client(EAST).send(new ListRetirableGrantsCommand({ RetiringPrincipal: retirer }))).Grants).toEqual([]);
    expect((await failure(() => client(EAST).send(new RetireGrantCommand({ GrantToken: g.GrantToken })))).name).toBe('InvalidGrantTokenException');
    expect((await failure(() => client(EAST).send(new RevokeGrantCommand({ KeyId: mrk, GrantId: g.GrantId })))).name).toBe('NotFoundException');
    await client(WEST).send(new RetireGrantCommand({ GrantToken: g.GrantToken }));
    expect((await client(WEST).send(new ListGrantsCommand({ KeyId: mrk }))).Grants).toEqual([]);
  });

  test('rotation is the primary\'s: it reaches the replica; the replica refuses to change it', async () => {
    const e = await failure(() => client(WEST).send(new EnableKeyRotationCommand({ KeyId: mrk })));
    expect([e.name, e.message]).toEqual(['UnsupportedOperationException', `${arn(WEST, mrk)} is not a multi-Region primary key.`]);
    expect((await failure(() => client(WEST).send(new RotateKeyOnDemandCommand({ KeyId: mrk })))).name).toBe('UnsupportedOperationException');
    await client(EAST).send(new EnableKeyRotationCommand({ KeyId: mrk, RotationPeriodInDays: 90 }));
    expect(await client(WEST).send(new GetKeyRotationStatusCommand({ KeyId: mrk }))).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    await client(EAST).send(new RotateKeyOnDemandCommand({ KeyId: mrk }));
    // Ciphertext under the new material decrypts in the replica's Region; both list the rotation.
    expect(await decrypt(WEST, await encrypt(EAST, mrk, 'after rotation'))).toBe('after rotation');
    const rotations = async (region: string) => (await client(region).send(new ListKeyRotationsCommand({ KeyId: mrk }))).Rotations?.map((r) => [r.KeyMaterialId, r.RotationType]);
    expect(await rotations(WEST)).toEqual(await rotations(EAST));
    expect((await rotations(WEST))?.map((r) => r[1])).toEqual(['ON_DEMAND']);
    // Automatic rotation at its date: the primary rotates, and the replica gets the material.
    now += 90 * DAY;
    expect(await decrypt(WEST, await encrypt(EAST, mrk, 'automatic'))).toBe('automatic');
    expect((await rotations(WEST))?.map((r) => r[1])).toEqual(['ON_DEMAND', 'AUTOMATIC']);
    expect(await rotations(WEST)).toEqual(await rotations(EAST));
  });

  test('ReplicateKey refusals: to the primary\'s Region or one with a replica (AlreadyExists), of a replica or a single-Region key (UnsupportedOperation), to a Region not served, a malformed Region', async () => {
    const same = await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: EAST })));
    expect([same.name, same.message]).toEqual(['AlreadyExistsException', `${EAST} is the Region of the primary key ${arn(EAST, mrk)}: a replica must be in another Region.`]);
    const again = await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: WEST })));
    expect([again.name, again.message]).toEqual(['AlreadyExistsException', `The replica key ${arn(WEST, mrk)} already exists.`]);
    const ofReplica = await failure(() => client(WEST).send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: SYDNEY })));
    expect([ofReplica.name, ofReplica.message]).toEqual(['UnsupportedOperationException', `${arn(WEST, mrk)} is not a multi-Region primary key.`]);
    const single = (await client(EAST).send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    expect((await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: single, ReplicaRegion: WEST })))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: 'sa-east-1' })))).name).toBe('UnsupportedOperationException');
    const bad = await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: 'moon' })));
    expect([bad.name, bad.message]).toEqual(['ValidationException', "1 validation error detected: Value 'moon' at 'replicaRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$"]);
    // An alias is not a KeyId ReplicateKey takes.
    await client(EAST).send(new CreateAliasCommand({ AliasName: 'alias/mrk', TargetKeyId: mrk }));
    expect((await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: 'alias/mrk', ReplicaRegion: SYDNEY })))).name).toBe('NotFoundException');
    // A disabled primary: DisabledException.
    const off = await primaryKey();
    await client(EAST).send(new DisableKeyCommand({ KeyId: off }));
    expect((await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: off, ReplicaRegion: WEST })))).name).toBe('DisabledException');
  });

  test('kms:ReplicaRegion and kms:MultiRegionKeyType in key policies decide', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'all', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        { Sid: 'sydney-only', Effect: 'Deny', Principal: '*', Action: 'kms:ReplicateKey', Resource: '*', Condition: { StringNotEquals: { 'kms:ReplicaRegion': SYDNEY } } },
        { Sid: 'no-delete-primary', Effect: 'Deny', Principal: '*', Action: 'kms:ScheduleKeyDeletion', Resource: '*', Condition: { StringEquals: { 'kms:MultiRegionKeyType': 'PRIMARY' } } },
      ],
    });
    const id = await primaryKey({ Policy: policy });
    const denied = await failure(() => client(EAST).send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: WEST })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain('kms:ReplicateKey');
    await client(EAST).send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: SYDNEY, Policy: policy }));
    expect((await failure(() => client(EAST).send(new ScheduleKeyDeletionCommand({ KeyId: id })))).name).toBe('AccessDeniedException');
    // The replica is not a PRIMARY: the same statement lets its deletion be scheduled.
    now += SETTLE;
    expect((await client(SYDNEY).send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }))).KeyState).toBe('PendingDeletion');
  });

  test('UpdatePrimaryRegion: the replica becomes the primary; both are Updating, usable but not managed, then back as they were', async () => {
    const none = await failure(() => client(EAST).send(new UpdatePrimaryRegionCommand({ KeyId: mrk, PrimaryRegion: SYDNEY })));
    expect([none.name, none.message]).toEqual(['NotFoundException', `Key '${arn(SYDNEY, mrk)}' does not exist`]);
    expect((await failure(() => client(WEST).send(new UpdatePrimaryRegionCommand({ KeyId: mrk, PrimaryRegion: EAST })))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => client(EAST).send(new UpdatePrimaryRegionCommand({ KeyId: mrk, PrimaryRegion: EAST })))).name).toBe('ValidationException');
    await client(EAST).send(new UpdatePrimaryRegionCommand({ KeyId: mrk, PrimaryRegion: WEST }));
    expect((await describe_(EAST, mrk)).KeyState).toBe('Updating');
    expect((await describe_(WEST, mrk)).KeyState).toBe('Updating');
    // "While the key state is Updating, you can use the keys in cryptographic operations, but you
    // cannot replicate the new primary key or perform certain management operations."
    expect(await decrypt(EAST, await encrypt(WEST, mrk, 'while updating'))).toBe('while updating');
    const disabling = await failure(() => client(WEST).send(new DisableKeyCommand({ KeyId: mrk })));
    expect([disabling.name, disabling.message]).toEqual(['KMSInvalidStateException', `${arn(WEST, mrk)} is updating.`]);
    expect((await failure(() => client(WEST).send(new ReplicateKeyCommand({ KeyId: mrk, ReplicaRegion: SYDNEY })))).message).toBe(`${arn(WEST, mrk)} is updating.`);
    now += SETTLE;
    expect(await describe_(WEST, mrk)).toMatchObject({ KeyState: 'Enabled', MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Region: WEST }, ReplicaKeys: [{ Region: EAST }] } });
    expect(await describe_(EAST, mrk)).toMatchObject({ KeyState: 'Enabled', MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Arn: arn(WEST, mrk), Region: WEST } } });
    // Rotation is now the new primary's.
    expect((await failure(() => client(EAST).send(new RotateKeyOnDemandCommand({ KeyId: mrk })))).name).toBe('UnsupportedOperationException');
    await client(WEST).send(new RotateKeyOnDemandCommand({ KeyId: mrk }));
    expect(await decrypt(EAST, await encrypt(WEST, mrk, 'rotated by the new primary'))).toBe('rotated by the new primary');
  });

  test('deletion: a primary with replicas waits in PendingReplicaDeletion, its window starting when the last replica is deleted', async () => {
    // The primary is now in eu-west-1, its replica in us-east-1.
    const scheduled = await client(WEST).send(new ScheduleKeyDeletionCommand({ KeyId: mrk, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({ KeyId: arn(WEST, mrk), KeyState: 'PendingReplicaDeletion', PendingWindowInDays: 7 });
    expect(scheduled.DeletionDate).toBeUndefined();
    expect(await describe_(WEST, mrk)).toMatchObject({ KeyState: 'PendingReplicaDeletion', PendingDeletionWindowInDays: 7, Enabled: false });
    expect((await describe_(WEST, mrk)).DeletionDate).toBeUndefined();
    const using = await failure(() => encrypt(WEST, mrk, 'no'));
    expect([using.name, using.message]).toEqual(['KMSInvalidStateException', `${arn(WEST, mrk)} is pending replica deletion.`]);
    // Cancelling leaves it Disabled, as for any key; scheduling again waits again.
    await client(WEST).send(new CancelKeyDeletionCommand({ KeyId: mrk }));
    expect((await describe_(WEST, mrk)).KeyState).toBe('Disabled');
    await client(WEST).send(new ScheduleKeyDeletionCommand({ KeyId: mrk, PendingWindowInDays: 7 }));
    // The replica is deleted after its own window; then the primary's starts.
    await client(EAST).send(new ScheduleKeyDeletionCommand({ KeyId: mrk, PendingWindowInDays: 7 }));
    now += 7 * DAY + 1000;
    expect((await failure(() => describe_(EAST, mrk))).name).toBe('NotFoundException');
    const waiting = await describe_(WEST, mrk);
    expect(waiting).toMatchObject({ KeyState: 'PendingDeletion', MultiRegionConfiguration: { ReplicaKeys: [] } });
    expect(waiting.DeletionDate?.getTime()).toBe(now + 7 * DAY);
    // Ciphertext of the deleted replica's Region now has no key there, and the primary's is pending deletion.
    expect((await failure(() => decrypt(EAST, eastBlob))).name).toBe('NotFoundException');
    now += 7 * DAY;
    expect((await failure(() => describe_(WEST, mrk))).name).toBe('NotFoundException');
  });

  test('imported key material is not copied: the replica waits for the same material, and refuses another', async () => {
    const id = (await client(EAST).send(new CreateKeyCommand({ MultiRegion: true, Origin: 'EXTERNAL' }))).KeyMetadata?.KeyId ?? '';
    const material = randomBytes(32);
    const importInto = async (region: string, bytes: Buffer) => {
      const p = await client(region).send(new GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
      const pub = createPublicKey({ key: Buffer.from(p.PublicKey ?? []), format: 'der', type: 'spki' });
      const wrapped = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, bytes);
      return client(region).send(new ImportKeyMaterialCommand({ KeyId: id, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
    };
    await importInto(EAST, material);
    const blob = await encrypt(EAST, id, 'imported');
    expect((await client(EAST).send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: WEST }))).ReplicaKeyMetadata?.Origin).toBe('EXTERNAL');
    now += SETTLE;
    expect((await describe_(WEST, id)).KeyState).toBe('PendingImport');
    expect((await failure(() => decrypt(WEST, blob))).message).toBe(`${arn(WEST, id)} is pending import.`);
    // An import token of the primary's Region is not the replica's.
    const eastParams = await client(EAST).send(new GetParametersForImportCommand({ KeyId: id, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const eastPub = createPublicKey({ key: Buffer.from(eastParams.PublicKey ?? []), format: 'der', type: 'spki' });
    const wrappedForEast = publicEncrypt({ key: eastPub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
    expect((await failure(() => client(WEST).send(new ImportKeyMaterialCommand({ KeyId: id, ImportToken: eastParams.ImportToken, EncryptedKeyMaterial: wrappedForEast, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })))).name).toBe('InvalidImportTokenException');
    expect((await failure(() => importInto(WEST, randomBytes(32)))).name).toBe('IncorrectKeyMaterialException');
    await importInto(WEST, material);
    expect(await decrypt(WEST, blob)).toBe('imported');
    expect((await describe_(EAST, id)).KeyState).toBe('Enabled');
  });
});

describe('what a restart keeps', () => {
  test('the related keys, their Regions and materials survive stopping the KMS and starting it again on its data directory', async () => {
    const dir = tempDir('kms-mrk-restart-');
    const options = { dataDir: dir, clock: () => now, regions: [EAST, SYDNEY], transientStateMs: 0 };
    const first = await startFixture(options);
    const sydney = (server: Fixture['server']) => new KMSClient({ endpoint: server.endpoint, region: SYDNEY, credentials: server.credential, maxAttempts: 1 });
    let id: string;
    let blob: Uint8Array;
    try {
      id = (await first.kms.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata?.KeyId ?? '';
      blob = (await first.kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('durable') }))).CiphertextBlob ?? new Uint8Array();
      await first.kms.send(new ReplicateKeyCommand({ KeyId: id, ReplicaRegion: SYDNEY }));
    } finally {
      await first.stop();
    }
    const second = await startFixture(options);
    const c = sydney(second.server);
    try {
      expect((await c.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.MultiRegionConfiguration).toMatchObject({ MultiRegionKeyType: 'REPLICA', PrimaryKey: { Region: EAST } });
      expect(Buffer.from((await c.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('durable');
    } finally {
      c.destroy();
      await second.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
