// Key lifecycle, aliases and tags through the unmodified @aws-sdk/client-kms over HTTP.
import {
  CancelKeyDeletionCommand, CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, DescribeKeyCommand, DisableKeyCommand,
  EnableKeyCommand, EncryptCommand, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand, ScheduleKeyDeletionCommand,
  TagResourceCommand, UntagResourceCommand, UpdateAliasCommand, UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { failure, startFixture, type Fixture } from './helpers.ts';

let f: Fixture;
let now = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;

beforeAll(async () => {
  f = await startFixture({ clock: () => now, maintenanceIntervalMs: 10 });
});
afterAll(async () => f.stop());

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}) {
  const r = await f.kms.send(new CreateKeyCommand(input));
  const m = r.KeyMetadata;
  if (!m?.KeyId || !m.Arn) throw new Error('no metadata');
  return m as typeof m & { KeyId: string; Arn: string };
}

describe('CreateKey / DescribeKey', () => {
  test('a default key is an Enabled SYMMETRIC_DEFAULT key with a full ARN', async () => {
    const m = await newKey({ Description: 'first' });
    expect(m.Arn).toBe(`arn:aws:kms:us-east-1:111122223333:key/${m.KeyId}`);
    expect(m).toMatchObject({ KeyState: 'Enabled', Enabled: true, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', Origin: 'AWS_KMS', KeyManager: 'CUSTOMER', Description: 'first', EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] });
    expect(m.CreationDate?.getTime()).toBe(now);
  });

  test.each([
    ['RSA_2048', 'ENCRYPT_DECRYPT', { EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] }],
    ['RSA_2048', 'SIGN_VERIFY', { SigningAlgorithms: expect.arrayContaining(['RSASSA_PSS_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_512']) }],
    ['ECC_NIST_P256', 'SIGN_VERIFY', { SigningAlgorithms: ['ECDSA_SHA_256'] }],
    ['ECC_NIST_P384', 'KEY_AGREEMENT', { KeyAgreementAlgorithms: ['ECDH'] }],
    ['ECC_NIST_P521', 'SIGN_VERIFY', { SigningAlgorithms: ['ECDSA_SHA_512'] }],
    ['ECC_SECG_P256K1', 'SIGN_VERIFY', { SigningAlgorithms: ['ECDSA_SHA_256'] }],
    ['HMAC_224', 'GENERATE_VERIFY_MAC', { MacAlgorithms: ['HMAC_SHA_224'] }],
    ['HMAC_512', 'GENERATE_VERIFY_MAC', { MacAlgorithms: ['HMAC_SHA_512'] }],
  ] as const)('KeySpec %s with KeyUsage %s', async (KeySpec, KeyUsage, extra) => {
    const m = await newKey({ KeySpec, KeyUsage });
    expect(m).toMatchObject({ KeySpec, KeyUsage, KeyState: 'Enabled', ...extra });
  });

  test('Origin EXTERNAL creates a key PendingImport, which cannot encrypt', async () => {
    const m = await newKey({ Origin: 'EXTERNAL' });
    expect(m.KeyState).toBe('PendingImport');
    const e = await failure(() => f.kms.send(new EncryptCommand({ KeyId: m.KeyId, Plaintext: Buffer.from('x') })));
    expect(e.name).toBe('KMSInvalidStateException');
    expect(e.message).toBe(`${m.Arn} is pending import.`);
  });

  test('invalid combinations are refused with the exception AWS raises', async () => {
    expect((await failure(() => newKey({ KeySpec: 'HMAC_256' }))).name).toBe('ValidationException');
    expect((await failure(() => newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' }))).name).toBe('ValidationException');
    expect((await failure(() => newKey({ KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT' }))).name).toBe('ValidationException');
    expect((await failure(() => newKey({ Origin: 'AWS_CLOUDHSM' }))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => newKey({ Policy: '{"Statement":' }))).name).toBe('MalformedPolicyDocumentException');
    expect((await failure(() => newKey({ Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] }))).name).toBe('TagException');
    const long = await failure(() => newKey({ Description: 'x'.repeat(8193) }));
    expect(long.name).toBe('ValidationException');
    expect(long.message).toMatch(/at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192$/);
  });

  test('a policy that would lock the caller out is refused unless BypassPolicyLockoutSafetyCheck', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'kms:*', Resource: '*' }] });
    const e = await failure(() => newKey({ Policy: policy }));
    expect(e.name).toBe('MalformedPolicyDocumentException');
    expect(e.message).toBe('The new key policy will not allow you to update the key policy in the future.');
    expect((await newKey({ Policy: policy, BypassPolicyLockoutSafetyCheck: true })).KeyState).toBe('Enabled');
  });

  test('DescribeKey accepts key id, key ARN, alias name and alias ARN', async () => {
    const m = await newKey();
    await f.kms.send(new CreateAliasCommand({ AliasName: 'alias/describe-me', TargetKeyId: m.KeyId }));
    for (const KeyId of [m.KeyId, m.Arn, 'alias/describe-me', 'arn:aws:kms:us-east-1:111122223333:alias/describe-me']) {
      expect((await f.kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata?.Arn).toBe(m.Arn);
    }
  });

  test('unknown keys: NotFoundException with AWS messages', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const e = await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: id })));
    expect(e.name).toBe('NotFoundException');
    expect(e.message).toBe(`Key 'arn:aws:kms:us-east-1:111122223333:key/${id}' does not exist`);
    expect((await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: 'not-a-key' })))).message).toBe("Invalid keyId 'not-a-key'");
    expect((await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:eu-west-1:111122223333:key/${id}` })))).name).toBe('NotFoundException');
    const a = await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' })));
    expect(a.message).toBe('Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found.');
  });
});

describe('ListKeys', () => {
  test('pages with Limit, NextMarker and Truncated', async () => {
    await newKey();
    await newKey();
    const all = await f.kms.send(new ListKeysCommand({}));
    const n = all.Keys?.length ?? 0;
    expect(n).toBeGreaterThan(2);
    const seen: string[] = [];
    let Marker: string | undefined;
    do {
      const p = await f.kms.send(new ListKeysCommand({ Limit: 2, Marker }));
      expect(p.Keys?.length).toBeLessThanOrEqual(2);
      for (const k of p.Keys ?? []) seen.push(k.KeyId ?? '');
      expect(p.Truncated).toBe(p.NextMarker !== undefined);
      Marker = p.NextMarker;
    } while (Marker);
    expect(seen).toEqual(all.Keys?.map((k) => k.KeyId));
    expect((await failure(() => f.kms.send(new ListKeysCommand({ Marker: 'garbage' })))).name).toBe('InvalidMarkerException');
    expect((await failure(() => f.kms.send(new ListKeysCommand({ Limit: 1001 })))).name).toBe('ValidationException');
  });
});

describe('key states', () => {
  test('DisableKey → DisabledException "<arn> is disabled."; EnableKey restores', async () => {
    const m = await newKey();
    await f.kms.send(new DisableKeyCommand({ KeyId: m.KeyId }));
    const e = await failure(() => f.kms.send(new EncryptCommand({ KeyId: m.KeyId, Plaintext: Buffer.from('x') })));
    expect(e.name).toBe('DisabledException');
    expect(e.message).toBe(`${m.Arn} is disabled.`);
    await f.kms.send(new EnableKeyCommand({ KeyId: m.Arn }));
    await f.kms.send(new EncryptCommand({ KeyId: m.KeyId, Plaintext: Buffer.from('x') }));
  });

  test('ScheduleKeyDeletion: window 7–30 days, PendingDeletion refuses use, Cancel leaves it Disabled', async () => {
    const m = await newKey();
    const bad = await failure(() => f.kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId, PendingWindowInDays: 6 })));
    expect(bad.name).toBe('ValidationException');
    expect(bad.message).toBe("1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7");
    const s = await f.kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId }));
    expect(s).toMatchObject({ KeyId: m.Arn, KeyState: 'PendingDeletion', PendingWindowInDays: 30 });
    expect(s.DeletionDate?.getTime()).toBe(now + 30 * DAY);
    const e = await failure(() => f.kms.send(new EncryptCommand({ KeyId: m.KeyId, Plaintext: Buffer.from('x') })));
    expect(e.name).toBe('KMSInvalidStateException');
    expect(e.message).toBe(`${m.Arn} is pending deletion.`);
    expect((await failure(() => f.kms.send(new EnableKeyCommand({ KeyId: m.KeyId })))).name).toBe('KMSInvalidStateException');
    expect((await failure(() => f.kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId })))).name).toBe('KMSInvalidStateException');
    expect((await f.kms.send(new CancelKeyDeletionCommand({ KeyId: m.KeyId }))).KeyId).toBe(m.Arn);
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: m.KeyId }))).KeyMetadata?.KeyState).toBe('Disabled');
    expect((await failure(() => f.kms.send(new CancelKeyDeletionCommand({ KeyId: m.KeyId })))).name).toBe('KMSInvalidStateException');
  });

  test('EnableKey and DisableKey refuse a key pending deletion or pending import (KMSInvalidStateException naming the state)', async () => {
    const doomed = await newKey();
    await f.kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.KeyId }));
    const external = await newKey({ Origin: 'EXTERNAL' });
    expect(external.KeyState).toBe('PendingImport');
    for (const Command of [EnableKeyCommand, DisableKeyCommand]) {
      const d = await failure(() => f.kms.send(new Command({ KeyId: doomed.KeyId })));
      expect([d.name, d.message]).toEqual(['KMSInvalidStateException', `${doomed.Arn} is pending deletion.`]);
      const i = await failure(() => f.kms.send(new Command({ KeyId: external.KeyId })));
      expect([i.name, i.message]).toEqual(['KMSInvalidStateException', `${external.Arn} is pending import.`]);
    }
    // Nothing changed: the refused calls left both states as they were.
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: doomed.KeyId }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: external.KeyId }))).KeyMetadata?.KeyState).toBe('PendingImport');
  });

  test('the key is really deleted when the window ends (injected clock), even with no request', async () => {
    const m = await newKey();
    await f.kms.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: m.KeyId }));
    await f.kms.send(new ScheduleKeyDeletionCommand({ KeyId: m.KeyId, PendingWindowInDays: 7 }));
    now += 7 * DAY - 1000;
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: m.KeyId }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    now += 2000;
    // The maintenance timer (10 ms here) deletes it without any request arriving.
    for (let i = 0; i < 500 && (await f.server.service.store.getKey({ keyId: m.KeyId ?? '', region: 'us-east-1' })); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await f.server.service.store.getKey({ keyId: m.KeyId ?? '', region: 'us-east-1' })).toBeUndefined();
    expect(await f.server.service.store.getAlias({ account: '111122223333', region: 'us-east-1' }, 'alias/doomed')).toBeUndefined();
    expect((await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: m.KeyId })))).name).toBe('NotFoundException');
  });

  test('UpdateKeyDescription', async () => {
    const m = await newKey({ Description: 'old' });
    await f.kms.send(new UpdateKeyDescriptionCommand({ KeyId: m.KeyId, Description: 'new' }));
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: m.KeyId }))).KeyMetadata?.Description).toBe('new');
    expect((await failure(() => f.kms.send(new UpdateKeyDescriptionCommand({ KeyId: m.KeyId } as never)))).name).toBe('ValidationException');
  });
});

describe('aliases', () => {
  test('create, list (also by key), update, delete', async () => {
    const a = await newKey();
    const b = await newKey();
    await f.kms.send(new CreateAliasCommand({ AliasName: 'alias/app/current', TargetKeyId: a.Arn }));
    const listed = await f.kms.send(new ListAliasesCommand({ KeyId: a.KeyId }));
    expect(listed.Aliases).toEqual([
      expect.objectContaining({ AliasName: 'alias/app/current', AliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/app/current', TargetKeyId: a.KeyId }),
    ]);
    await f.kms.send(new UpdateAliasCommand({ AliasName: 'alias/app/current', TargetKeyId: b.KeyId }));
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/current' }))).KeyMetadata?.KeyId).toBe(b.KeyId);
    const enc = await f.kms.send(new EncryptCommand({ KeyId: 'arn:aws:kms:us-east-1:111122223333:alias/app/current', Plaintext: Buffer.from('x') }));
    expect(enc.KeyId).toBe(b.Arn);
    await f.kms.send(new DeleteAliasCommand({ AliasName: 'alias/app/current' }));
    expect((await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/current' })))).name).toBe('NotFoundException');
    expect((await failure(() => f.kms.send(new DeleteAliasCommand({ AliasName: 'alias/app/current' })))).name).toBe('NotFoundException');
  });

  test('alias rules: prefix, reserved alias/aws/, characters, length, duplicates, type changes', async () => {
    const k = await newKey();
    const noPrefix = await failure(() => f.kms.send(new CreateAliasCommand({ AliasName: 'app', TargetKeyId: k.KeyId })));
    expect(noPrefix.name).toBe('ValidationException');
    expect(noPrefix.message).toMatch(/^Alias must start with the prefix "alias\/"/);
    expect((await failure(() => f.kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: k.KeyId })))).name).toBe('InvalidAliasNameException');
    expect((await failure(() => f.kms.send(new CreateAliasCommand({ AliasName: 'alias/white space', TargetKeyId: k.KeyId })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new CreateAliasCommand({ AliasName: `alias/${'a'.repeat(251)}`, TargetKeyId: k.KeyId })))).name).toBe('ValidationException');
    await f.kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: k.KeyId }));
    const dup = await failure(() => f.kms.send(new CreateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: k.KeyId })));
    expect(dup.name).toBe('AlreadyExistsException');
    const hmac = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    expect((await failure(() => f.kms.send(new UpdateAliasCommand({ AliasName: 'alias/dup', TargetKeyId: hmac.KeyId })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: 'alias/dup' })))).name).toBe('NotFoundException');
  });
});

describe('tags', () => {
  test('TagResource, ListResourceTags, UntagResource; aws: prefix is TagException', async () => {
    const k = await newKey({ Tags: [{ TagKey: 'team', TagValue: 'blue' }] });
    await f.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'env', TagValue: 'dev' }, { TagKey: 'team', TagValue: 'red' }] }));
    expect((await f.kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }))).Tags).toEqual([
      { TagKey: 'team', TagValue: 'red' },
      { TagKey: 'env', TagValue: 'dev' },
    ]);
    await f.kms.send(new UntagResourceCommand({ KeyId: k.Arn, TagKeys: ['team'] }));
    expect((await f.kms.send(new ListResourceTagsCommand({ KeyId: k.KeyId }))).Tags).toEqual([{ TagKey: 'env', TagValue: 'dev' }]);
    expect((await failure(() => f.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'aws:cloudformation', TagValue: 'x' }] })))).name).toBe('TagException');
    const long = await failure(() => f.kms.send(new TagResourceCommand({ KeyId: k.KeyId, Tags: [{ TagKey: 'k'.repeat(129), TagValue: 'x' }] })));
    expect(long.name).toBe('ValidationException');
    expect(long.message).toContain("at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128");
  });
});
