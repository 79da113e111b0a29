// Resource quotas as AWS has them (KMS Developer Guide, "Resource quotas": keys per account and
// Region 100,000, aliases per key 50, grants per key 50,000; tags per key 50), configurable; past
// one, LimitExceededException. Small values here so a test can reach them.
import { type KMSClient, CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DeleteAliasCommand, RevokeGrantCommand, ScheduleKeyDeletionCommand, TagResourceCommand, UpdateAliasCommand } from '@aws-sdk/client-kms';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKmsApp, DEFAULT_LIMITS, type Credential } from '../../kms-proxy/index.ts';
import { client, failure, startFixture, tempDir, type Fixture } from './helpers.ts';

const DAY = 86_400_000;
let now = Date.UTC(2026, 5, 1);
const ADMIN: Credential = { accessKeyId: 'AKIALIMITADMIN000000', secretAccessKey: 'admin', principalArn: 'arn:aws:iam::111122223333:user/admin', account: '111122223333' };
const THIRD: Credential = { accessKeyId: 'AKIALIMITTHIRD000000', secretAccessKey: 'third', principalArn: 'arn:aws:iam::777788889999:user/third', account: '777788889999' };
const OTHER: Credential = { accessKeyId: 'AKIALIMITOTHER000000', secretAccessKey: 'other', principalArn: 'arn:aws:iam::444455556666:user/other', account: '444455556666' };

// Keys: at most 3 per account; aliases and grants: at most 2 per key (in another account, whose
// key quota is large enough for these tests).
let f: Fixture;
let other: KMSClient;
beforeAll(async () => {
  f = await startFixture({ credentials: [ADMIN, OTHER, THIRD], clock: () => now, maintenanceIntervalMs: 3_600_000, limits: { keysPerAccount: 3, aliasesPerKey: 2, grantsPerKey: 2 } });
  other = client(f.server, OTHER);
});
afterAll(async () => {
  other.destroy();
  await f.stop();
});

const newKey = async (kms = f.kms) => (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';

test('AWS\'s defaults', () => {
  expect(DEFAULT_LIMITS).toEqual({ keysPerAccount: 100_000, aliasesPerKey: 50, grantsPerKey: 50_000 });
});

describe('keys per account and Region', () => {
  test('the key past the quota is LimitExceededException; it counts keys in every state; another account has its own', async () => {
    const ids = [await newKey(), await newKey(), await newKey()];
    const e = await failure(() => f.kms.send(new CreateKeyCommand({})));
    expect(e.name).toBe('LimitExceededException');
    expect(e.message).toMatch(/KMS keys quota of 3 for account 111122223333/);
    const third = client(f.server, THIRD);
    expect(await newKey(third)).not.toBe('');
    third.destroy();
    // A key pending deletion still counts (AWS: "regardless of … key state"); once deleted, it does not.
    await f.kms.send(new ScheduleKeyDeletionCommand({ KeyId: ids[0], PendingWindowInDays: 7 }));
    expect((await failure(() => f.kms.send(new CreateKeyCommand({})))).name).toBe('LimitExceededException');
    now += 8 * DAY;
    expect(await newKey()).not.toBe('');
  });
});

describe('aliases and grants per key', () => {
  test('the third alias of a key is LimitExceededException, by CreateAlias or UpdateAlias; deleting one frees the place', async () => {
    const [a, b] = [await newKey(other), await newKey(other)];
    await other.send(new CreateAliasCommand({ AliasName: 'alias/a1', TargetKeyId: a }));
    await other.send(new CreateAliasCommand({ AliasName: 'alias/a2', TargetKeyId: a }));
    expect((await failure(() => other.send(new CreateAliasCommand({ AliasName: 'alias/a3', TargetKeyId: a })))).name).toBe('LimitExceededException');
    await other.send(new CreateAliasCommand({ AliasName: 'alias/b1', TargetKeyId: b }));
    expect((await failure(() => other.send(new UpdateAliasCommand({ AliasName: 'alias/b1', TargetKeyId: a })))).name).toBe('LimitExceededException');
    await other.send(new DeleteAliasCommand({ AliasName: 'alias/a2' }));
    await other.send(new UpdateAliasCommand({ AliasName: 'alias/b1', TargetKeyId: a }));
  });

  test('the third grant of a key is LimitExceededException; repeating a named grant is not a new one; revoking one frees the place', async () => {
    const k = await newKey(other);
    const grant = (name: string) => other.send(new CreateGrantCommand({ KeyId: k, GranteePrincipal: 'arn:aws:iam::444455556666:role/app', Operations: ['Decrypt', 'RetireGrant'], Name: name }));
    const first = await grant('one');
    await grant('two');
    expect((await failure(() => grant('three'))).name).toBe('LimitExceededException');
    expect((await grant('one')).GrantId).toBe(first.GrantId);
    await other.send(new RevokeGrantCommand({ KeyId: k, GrantId: first.GrantId }));
    await grant('three');
  });

  test('tags: at most 50 per key, in a request or on the key (TagException "Too many tags", as AWS answers 51 tags)', async () => {
    const third = client(f.server, THIRD);
    const id = await newKey(third);
    const tags = Array.from({ length: 51 }, (_v, i) => ({ TagKey: `t${i}`, TagValue: 'v' }));
    const many = await failure(() => third.send(new TagResourceCommand({ KeyId: id, Tags: tags })));
    expect([many.name, many.message]).toEqual(['TagException', 'Too many tags']);
    await third.send(new TagResourceCommand({ KeyId: id, Tags: tags.slice(0, 50) }));
    const over = await failure(() => third.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'one-more', TagValue: 'v' }] })));
    expect([over.name, over.message]).toEqual(['TagException', 'Too many tags']);
    third.destroy();
  });
});

test.each([
  [{ keysPerAccount: 0 }, 'limits.keysPerAccount must be a whole number of at least 1'],
  [{ aliasesPerKey: 1.5 }, 'limits.aliasesPerKey must be a whole number'],
  [{ grantsPerKey: -1 }, 'limits.grantsPerKey must be a whole number'],
  [{ tagsPerKey: 5 }, "unknown limit 'tagsPerKey'"],
])('limits %o are refused before the data directory is made (ERR_KMS_VALIDATION)', async (limits, message) => {
  const dataDir = join(tempDir('kms-limits-'), 'data');
  await expect(createKmsApp({ dataDir, limits: limits as never })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: expect.stringContaining(message) });
  expect(existsSync(dataDir)).toBe(false);
});
