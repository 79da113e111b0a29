// Key policies and grants enforced on every call, through @aws-sdk/client-kms with two principals.
import {
  CreateGrantCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, GetKeyPolicyCommand,
  ListGrantsCommand, ListKeyPoliciesCommand, ListRetirableGrantsCommand, PutKeyPolicyCommand, RetireGrantCommand, RevokeGrantCommand,
} from '@aws-sdk/client-kms';
import type { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditRecords, client, failure, startFixture, type Fixture } from './helpers.ts';

const ACCOUNT = '111122223333';
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/admin`;
const APP = `arn:aws:iam::${ACCOUNT}:user/app`;
const creds = [
  { accessKeyId: 'AKIAADMIN00000000000', secretAccessKey: 'admin-secret', principalArn: ADMIN, account: ACCOUNT },
  { accessKeyId: 'AKIAAPP0000000000000', secretAccessKey: 'app-secret', principalArn: APP, account: ACCOUNT },
];

let f: Fixture;
let admin: KMSClient;
let app: KMSClient;

beforeAll(async () => {
  f = await startFixture({ credentials: creds });
  admin = f.kms;
  app = client(f.server, creds[1]);
});
afterAll(async () => {
  app.destroy();
  await f.stop();
});

const adminOnly = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'admin', Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', Resource: '*' }],
});

async function key(policy?: string): Promise<string> {
  const r = await admin.send(new CreateKeyCommand(policy ? { Policy: policy } : {}));
  return r.KeyMetadata?.KeyId ?? '';
}

describe('key policies', () => {
  test('the default policy gives the account root (so every principal of the account) full access', async () => {
    const id = await key();
    const p = JSON.parse((await admin.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: 'default' }))).Policy ?? '{}') as { Statement: { Principal: { AWS: string }; Action: string }[] };
    expect(p.Statement[0]).toMatchObject({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*' });
    await app.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }));
    expect((await admin.send(new ListKeyPoliciesCommand({ KeyId: id }))).PolicyNames).toEqual(['default']);
    expect((await failure(() => admin.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: 'other' })))).name).toBe('NotFoundException');
  });

  test('a principal the policy does not name → AccessDeniedException on every operation', async () => {
    const id = await key(adminOnly);
    const blob = (await admin.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }))).CiphertextBlob;
    for (const call of [
      () => app.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') })),
      () => app.send(new DecryptCommand({ CiphertextBlob: blob })),
      () => app.send(new GenerateDataKeyCommand({ KeyId: id, NumberOfBytes: 32 })),
      () => app.send(new DescribeKeyCommand({ KeyId: id })),
      () => app.send(new GetKeyPolicyCommand({ KeyId: id })),
      () => app.send(new PutKeyPolicyCommand({ KeyId: id, Policy: adminOnly })),
    ]) {
      const e = await failure(call);
      expect(e.name).toBe('AccessDeniedException');
    }
    const e = await failure(() => app.send(new DecryptCommand({ CiphertextBlob: blob })));
    expect(e.message).toBe(`User: ${APP} is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:${ACCOUNT}:key/${id} because no resource-based policy allows the kms:Decrypt action`);
  });

  test('PutKeyPolicy stores and enforces the new policy; an explicit Deny with a condition wins', async () => {
    const id = await key();
    const deny = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        { Sid: 'tenant-only', Effect: 'Deny', Principal: { AWS: APP }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'kms:EncryptionContext:tenant': 'blue' } } },
      ],
    });
    await admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: deny }));
    expect((await admin.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy).toBe(deny);
    const blue = (await app.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('b'), EncryptionContext: { tenant: 'blue' } }))).CiphertextBlob;
    const red = (await app.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('r'), EncryptionContext: { tenant: 'red' } }))).CiphertextBlob;
    await app.send(new DecryptCommand({ CiphertextBlob: blue, EncryptionContext: { tenant: 'blue' } }));
    const e = await failure(() => app.send(new DecryptCommand({ CiphertextBlob: red, EncryptionContext: { tenant: 'red' } })));
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toContain('with an explicit deny in a resource-based policy');
    await admin.send(new DecryptCommand({ CiphertextBlob: red, EncryptionContext: { tenant: 'red' } }));
    // The audit log names the statement that denied, with the failing condition's values.
    const denied = (await auditRecords(f.server, f.dir))
      .filter((r) => r.eventName === 'Decrypt' && r.errorCode === 'AccessDeniedException');
    expect(denied.at(-1)?.additionalEventData).toEqual({ authorization: { effect: 'ExplicitDeny', decidedBy: { kind: 'statement', index: 1, sid: 'tenant-only' } } });
  });

  test('PutKeyPolicy validation: malformed → MalformedPolicyDocumentException; lockout check; size limit', async () => {
    const id = await key();
    expect((await failure(() => admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: '{"Version":"2012-10-17"}' })))).name).toBe('MalformedPolicyDocumentException');
    const lockout = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: APP }, Action: 'kms:*', Resource: '*' }] });
    expect((await failure(() => admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: lockout })))).message).toBe('The new key policy will not allow you to update the key policy in the future.');
    await admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: lockout, BypassPolicyLockoutSafetyCheck: true }));
    expect((await failure(() => admin.send(new DescribeKeyCommand({ KeyId: id })))).name).toBe('AccessDeniedException');
    expect((await failure(() => admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: ' '.repeat(131073) })))).name).toBe('ValidationException');
    // The model's pattern admits tab, LF, CR and U+0020–U+00FF only, over the whole document.
    const euro = await failure(() => admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: adminOnly.replace('"admin"', '"admin€"') })));
    expect(euro.name).toBe('ValidationException');
    expect(euro.message).toContain('Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+');
  });
});

describe('grants', () => {
  test('a grant lets its grantee use the key for its operations, within its constraints', async () => {
    const id = await key(adminOnly);
    const g = await admin.send(new CreateGrantCommand({
      KeyId: id,
      GranteePrincipal: APP,
      RetiringPrincipal: ADMIN,
      Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { tenant: 'blue' } },
      Name: 'app-blue',
    }));
    expect(g.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(g.GrantToken).toBeTruthy();
    const blob = (await app.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), EncryptionContext: { tenant: 'blue', v: '1' }, GrantTokens: [g.GrantToken ?? ''] }))).CiphertextBlob;
    await app.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { tenant: 'blue', v: '1' } }));
    expect((await failure(() => app.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), EncryptionContext: { tenant: 'red' } })))).name).toBe('AccessDeniedException');
    expect((await failure(() => app.send(new GenerateDataKeyCommand({ KeyId: id, NumberOfBytes: 32, EncryptionContext: { tenant: 'blue' } })))).name).toBe('AccessDeniedException');
    // Same Name and parameters: CreateGrant is idempotent.
    const again = await admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: APP, RetiringPrincipal: ADMIN, Operations: ['Decrypt', 'Encrypt'], Constraints: { EncryptionContextSubset: { tenant: 'blue' } }, Name: 'app-blue' }));
    expect(again.GrantId).toBe(g.GrantId);
    const listed = await admin.send(new ListGrantsCommand({ KeyId: id }));
    expect(listed.Grants).toHaveLength(1);
    expect(listed.Grants?.[0]).toMatchObject({ GrantId: g.GrantId, GranteePrincipal: APP, RetiringPrincipal: ADMIN, Name: 'app-blue', IssuingAccount: `arn:aws:iam::${ACCOUNT}:root` });
    expect((await admin.send(new ListRetirableGrantsCommand({ RetiringPrincipal: ADMIN }))).Grants?.map((x) => x.GrantId)).toContain(g.GrantId);
    // The grant does not include RetireGrant, but the grantee is a principal of the account that
    // created it whose identity policy allows kms:RetireGrant (absent: every action), so it may
    // retire it, as the retiring principal may ("Retiring and revoking grants").
    await app.send(new RetireGrantCommand({ KeyId: id, GrantId: g.GrantId }));
    expect((await failure(() => app.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x'), EncryptionContext: { tenant: 'blue' } })))).name).toBe('AccessDeniedException');
    expect((await failure(() => admin.send(new RetireGrantCommand({ GrantToken: g.GrantToken })))).name).toBe('InvalidGrantTokenException');
  });

  test('CreateGrant with a Name is idempotent for the same parameters: empty Constraints, another order of Operations or context entries; other parameters make a new grant', async () => {
    const id = await key(adminOnly);
    const create = (extra: Partial<ConstructorParameters<typeof CreateGrantCommand>[0]>) =>
      admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: APP, Operations: ['Encrypt', 'Decrypt'], Name: 'retry', ...extra }));
    // `Constraints: {}` is not stored, so a retry carrying it must still find the grant.
    const empty = await create({ Constraints: {} });
    expect((await create({ Constraints: {} })).GrantId).toBe(empty.GrantId);
    expect((await create({ Operations: ['Decrypt', 'Encrypt'] })).GrantId).toBe(empty.GrantId);
    const ctx = await create({ Constraints: { EncryptionContextSubset: { a: '1', b: '2' } } });
    expect(ctx.GrantId).not.toBe(empty.GrantId);
    expect((await create({ Constraints: { EncryptionContextSubset: { b: '2', a: '1' } } })).GrantId).toBe(ctx.GrantId);
    // An empty EncryptionContextEquals admits only an empty context: not the same as no constraint.
    const equalsEmpty = await create({ Constraints: { EncryptionContextEquals: {} } });
    expect([empty.GrantId, ctx.GrantId]).not.toContain(equalsEmpty.GrantId);
    expect((await create({ Constraints: { EncryptionContextEquals: {} } })).GrantId).toBe(equalsEmpty.GrantId);
    const other = await create({ Constraints: { EncryptionContextSubset: { a: '1' } } });
    const retiring = await create({ RetiringPrincipal: ADMIN });
    const ids = [empty, ctx, equalsEmpty, other, retiring].map((g) => g.GrantId);
    expect(new Set(ids).size).toBe(5);
    expect(ids.every((g) => /^[0-9a-f]{64}$/.test(g ?? ''))).toBe(true);
    expect((await admin.send(new ListGrantsCommand({ KeyId: id }))).Grants?.map((g) => g.GrantId).sort()).toEqual([...ids].sort());
  });

  test('RevokeGrant removes a grant at once; unknown grant ids are refused', async () => {
    const id = await key(adminOnly);
    const g = await admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: APP, Operations: ['DescribeKey'] }));
    await app.send(new DescribeKeyCommand({ KeyId: id }));
    await admin.send(new RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId }));
    expect((await failure(() => app.send(new DescribeKeyCommand({ KeyId: id })))).name).toBe('AccessDeniedException');
    expect((await failure(() => admin.send(new RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId })))).name).toBe('NotFoundException');
    expect((await failure(() => admin.send(new RetireGrantCommand({ KeyId: id, GrantId: 'f'.repeat(64) })))).name).toBe('InvalidGrantIdException');
  });

  test('CreateGrant validation: operations enum, required grantee, and the policy must allow kms:CreateGrant', async () => {
    const id = await key(adminOnly);
    const badOp = await failure(() => admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: APP, Operations: ['Fly' as never] })));
    expect(badOp.name).toBe('ValidationException');
    expect(badOp.message).toContain("Value 'Fly' at 'operations.1.member' failed to satisfy constraint: Member must satisfy enum value set");
    expect((await failure(() => admin.send(new CreateGrantCommand({ KeyId: id, Operations: ['Decrypt'] } as never)))).name).toBe('ValidationException');
    expect((await failure(() => app.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: APP, Operations: ['Decrypt'] })))).name).toBe('AccessDeniedException');
  });
});
