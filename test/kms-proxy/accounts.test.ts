// Accounts as AWS has them (identity.ts), tested as the attacker: Mallory holds credentials of
// another account (444455556666) on the same KMS as the victim's account (111122223333). Each
// attack of issue 14 fails with the exception AWS answers; what AWS allows across accounts works
// only by key ARN (or alias ARN), only with the key policy and the caller's identity policy.
import {
  CreateAliasCommand, CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EncryptCommand,
  GenerateRandomCommand, GetKeyPolicyCommand, KMSClient, ListAliasesCommand, ListGrantsCommand, ListKeysCommand, ListRetirableGrantsCommand,
  PutKeyPolicyCommand, ReEncryptCommand, RetireGrantCommand, ScheduleKeyDeletionCommand, UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { explainInDataDir, type Credential } from '../../kms-proxy/index.ts';
import { client, failure, startFixture, tempDir, type Fixture } from './helpers.ts';

const VICTIM = '111122223333';
const ATTACKER = '444455556666';
const ADMIN: Credential = { accessKeyId: 'AKIAVICTIMADMIN00000', secretAccessKey: 'victim-admin-secret', principalArn: `arn:aws:iam::${VICTIM}:user/admin`, account: VICTIM };
/** A victim-account principal whose identity policy allows only Decrypt and DescribeKey. */
const READER: Credential = { accessKeyId: 'AKIAVICTIMREADER0000', secretAccessKey: 'victim-reader-secret', principalArn: `arn:aws:iam::${VICTIM}:user/reader`, account: VICTIM, allowedActions: ['kms:Decrypt', 'kms:Describe*'] };
const MALLORY: Credential = { accessKeyId: 'AKIAMALLORY000000000', secretAccessKey: 'mallory-secret', principalArn: `arn:aws:iam::${ATTACKER}:user/mallory`, account: ATTACKER };
/** An attacker-account principal whose identity policy allows nothing at all. */
const NOBODY: Credential = { accessKeyId: 'AKIANOBODY0000000000', secretAccessKey: 'nobody-secret', principalArn: `arn:aws:iam::${ATTACKER}:user/nobody`, account: ATTACKER, allowedActions: [] };

let f: Fixture;
let victim: KMSClient;
let reader: KMSClient;
let mallory: KMSClient;
let nobody: KMSClient;

beforeAll(async () => {
  f = await startFixture({ credentials: [ADMIN, READER, MALLORY, NOBODY] });
  victim = client(f.server, ADMIN);
  reader = client(f.server, READER);
  mallory = client(f.server, MALLORY);
  nobody = client(f.server, NOBODY);
});
const scratchDirs: string[] = [];
function scratch(): string {
  const d = tempDir('kms-accounts-');
  scratchDirs.push(d);
  return d;
}
afterAll(async () => {
  for (const c of [victim, reader, mallory, nobody]) c.destroy();
  await f.stop();
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
});

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${VICTIM}:root` }, Action: 'kms:*', Resource: '*' }, ...statements] });
}

/** Lets the attacker's account do everything on the key, as a careless key policy would. */
const attackerMayDoAll = { Sid: 'partner', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ATTACKER}:root` }, Action: 'kms:*', Resource: '*' };

async function victimKey(p = policy()): Promise<{ KeyId: string; Arn: string }> {
  const m = (await victim.send(new CreateKeyCommand({ Policy: p }))).KeyMetadata;
  return { KeyId: m?.KeyId ?? '', Arn: m?.Arn ?? '' };
}

describe('a principal acts in its own account', () => {
  test('CreateKey by another account makes a key of that account, not of the KMS\'s', async () => {
    const m = (await mallory.send(new CreateKeyCommand({}))).KeyMetadata;
    expect(m?.AWSAccountId).toBe(ATTACKER);
    expect(m?.Arn).toBe(`arn:aws:kms:us-east-1:${ATTACKER}:key/${m?.KeyId}`);
    // Its default policy delegates to the attacker's account, not the victim's.
    const p = JSON.parse((await mallory.send(new GetKeyPolicyCommand({ KeyId: m?.KeyId }))).Policy ?? '{}') as { Statement: { Principal: { AWS: string } }[] };
    expect(p.Statement[0]?.Principal.AWS).toBe(`arn:aws:iam::${ATTACKER}:root`);
  });

  test('alias squatting fails: the attacker\'s alias/prod-data is the attacker\'s; the victim\'s Encrypt by that name finds none (NotFoundException), then its own', async () => {
    const mine = (await mallory.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    await mallory.send(new CreateAliasCommand({ AliasName: 'alias/prod-data', TargetKeyId: mine }));
    const e = await failure(() => victim.send(new EncryptCommand({ KeyId: 'alias/prod-data', Plaintext: Buffer.from('payroll') })));
    expect([e.name, e.message]).toEqual(['NotFoundException', `Alias arn:aws:kms:us-east-1:${VICTIM}:alias/prod-data is not found.`]);
    // The victim can make its own alias of the same name (no AlreadyExistsException), and uses it.
    const key = await victimKey();
    await victim.send(new CreateAliasCommand({ AliasName: 'alias/prod-data', TargetKeyId: key.KeyId }));
    const out = await victim.send(new EncryptCommand({ KeyId: 'alias/prod-data', Plaintext: Buffer.from('payroll') }));
    expect(out.KeyId).toBe(key.Arn);
    // The attacker's alias still names the attacker's key.
    expect((await mallory.send(new DescribeKeyCommand({ KeyId: 'alias/prod-data' }))).KeyMetadata?.KeyId).toBe(mine);
  });

  test('CreateAlias or UpdateAlias to another account\'s key is AccessDeniedException, even when its key policy allows that account everything', async () => {
    const key = await victimKey(policy(attackerMayDoAll));
    const c = await failure(() => mallory.send(new CreateAliasCommand({ AliasName: 'alias/hijack', TargetKeyId: key.Arn })));
    expect(c.name).toBe('AccessDeniedException');
    expect(c.message).toBe(`User: ${MALLORY.principalArn} is not authorized to perform: kms:CreateAlias on resource: ${key.Arn} because no resource-based policy allows the kms:CreateAlias action`);
    const mine = (await mallory.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    await mallory.send(new CreateAliasCommand({ AliasName: 'alias/mine', TargetKeyId: mine }));
    expect((await failure(() => mallory.send(new UpdateAliasCommand({ AliasName: 'alias/mine', TargetKeyId: key.Arn })))).name).toBe('AccessDeniedException');
  });

  test('ListKeys and ListAliases list the caller\'s own account only', async () => {
    const key = await victimKey();
    await victim.send(new CreateAliasCommand({ AliasName: 'alias/victim-only', TargetKeyId: key.KeyId }));
    const keys = (await mallory.send(new ListKeysCommand({ Limit: 1000 }))).Keys ?? [];
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.KeyArn?.includes(`:${ATTACKER}:key/`))).toBe(true);
    expect(keys.map((k) => k.KeyId)).not.toContain(key.KeyId);
    const aliases = (await mallory.send(new ListAliasesCommand({ Limit: 100 }))).Aliases ?? [];
    expect(aliases.map((a) => a.AliasName)).not.toContain('alias/victim-only');
    expect(aliases.every((a) => a.AliasArn?.includes(`:${ATTACKER}:alias/`))).toBe(true);
    expect(((await victim.send(new ListKeysCommand({ Limit: 1000 }))).Keys ?? []).map((k) => k.KeyId)).toContain(key.KeyId);
  });

  test('ListAliases of another account\'s key, ListGrants of a key whose policy does not allow it, ListRetirableGrants of another account\'s principal: AccessDeniedException', async () => {
    const key = await victimKey();
    await victim.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: `arn:aws:iam::${VICTIM}:role/app`, RetiringPrincipal: `arn:aws:iam::${VICTIM}:role/ops`, Operations: ['Decrypt'] }));
    expect((await failure(() => mallory.send(new ListAliasesCommand({ KeyId: key.Arn })))).name).toBe('AccessDeniedException');
    expect((await failure(() => mallory.send(new ListGrantsCommand({ KeyId: key.Arn })))).name).toBe('AccessDeniedException');
    const r = await failure(() => mallory.send(new ListRetirableGrantsCommand({ RetiringPrincipal: `arn:aws:iam::${VICTIM}:role/ops` })));
    expect([r.name, r.message]).toEqual(['AccessDeniedException', `User: ${MALLORY.principalArn} is not authorized to perform: kms:ListRetirableGrants on resource: arn:aws:iam::${VICTIM}:role/ops because no resource-based policy allows the kms:ListRetirableGrants action`]);
    // A bare key id names a key of the caller's own account: the victim's key is not found.
    const nf = await failure(() => mallory.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
    expect([nf.name, nf.message]).toEqual(['NotFoundException', `Key 'arn:aws:kms:us-east-1:${ATTACKER}:key/${key.KeyId}' does not exist`]);
  });

  test('operations that do not cross accounts are denied on another account\'s key whatever its policy allows; the key is unchanged', async () => {
    const key = await victimKey(policy(attackerMayDoAll));
    for (const attempt of [
      () => mallory.send(new DisableKeyCommand({ KeyId: key.Arn })),
      () => mallory.send(new ScheduleKeyDeletionCommand({ KeyId: key.Arn, PendingWindowInDays: 7 })),
      () => mallory.send(new PutKeyPolicyCommand({ KeyId: key.Arn, PolicyName: 'default', Policy: policy(attackerMayDoAll) })),
      () => mallory.send(new GetKeyPolicyCommand({ KeyId: key.Arn, PolicyName: 'default' })),
    ]) {
      expect((await failure(attempt)).name).toBe('AccessDeniedException');
    }
    expect((await victim.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.KeyState).toBe('Enabled');
  });
});

describe('using another account\'s key', () => {
  test('works by key ARN or alias ARN when the key policy allows the caller\'s account, for the cross-account operations', async () => {
    const key = await victimKey(policy(attackerMayDoAll));
    await victim.send(new CreateAliasCommand({ AliasName: 'alias/shared', TargetKeyId: key.KeyId }));
    const blob = (await mallory.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('for the partner') }))).CiphertextBlob;
    // The ciphertext names its key: Decrypt needs no KeyId, and the victim decrypts it too.
    expect(Buffer.from((await mallory.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('for the partner');
    expect(Buffer.from((await victim.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('for the partner');
    const viaAlias = await mallory.send(new EncryptCommand({ KeyId: `arn:aws:kms:us-east-1:${VICTIM}:alias/shared`, Plaintext: Buffer.from('x') }));
    expect(viaAlias.KeyId).toBe(key.Arn);
    expect((await mallory.send(new DescribeKeyCommand({ KeyId: key.Arn }))).KeyMetadata?.AWSAccountId).toBe(VICTIM);
    // The alias name alone means the attacker's own account, where there is none.
    expect((await failure(() => mallory.send(new EncryptCommand({ KeyId: 'alias/shared', Plaintext: Buffer.from('x') })))).name).toBe('NotFoundException');
  });

  test('is AccessDeniedException when the key policy does not allow the caller, by any route (key ARN, alias ARN, ciphertext, ReEncrypt)', async () => {
    const key = await victimKey();
    await victim.send(new CreateAliasCommand({ AliasName: 'alias/private', TargetKeyId: key.KeyId }));
    const blob = (await victim.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('private') }))).CiphertextBlob;
    const mine = (await mallory.send(new CreateKeyCommand({}))).KeyMetadata?.Arn;
    for (const attempt of [
      () => mallory.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') })),
      () => mallory.send(new EncryptCommand({ KeyId: `arn:aws:kms:us-east-1:${VICTIM}:alias/private`, Plaintext: Buffer.from('x') })),
      () => mallory.send(new DecryptCommand({ CiphertextBlob: blob })),
      () => mallory.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: mine })),
      () => mallory.send(new DescribeKeyCommand({ KeyId: key.Arn })),
    ]) {
      const e = await failure(attempt);
      expect(e.name).toBe('AccessDeniedException');
      expect(e.message).toMatch(/because no resource-based policy allows the kms:\w+ action$/);
    }
  });

  test('needs the caller\'s identity policy too: a principal whose own account allows it nothing is denied, naming the identity-based policy', async () => {
    const key = await victimKey(policy(attackerMayDoAll));
    const e = await failure(() => nobody.send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') })));
    expect([e.name, e.message]).toEqual(['AccessDeniedException', `User: ${NOBODY.principalArn} is not authorized to perform: kms:Encrypt on resource: ${key.Arn} because no identity-based policy allows the kms:Encrypt action`]);
    // A key policy naming the principal itself is still not enough across accounts.
    const named = await victimKey(policy({ Sid: 'nobody', Effect: 'Allow', Principal: { AWS: NOBODY.principalArn }, Action: 'kms:Encrypt', Resource: '*' }));
    expect((await failure(() => nobody.send(new EncryptCommand({ KeyId: named.Arn, Plaintext: Buffer.from('x') })))).name).toBe('AccessDeniedException');
  });

  test('a grant whose grantee is the caller itself needs no identity policy, across accounts too; one to its account does', async () => {
    const key = await victimKey();
    const blob = (await victim.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('granted') }))).CiphertextBlob;
    await victim.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: NOBODY.principalArn, Operations: ['Decrypt'] }));
    expect(Buffer.from((await nobody.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('granted');
    const other = await victimKey();
    const blob2 = (await victim.send(new EncryptCommand({ KeyId: other.KeyId, Plaintext: Buffer.from('granted') }))).CiphertextBlob;
    await victim.send(new CreateGrantCommand({ KeyId: other.KeyId, GranteePrincipal: `arn:aws:iam::${ATTACKER}:root`, Operations: ['Decrypt'] }));
    expect((await failure(() => nobody.send(new DecryptCommand({ CiphertextBlob: blob2 })))).message).toMatch(/no identity-based policy allows the kms:Decrypt action$/);
    expect(Buffer.from((await mallory.send(new DecryptCommand({ CiphertextBlob: blob2 }))).Plaintext ?? []).toString()).toBe('granted');
  });

  test('ListRetirableGrants of the caller\'s own principal lists its grants on another account\'s keys; that principal retires them', async () => {
    const key = await victimKey();
    const retiring = MALLORY.principalArn;
    const g = await victim.send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: `arn:aws:iam::${VICTIM}:role/app`, RetiringPrincipal: retiring, Operations: ['Decrypt'] }));
    const listed = (await mallory.send(new ListRetirableGrantsCommand({ RetiringPrincipal: retiring }))).Grants ?? [];
    expect(listed.map((x) => [x.GrantId, x.KeyId, x.IssuingAccount])).toContainEqual([g.GrantId, key.Arn, `arn:aws:iam::${VICTIM}:root`]);
    await mallory.send(new RetireGrantCommand({ GrantToken: g.GrantToken }));
    expect((await mallory.send(new ListRetirableGrantsCommand({ RetiringPrincipal: retiring }))).Grants?.map((x) => x.GrantId)).not.toContain(g.GrantId);
  });
});

describe('the identity policy in the caller\'s own account', () => {
  test('a key policy that allows through the account root delegates to it; one naming the principal itself does not', async () => {
    const key = await victimKey();
    const blob = (await victim.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }))).CiphertextBlob;
    expect(Buffer.from((await reader.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('x');
    const e = await failure(() => reader.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })));
    expect(e.message).toBe(`User: ${READER.principalArn} is not authorized to perform: kms:Encrypt on resource: ${key.Arn} because no identity-based policy allows the kms:Encrypt action`);
    const named = await victimKey(policy({ Sid: 'reader', Effect: 'Allow', Principal: { AWS: READER.principalArn }, Action: 'kms:Encrypt', Resource: '*' }));
    expect((await reader.send(new EncryptCommand({ KeyId: named.KeyId, Plaintext: Buffer.from('x') }))).KeyId).toBe(named.Arn);
  });

  test('a role session is named by a statement naming its role: enough without an identity policy; through the account root it is not', async () => {
    const session: Credential = { accessKeyId: 'AKIAVICTIMSESSION000', secretAccessKey: 'session-secret', principalArn: `arn:aws:sts::${VICTIM}:assumed-role/app/run-1`, account: VICTIM, allowedActions: [] };
    const g = await startFixture({ credentials: [ADMIN, session] });
    const admin = client(g.server, ADMIN);
    const s = client(g.server, session);
    try {
      const named = (await admin.send(new CreateKeyCommand({ Policy: policy({ Sid: 'app', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${VICTIM}:role/app` }, Action: 'kms:Encrypt', Resource: '*' }) }))).KeyMetadata?.KeyId;
      expect((await s.send(new EncryptCommand({ KeyId: named, Plaintext: Buffer.from('x') }))).KeyId).toContain(named ?? '-');
      const viaRoot = (await admin.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
      expect((await failure(() => s.send(new EncryptCommand({ KeyId: viaRoot, Plaintext: Buffer.from('x') })))).message).toMatch(/no identity-based policy allows the kms:Encrypt action$/);
    } finally {
      admin.destroy();
      s.destroy();
      await g.stop();
    }
  });

  test('operations on no key (CreateKey, ListKeys, ListAliases, GenerateRandom, ListRetirableGrants) are decided by it alone', async () => {
    for (const attempt of [
      () => reader.send(new CreateKeyCommand({})),
      () => reader.send(new ListKeysCommand({})),
      () => reader.send(new ListAliasesCommand({})),
      () => reader.send(new GenerateRandomCommand({ NumberOfBytes: 8 })),
      () => reader.send(new ListRetirableGrantsCommand({ RetiringPrincipal: READER.principalArn })),
    ]) {
      const e = await failure(attempt);
      expect(e.name).toBe('AccessDeniedException');
      expect(e.message).toMatch(/because no identity-based policy allows the kms:\w+ action$/);
    }
    expect((await victim.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext?.length).toBe(8);
  });
});

describe('kms explain', () => {
  test('applies the principal\'s identity policy from credentials.json, as the KMS does', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'credentials.json'), JSON.stringify([ADMIN, READER]));
    const g = await startFixture({ dataDir: dir });
    const admin = client(g.server, ADMIN);
    const keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    admin.destroy();
    await g.stop();
    const asReader = (action: string) => explainInDataDir({ dataDir: dir }, { keyId, action, principal: READER.principalArn });
    expect((await asReader('kms:Decrypt')).outcome).toBe('Allowed');
    expect((await asReader('kms:Encrypt')).outcome).toBe('AccessDeniedException');
    expect((await explainInDataDir({ dataDir: dir }, { keyId, action: 'kms:Encrypt', principal: READER.principalArn, allowedActions: ['kms:*'] })).outcome).toBe('Allowed');
  });
});

describe('credentials of several accounts from the seed file and credential files', () => {
  test('a seed file adds credentials and keys of another account; --credentials files add more; a conflicting duplicate is refused', async () => {
    const dir = scratch();
    const seed = join(dir, 'seed.yaml');
    const keyId = '0b6a5a3e-2b8e-4a0e-9f55-2f1a4c1f7e77';
    writeFileSync(
      seed,
      [
        'credentials:',
        '  - accessKeyId: AKIAPARTNER000000001',
        '    secretAccessKey: partner-secret',
        `    principalArn: arn:aws:iam::${ATTACKER}:user/partner`,
        '    allowedActions: [kms:Encrypt, kms:Describe*]',
        'keys:',
        `  - id: ${keyId}`,
        `    account: "${ATTACKER}"`,
        '    aliases: [alias/partner]',
      ].join('\n'),
    );
    const extra = join(dir, 'more.json');
    writeFileSync(extra, JSON.stringify([{ accessKeyId: 'AKIAPARTNER000000002', secretAccessKey: 'partner-2', principalArn: `arn:aws:iam::${ATTACKER}:user/partner2` }]));
    const g = await startFixture({ dataDir: dir, seed, credentialFiles: [extra] });
    try {
      const partner = client(g.server, { accessKeyId: 'AKIAPARTNER000000001', secretAccessKey: 'partner-secret', principalArn: `arn:aws:iam::${ATTACKER}:user/partner`, account: ATTACKER });
      const d = (await partner.send(new DescribeKeyCommand({ KeyId: 'alias/partner' }))).KeyMetadata;
      expect([d?.KeyId, d?.AWSAccountId]).toEqual([keyId, ATTACKER]);
      expect((await failure(() => partner.send(new ListKeysCommand({})))).name).toBe('AccessDeniedException');
      const partner2 = client(g.server, { accessKeyId: 'AKIAPARTNER000000002', secretAccessKey: 'partner-2', principalArn: `arn:aws:iam::${ATTACKER}:user/partner2`, account: ATTACKER });
      expect(((await partner2.send(new ListKeysCommand({}))).Keys ?? []).map((k) => k.KeyId)).toEqual([keyId]);
      // The KMS's own account does not see the seeded key of the other account.
      expect(((await g.kms.send(new ListKeysCommand({}))).Keys ?? []).map((k) => k.KeyId)).not.toContain(keyId);
      partner.destroy();
      partner2.destroy();
    } finally {
      await g.stop();
    }
    writeFileSync(extra, JSON.stringify([{ accessKeyId: 'AKIAPARTNER000000001', secretAccessKey: 'another-secret', principalArn: `arn:aws:iam::${ATTACKER}:user/partner` }]));
    await expect(startFixture({ dataDir: dir, seed, credentialFiles: [extra] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: expect.stringContaining('AKIAPARTNER000000001 is defined twice') });
  });

  test.each([
    ['a principal that is not an IAM or STS ARN', { accessKeyId: 'AKIAPARTNER000000003', secretAccessKey: 's', principalArn: 'partner' }, 'principalArn must be an IAM or STS principal ARN'],
    ['an account that is not the principal\'s', { accessKeyId: 'AKIAPARTNER000000003', secretAccessKey: 's', principalArn: `arn:aws:iam::${ATTACKER}:user/p`, account: VICTIM }, 'is not the account of'],
    ['an allowed action that is not one', { accessKeyId: 'AKIAPARTNER000000003', secretAccessKey: 's', principalArn: `arn:aws:iam::${ATTACKER}:user/p`, allowedActions: ['Decrypt me'] }, 'is not an IAM action'],
    ['an unknown field', { accessKeyId: 'AKIAPARTNER000000003', secretAccessKey: 's', principalArn: `arn:aws:iam::${ATTACKER}:user/p`, role: 'admin' }, "unknown field 'role'"],
  ])('a credential with %s is refused at start-up (ERR_KMS_VALIDATION)', async (_what, entry, message) => {
    const dir = scratch();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify([entry]));
    await expect(startFixture({ dataDir: dir, credentialFiles: [file] })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: expect.stringContaining(message) });
  });
});
