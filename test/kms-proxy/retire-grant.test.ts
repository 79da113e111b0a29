// Who may retire a grant, as AWS documents it today (KMS Developer Guide, "Retiring and revoking
// grants"; API Reference, "RetireGrant"): the retiring principal, the grantee when the grant includes
// RetireGrant, and the account that created the grant, which delegates kms:RetireGrant to its
// principals through their IAM (here: identity) policies; principals the grant names need no IAM
// permission, and a key policy does not decide it. localstack's validated
// test_retire_grant_with_grant_token (an administrator retiring a Decrypt/Encrypt grant it is the
// grantee of) succeeds against AWS through that delegation.
import { CreateGrantCommand, CreateKeyCommand, ListGrantsCommand, RetireGrantCommand, type GrantOperation, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client, failure, startFixture, type Fixture } from './helpers.ts';

const ACCOUNT = '111122223333';
const OTHER = '444455556666';
const user = (account: string, name: string) => `arn:aws:iam::${account}:user/${name}`;
const cred = (id: string, principalArn: string, account: string, allowedActions?: string[]) => ({
  accessKeyId: `AKIA${id.toUpperCase().padEnd(16, '0')}`,
  secretAccessKey: `${id}-secret`,
  principalArn,
  account,
  ...(allowedActions ? { allowedActions } : {}),
});
const creds = {
  admin: cred('admin', user(ACCOUNT, 'admin'), ACCOUNT),
  // Principals of the key's account: one whose identity policy allows every action, one allowed
  // only Decrypt and Encrypt.
  app: cred('app', user(ACCOUNT, 'app'), ACCOUNT),
  narrow: cred('narrow', user(ACCOUNT, 'narrow'), ACCOUNT, ['kms:Decrypt', 'kms:Encrypt']),
  // Another account: its root, a user allowed kms:RetireGrant, a user not allowed it.
  otherRoot: cred('otherroot', `arn:aws:iam::${OTHER}:root`, OTHER),
  otherOps: cred('otherops', user(OTHER, 'ops'), OTHER, ['kms:RetireGrant']),
  otherApp: cred('otherapp', user(OTHER, 'app'), OTHER, ['kms:Decrypt']),
};

let f: Fixture;
const clients = new Map<string, KMSClient>();
const as = (name: keyof typeof creds): KMSClient => {
  let c = clients.get(name);
  if (!c) {
    c = client(f.server, creds[name]);
    clients.set(name, c);
  }
  return c;
};
let keyId = '';

beforeAll(async () => {
  f = await startFixture({ credentials: Object.values(creds), account: ACCOUNT });
  keyId = (await as('admin').send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
});
afterAll(async () => {
  for (const c of clients.values()) c.destroy();
  await f.stop();
});

async function grant(grantee: string, operations: GrantOperation[], retiring?: string) {
  const g = await as('admin').send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: grantee, Operations: operations, ...(retiring ? { RetiringPrincipal: retiring } : {}) }));
  return g.GrantToken ?? '';
}

async function retiredBy(name: keyof typeof creds, token: string): Promise<boolean> {
  try {
    await as(name).send(new RetireGrantCommand({ GrantToken: token }));
    return true;
  } catch (e) {
    expect((e as Error).name).toBe('AccessDeniedException');
    return false;
  }
}

describe('RetireGrant', () => {
  test('the grantee without RetireGrant in the grant: allowed as a principal of the issuing account with kms:RetireGrant (the recorded case), else denied', async () => {
    expect(await retiredBy('app', await grant(creds.app.principalArn, ['Decrypt', 'Encrypt']))).toBe(true);
    expect(await retiredBy('narrow', await grant(creds.narrow.principalArn, ['Decrypt', 'Encrypt']))).toBe(false);
    expect(await retiredBy('otherApp', await grant(creds.otherApp.principalArn, ['Decrypt']))).toBe(false);
  });

  test('the grantee with RetireGrant in the grant needs no IAM permission, in any account', async () => {
    expect(await retiredBy('narrow', await grant(creds.narrow.principalArn, ['Decrypt', 'RetireGrant']))).toBe(true);
    expect(await retiredBy('otherApp', await grant(creds.otherApp.principalArn, ['Decrypt', 'RetireGrant']))).toBe(true);
  });

  test('a retiring principal named itself needs no IAM permission; an account as retiring principal delegates to its principals allowed kms:RetireGrant', async () => {
    expect(await retiredBy('otherApp', await grant(creds.app.principalArn, ['Decrypt'], creds.otherApp.principalArn))).toBe(true);
    const toAccount = await grant(creds.app.principalArn, ['Decrypt'], `arn:aws:iam::${OTHER}:root`);
    expect(await retiredBy('otherApp', toAccount)).toBe(false);
    expect(await retiredBy('otherOps', toAccount)).toBe(true);
    expect(await retiredBy('otherRoot', await grant(creds.app.principalArn, ['Decrypt'], `arn:aws:iam::${OTHER}:root`))).toBe(true);
  });

  test('other principals of the issuing account: with kms:RetireGrant yes, without no; another account never', async () => {
    expect(await retiredBy('narrow', await grant(creds.otherApp.principalArn, ['Decrypt']))).toBe(false);
    expect(await retiredBy('otherOps', await grant(creds.otherApp.principalArn, ['Decrypt']))).toBe(false);
    expect(await retiredBy('app', await grant(creds.otherApp.principalArn, ['Decrypt']))).toBe(true);
  });

  test('a denied retirement leaves the grant in place', async () => {
    const token = await grant(creds.narrow.principalArn, ['Decrypt']);
    const e = await failure(() => as('narrow').send(new RetireGrantCommand({ GrantToken: token })));
    expect(e.message).toBe(`User: ${creds.narrow.principalArn} is not authorized to perform: kms:RetireGrant on resource: arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`);
    const grants = (await as('admin').send(new ListGrantsCommand({ KeyId: keyId }))).Grants ?? [];
    expect(grants.some((g) => g.GranteePrincipal === creds.narrow.principalArn && g.Operations?.length === 1)).toBe(true);
  });
});
