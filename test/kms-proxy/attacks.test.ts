// Issue 14, written as the attacker: each request below was accepted before (or matched nothing), and
// AWS refuses it. Grants (KMS Developer Guide, "Creating grants", "Granting CreateGrant permission";
// API Reference, "GrantConstraints"), condition keys ("AWS KMS condition keys"), policy grammar
// (IAM User Guide, "Principal", "NotPrincipal"), encryption context as bytes.
import {
  CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, EnableKeyRotationCommand, GenerateDataKeyCommand,
  GenerateDataKeyPairCommand, PutKeyPolicyCommand, ReEncryptCommand, RetireGrantCommand, ScheduleKeyDeletionCommand, TagResourceCommand,
  type GrantConstraints, type GrantOperation, type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client, failure, startFixture, type Fixture } from './helpers.ts';

const ACCOUNT = '111122223333';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/admin`;
const MALLORY = `arn:aws:iam::${ACCOUNT}:user/mallory`;
const ELSEWHERE = 'arn:aws:iam::999999999999:root';
const creds = [
  { accessKeyId: 'AKIAADMIN00000000000', secretAccessKey: 'admin-secret', principalArn: ADMIN, account: ACCOUNT },
  { accessKeyId: 'AKIAMALLORY000000000', secretAccessKey: 'mallory-secret', principalArn: MALLORY, account: ACCOUNT },
  { accessKeyId: 'AKIAACCOUNTROOT00000', secretAccessKey: 'root-secret', principalArn: ROOT, account: ACCOUNT },
  { accessKeyId: 'AKIAAPPSESSION000000', secretAccessKey: 'session-secret', principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/ops/s1`, account: ACCOUNT },
  // A principal of the key's account whose identity policy does not allow kms:RetireGrant.
  { accessKeyId: 'AKIAEVE0000000000000', secretAccessKey: 'eve-secret', principalArn: `arn:aws:iam::${ACCOUNT}:user/eve`, account: ACCOUNT, allowedActions: ['kms:Encrypt', 'kms:Decrypt'] },
];

let f: Fixture;
let admin: KMSClient;
let mallory: KMSClient;
beforeAll(async () => {
  f = await startFixture({ credentials: creds });
  admin = f.kms;
  mallory = client(f.server, creds[1]);
});
afterAll(async () => {
  mallory.destroy();
  await f.stop();
});

const adminStatement = { Sid: 'admin', Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', Resource: '*' };
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: [adminStatement, ...statements] });

async function key(p = policy(), KeySpec?: 'RSA_2048'): Promise<string> {
  const r = await admin.send(new CreateKeyCommand({ Policy: p, ...(KeySpec ? { KeySpec, KeyUsage: 'ENCRYPT_DECRYPT' } : {}) }));
  return r.KeyMetadata?.KeyId ?? '';
}

async function grant(keyId: string, by: KMSClient, grantee: string, ops: GrantOperation[], Constraints?: GrantConstraints) {
  return by.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: grantee, Operations: ops, ...(Constraints ? { Constraints } : {}) }));
}

async function denied(p: Promise<unknown>, name = 'AccessDeniedException'): Promise<Error> {
  const e = await failure(() => p);
  expect(e.name).toBe(name);
  return e;
}

describe('grant re-delegation', () => {
  test('a grantee allowed only CreateGrant cannot grant itself, or another account, Decrypt; it can pass on what it has', async () => {
    const id = await key();
    const blob = (await admin.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('secret') }))).CiphertextBlob;
    await grant(id, admin, MALLORY, ['CreateGrant']);
    await denied(grant(id, mallory, MALLORY, ['Decrypt']));
    await denied(grant(id, mallory, ELSEWHERE, ['Decrypt']));
    await denied(grant(id, mallory, MALLORY, ['CreateGrant', 'Decrypt']));
    await denied(mallory.send(new DecryptCommand({ CiphertextBlob: blob })));
    // A subset of its own operations is allowed ("The grantee principal can only create grants that allow some or all of the operations in the parent grant").
    await grant(id, mallory, ELSEWHERE, ['CreateGrant']);
  });

  test('kms:GrantOperations in the key policy cannot be bypassed through a grant the policy allowed', async () => {
    const id = await key(policy({ Sid: 'grants', Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:CreateGrant', Resource: '*', Condition: { 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Encrypt', 'CreateGrant'] } } }));
    await denied(grant(id, mallory, MALLORY, ['Decrypt']));
    // Allowed by the policy: a grant of CreateGrant to itself; through it, Decrypt is still out of reach.
    await grant(id, mallory, MALLORY, ['CreateGrant']);
    await denied(grant(id, mallory, MALLORY, ['Decrypt']));
  });

  test('a child grant keeps constraints at least as strict; constraint keys ignore case, values do not', async () => {
    const id = await key();
    await grant(id, admin, MALLORY, ['Decrypt', 'CreateGrant'], { EncryptionContextSubset: { tenant: 'blue' } });
    await denied(grant(id, mallory, MALLORY, ['Decrypt']));
    await denied(grant(id, mallory, MALLORY, ['Decrypt'], { EncryptionContextSubset: { other: 'x' } }));
    await denied(grant(id, mallory, MALLORY, ['Decrypt'], { EncryptionContextSubset: { tenant: 'BLUE' } }));
    await grant(id, mallory, MALLORY, ['Decrypt'], { EncryptionContextSubset: { tenant: 'blue', project: 'x' } });
    await grant(id, mallory, MALLORY, ['Decrypt'], { EncryptionContextEquals: { tenant: 'blue' } });
    await grant(id, mallory, MALLORY, ['Decrypt'], { EncryptionContextSubset: { TENANT: 'blue' } });
    // Equals cannot become Subset ("but not the reverse").
    const eq = await key();
    await grant(eq, admin, MALLORY, ['Decrypt', 'CreateGrant'], { EncryptionContextEquals: { tenant: 'blue' } });
    await denied(grant(eq, mallory, MALLORY, ['Decrypt'], { EncryptionContextSubset: { tenant: 'blue' } }));
  });

  test("a grant constrained by encryption context still allows DescribeKey; its decrypt needs the context, the key's case free", async () => {
    const id = await key();
    const blob = (await admin.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('s'), EncryptionContext: { Tenant: 'blue' } }))).CiphertextBlob;
    await grant(id, admin, MALLORY, ['DescribeKey', 'Decrypt'], { EncryptionContextEquals: { tenant: 'blue' } });
    await mallory.send(new DescribeKeyCommand({ KeyId: id }));
    await mallory.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { Tenant: 'blue' } }));
  });

  test("another principal's grant token gives nothing; only the retiring principal, the grantee with RetireGrant or the account (its root, or principals it allows kms:RetireGrant) retire", async () => {
    const id = await key();
    const g = await grant(id, admin, ADMIN, ['Encrypt']);
    await denied(mallory.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), GrantTokens: [g.GrantToken ?? ''] })));
    // Holding the token is not enough: a principal of the account whose identity policy does not
    // allow kms:RetireGrant is refused.
    const eve = client(f.server, creds[4]);
    await denied(eve.send(new RetireGrantCommand({ GrantToken: g.GrantToken })));
    eve.destroy();
    // The account that created the grant retires it ("As a backup, the AWS account in which the grant was created can retire the grant").
    const root = client(f.server, creds[2]);
    await root.send(new RetireGrantCommand({ GrantToken: g.GrantToken }));
    root.destroy();
    // A role as retiring principal: its sessions retire.
    const r = await admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: ADMIN, RetiringPrincipal: `arn:aws:iam::${ACCOUNT}:role/ops`, Operations: ['Encrypt'] }));
    const session = client(f.server, creds[3]);
    await session.send(new RetireGrantCommand({ KeyId: id, GrantId: r.GrantId }));
    session.destroy();
  });

  test('CreateGrant refuses operations the key does not support and constraints on an asymmetric key (ValidationException)', async () => {
    const sym = await key();
    await denied(grant(sym, admin, MALLORY, ['Sign']), 'ValidationException');
    const rsa = await key(policy(), 'RSA_2048');
    await denied(grant(rsa, admin, MALLORY, ['GenerateDataKey']), 'ValidationException');
    await denied(grant(rsa, admin, MALLORY, ['Decrypt'], { EncryptionContextSubset: { a: 'b' } }), 'ValidationException');
    await denied(grant(sym, admin, 'arn:aws:iam::111122223333:user/*', ['Decrypt']), 'ValidationException');
  });
});

describe('condition keys AWS supplies: a Deny on them now denies', () => {
  const deny = (Action: string, Condition: object) => ({ Sid: 'deny', Effect: 'Deny', Principal: '*', Action, Resource: '*', Condition });

  test('kms:BypassPolicyLockoutSafetyCheck', async () => {
    const p = policy(deny('kms:PutKeyPolicy', { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': 'true' } }));
    const id = await key(p);
    const e = await denied(admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: p, BypassPolicyLockoutSafetyCheck: true })));
    expect(e.message).toContain('explicit deny');
    await admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: p }));
  });

  test('kms:ScheduleKeyDeletionPendingWindowInDays (30 when omitted)', async () => {
    const id = await key(policy(deny('kms:ScheduleKeyDeletion', { NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } })));
    await denied(admin.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 })));
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: id }));
  });

  test('kms:RotationPeriodInDays', async () => {
    const id = await key(policy(deny('kms:EnableKeyRotation', { NumericGreaterThan: { 'kms:RotationPeriodInDays': '365' } })));
    await denied(admin.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 2000 })));
    await admin.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 180 }));
  });

  test('aws:TagKeys and aws:RequestTag/*', async () => {
    const id = await key(policy(deny('kms:TagResource', { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['owner'] } }), deny('kms:TagResource', { StringEquals: { 'aws:RequestTag/stage': 'prod' } })).replace('"deny"', '"deny-keys"'));
    await denied(admin.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'owner', TagValue: 'mallory' }] })));
    await denied(admin.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'stage', TagValue: 'prod' }] })));
    await admin.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'stage', TagValue: 'dev' }] }));
  });

  test('kms:DataKeyPairSpec', async () => {
    const id = await key(policy(deny('kms:GenerateDataKeyPair', { StringNotEquals: { 'kms:DataKeyPairSpec': 'ECC_NIST_P256' } })));
    await denied(admin.send(new GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'RSA_2048' })));
    await admin.send(new GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'ECC_NIST_P256' }));
  });

  test('kms:ReEncryptOnSameKey', async () => {
    const id = await key(policy(deny('kms:ReEncrypt*', { Bool: { 'kms:ReEncryptOnSameKey': 'false' } })));
    const other = await key();
    const blob = (await admin.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }))).CiphertextBlob;
    await denied(admin.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: other })));
    await admin.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: id }));
  });
});

describe('policy grammar as IAM has it', () => {
  const put = async (statement: object) => admin.send(new PutKeyPolicyCommand({ KeyId: await key(), Policy: policy(statement) }));

  test('NotPrincipal with Allow, and a wildcard inside a principal, are MalformedPolicyDocumentException', async () => {
    await denied(put({ Effect: 'Allow', NotPrincipal: { AWS: ADMIN }, Action: 'kms:*', Resource: '*' }), 'MalformedPolicyDocumentException');
    await denied(put({ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/*` }, Action: 'kms:*', Resource: '*' }), 'MalformedPolicyDocumentException');
    await denied(put({ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::*:root' }, Action: 'kms:*', Resource: '*' }), 'MalformedPolicyDocumentException');
  });

  test('a NotPrincipal Deny that names only the admin user still denies it: the account must be named too (IAM, "NotPrincipal")', async () => {
    const id = await key(policy({ Effect: 'Deny', NotPrincipal: { AWS: ADMIN }, Action: 'kms:Encrypt', Resource: '*' }));
    await denied(admin.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })));
    const named = await key(policy({ Effect: 'Deny', NotPrincipal: { AWS: [ADMIN, ROOT] }, Action: 'kms:Encrypt', Resource: '*' }));
    await admin.send(new EncryptCommand({ KeyId: named, Plaintext: Buffer.from('x') }));
  });
});

describe('encryption context as bytes', () => {
  test('keys that differ only in case cannot sidestep a Deny on kms:EncryptionContext:tenant', async () => {
    const id = await key(policy({ Effect: 'Allow', Principal: { AWS: MALLORY }, Action: 'kms:GenerateDataKey', Resource: '*' }, { Sid: 'blue-only', Effect: 'Deny', Principal: '*', Action: 'kms:GenerateDataKey', Resource: '*', Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': 'blue' } } }));
    const e = await denied(mallory.send(new GenerateDataKeyCommand({ KeyId: id, NumberOfBytes: 32, EncryptionContext: { tenant: 'blue', TENANT: 'red' } })), 'ValidationException');
    expect(e.message).toContain('must differ in more than case');
    await mallory.send(new GenerateDataKeyCommand({ KeyId: id, NumberOfBytes: 32, EncryptionContext: { tenant: 'blue' } }));
  });

  test('a lone UTF-16 surrogate is refused, so "\\ud800" and U+FFFD never authenticate the same ciphertext', async () => {
    const id = await key();
    const blob = (await admin.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), EncryptionContext: { k: '\ufffd' } }))).CiphertextBlob;
    await denied(admin.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { k: '\ud800' } })), 'ValidationException');
    await denied(admin.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), EncryptionContext: { '\udc00': 'v' } })), 'ValidationException');
    await denied(grant(id, admin, MALLORY, ['Decrypt'], { EncryptionContextEquals: { k: '\ud800' } }), 'ValidationException');
  });
});
