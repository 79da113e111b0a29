// Every key operation through the SDK against the three refusals every one of them must give:
// an unknown key (NotFoundException), a key whose policy does not admit the caller
// (AccessDeniedException), and — for cryptographic operations — a disabled key (DisabledException).
// Plus condition keys evaluated on real requests.
import { generateKeyPairSync } from 'node:crypto';
import * as K from '@aws-sdk/client-kms';
import type { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client, failure, startFixture, type Fixture } from './helpers.ts';

const ACCOUNT = '111122223333';
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/admin`;
const APP = `arn:aws:iam::${ACCOUNT}:user/app`;
const creds = [
  { accessKeyId: 'AKIAADMIN00000000000', secretAccessKey: 'admin-secret', principalArn: ADMIN, account: ACCOUNT },
  { accessKeyId: 'AKIAAPP0000000000000', secretAccessKey: 'app-secret', principalArn: APP, account: ACCOUNT },
];
const adminOnly = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', Resource: '*' }] });
const UNKNOWN = '00000000-0000-4000-8000-00000000beef';

let f: Fixture;
let app: KMSClient;
const ids: Record<string, string> = {};

beforeAll(async () => {
  f = await startFixture({ credentials: creds });
  app = client(f.server, creds[1]);
  const make = async (name: string, input: ConstructorParameters<typeof K.CreateKeyCommand>[0]) => {
    ids[name] = (await f.kms.send(new K.CreateKeyCommand({ Policy: adminOnly, ...input }))).KeyMetadata?.KeyId ?? '';
  };
  await make('sym', {});
  await make('sign', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
  await make('mac', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  await make('ecdh', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
  await make('ext', { Origin: 'EXTERNAL' });
});
afterAll(async () => {
  app.destroy();
  await f.stop();
});

const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });

type Call = (k: string) => { send: (c: KMSClient) => Promise<unknown>; crypto: boolean };
const msg = Buffer.from('m');
const ops: Record<string, [keyof typeof ids, Call]> = {
  DescribeKey: ['sym', (k) => ({ send: (c) => c.send(new K.DescribeKeyCommand({ KeyId: k })), crypto: false })],
  EnableKey: ['sym', (k) => ({ send: (c) => c.send(new K.EnableKeyCommand({ KeyId: k })), crypto: false })],
  DisableKey: ['sym', (k) => ({ send: (c) => c.send(new K.DisableKeyCommand({ KeyId: k })), crypto: false })],
  ScheduleKeyDeletion: ['sym', (k) => ({ send: (c) => c.send(new K.ScheduleKeyDeletionCommand({ KeyId: k })), crypto: false })],
  CancelKeyDeletion: ['sym', (k) => ({ send: (c) => c.send(new K.CancelKeyDeletionCommand({ KeyId: k })), crypto: false })],
  UpdateKeyDescription: ['sym', (k) => ({ send: (c) => c.send(new K.UpdateKeyDescriptionCommand({ KeyId: k, Description: 'd' })), crypto: false })],
  CreateAlias: ['sym', (k) => ({ send: (c) => c.send(new K.CreateAliasCommand({ AliasName: 'alias/matrix', TargetKeyId: k })), crypto: false })],
  TagResource: ['sym', (k) => ({ send: (c) => c.send(new K.TagResourceCommand({ KeyId: k, Tags: [{ TagKey: 'a', TagValue: 'b' }] })), crypto: false })],
  UntagResource: ['sym', (k) => ({ send: (c) => c.send(new K.UntagResourceCommand({ KeyId: k, TagKeys: ['a'] })), crypto: false })],
  ListResourceTags: ['sym', (k) => ({ send: (c) => c.send(new K.ListResourceTagsCommand({ KeyId: k })), crypto: false })],
  Encrypt: ['sym', (k) => ({ send: (c) => c.send(new K.EncryptCommand({ KeyId: k, Plaintext: msg })), crypto: true })],
  GenerateDataKey: ['sym', (k) => ({ send: (c) => c.send(new K.GenerateDataKeyCommand({ KeyId: k, NumberOfBytes: 16 })), crypto: true })],
  GenerateDataKeyWithoutPlaintext: ['sym', (k) => ({ send: (c) => c.send(new K.GenerateDataKeyWithoutPlaintextCommand({ KeyId: k, NumberOfBytes: 16 })), crypto: true })],
  GenerateDataKeyPair: ['sym', (k) => ({ send: (c) => c.send(new K.GenerateDataKeyPairCommand({ KeyId: k, KeyPairSpec: 'ECC_NIST_P256' })), crypto: true })],
  GenerateDataKeyPairWithoutPlaintext: ['sym', (k) => ({ send: (c) => c.send(new K.GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: k, KeyPairSpec: 'ECC_NIST_P256' })), crypto: true })],
  ReEncrypt: ['sym', (k) => ({ send: (c) => c.send(new K.ReEncryptCommand({ CiphertextBlob: Buffer.alloc(64, 1), SourceKeyId: k, DestinationKeyId: k })), crypto: true })],
  Sign: ['sign', (k) => ({ send: (c) => c.send(new K.SignCommand({ KeyId: k, Message: msg, SigningAlgorithm: 'ECDSA_SHA_256' })), crypto: true })],
  Verify: ['sign', (k) => ({ send: (c) => c.send(new K.VerifyCommand({ KeyId: k, Message: msg, Signature: msg, SigningAlgorithm: 'ECDSA_SHA_256' })), crypto: true })],
  GetPublicKey: ['sign', (k) => ({ send: (c) => c.send(new K.GetPublicKeyCommand({ KeyId: k })), crypto: true })],
  GenerateMac: ['mac', (k) => ({ send: (c) => c.send(new K.GenerateMacCommand({ KeyId: k, Message: msg, MacAlgorithm: 'HMAC_SHA_256' })), crypto: true })],
  VerifyMac: ['mac', (k) => ({ send: (c) => c.send(new K.VerifyMacCommand({ KeyId: k, Message: msg, Mac: msg, MacAlgorithm: 'HMAC_SHA_256' })), crypto: true })],
  DeriveSharedSecret: ['ecdh', (k) => ({ send: (c) => c.send(new K.DeriveSharedSecretCommand({ KeyId: k, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer })), crypto: true })],
  EnableKeyRotation: ['sym', (k) => ({ send: (c) => c.send(new K.EnableKeyRotationCommand({ KeyId: k })), crypto: false })],
  DisableKeyRotation: ['sym', (k) => ({ send: (c) => c.send(new K.DisableKeyRotationCommand({ KeyId: k })), crypto: false })],
  GetKeyRotationStatus: ['sym', (k) => ({ send: (c) => c.send(new K.GetKeyRotationStatusCommand({ KeyId: k })), crypto: false })],
  RotateKeyOnDemand: ['sym', (k) => ({ send: (c) => c.send(new K.RotateKeyOnDemandCommand({ KeyId: k })), crypto: false })],
  ListKeyRotations: ['sym', (k) => ({ send: (c) => c.send(new K.ListKeyRotationsCommand({ KeyId: k })), crypto: false })],
  GetParametersForImport: ['ext', (k) => ({ send: (c) => c.send(new K.GetParametersForImportCommand({ KeyId: k, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' })), crypto: false })],
  DeleteImportedKeyMaterial: ['ext', (k) => ({ send: (c) => c.send(new K.DeleteImportedKeyMaterialCommand({ KeyId: k })), crypto: false })],
  CreateGrant: ['sym', (k) => ({ send: (c) => c.send(new K.CreateGrantCommand({ KeyId: k, GranteePrincipal: APP, Operations: ['Decrypt'] })), crypto: false })],
  ListGrants: ['sym', (k) => ({ send: (c) => c.send(new K.ListGrantsCommand({ KeyId: k })), crypto: false })],
  RevokeGrant: ['sym', (k) => ({ send: (c) => c.send(new K.RevokeGrantCommand({ KeyId: k, GrantId: 'a'.repeat(64) })), crypto: false })],
  GetKeyPolicy: ['sym', (k) => ({ send: (c) => c.send(new K.GetKeyPolicyCommand({ KeyId: k })), crypto: false })],
  PutKeyPolicy: ['sym', (k) => ({ send: (c) => c.send(new K.PutKeyPolicyCommand({ KeyId: k, Policy: adminOnly })), crypto: false })],
  ListKeyPolicies: ['sym', (k) => ({ send: (c) => c.send(new K.ListKeyPoliciesCommand({ KeyId: k })), crypto: false })],
};

describe.each(Object.entries(ops))('%s', (_name, [kind, call]) => {
  test('unknown key → NotFoundException', async () => {
    expect(await failure(() => call(UNKNOWN).send(f.kms))).toBeInstanceOf(K.NotFoundException);
  });
  test('a caller the key policy does not name → AccessDeniedException', async () => {
    expect((await failure(() => call(ids[kind] ?? '').send(app))).name).toBe('AccessDeniedException');
  });
});

describe('disabled keys refuse every cryptographic operation with DisabledException', () => {
  beforeAll(async () => {
    for (const k of ['sym', 'sign', 'mac', 'ecdh']) await f.kms.send(new K.DisableKeyCommand({ KeyId: ids[k] }));
  });
  afterAll(async () => {
    for (const k of ['sym', 'sign', 'mac', 'ecdh']) await f.kms.send(new K.EnableKeyCommand({ KeyId: ids[k] }));
  });
  test.each(Object.entries(ops).filter(([, [k, c]]) => c(ids[k] ?? '').crypto))('%s', async (_name, [kind, call]) => {
    expect(await failure(() => call(ids[kind] ?? '').send(f.kms))).toBeInstanceOf(K.DisabledException);
  });
});

describe('condition keys on real requests', () => {
  test('kms:RequestAlias, ForAllValues kms:EncryptionContextKeys, kms:CallerAccount', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'admin', Effect: 'Allow', Principal: { AWS: ADMIN }, Action: 'kms:*', Resource: '*' },
        {
          Sid: 'app-via-alias',
          Effect: 'Allow',
          Principal: { AWS: APP },
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: {
            StringEquals: { 'kms:RequestAlias': 'alias/app-key', 'kms:CallerAccount': ACCOUNT },
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant', 'purpose'] },
          },
        },
      ],
    });
    const id = (await f.kms.send(new K.CreateKeyCommand({ Policy: policy }))).KeyMetadata?.KeyId ?? '';
    await f.kms.send(new K.CreateAliasCommand({ AliasName: 'alias/app-key', TargetKeyId: id }));
    await app.send(new K.EncryptCommand({ KeyId: 'alias/app-key', Plaintext: msg, EncryptionContext: { tenant: 'a' } }));
    await app.send(new K.EncryptCommand({ KeyId: 'alias/app-key', Plaintext: msg }));
    expect((await failure(() => app.send(new K.EncryptCommand({ KeyId: id, Plaintext: msg })))).name).toBe('AccessDeniedException');
    expect((await failure(() => app.send(new K.EncryptCommand({ KeyId: 'alias/app-key', Plaintext: msg, EncryptionContext: { other: 'x' } })))).name).toBe('AccessDeniedException');
  });

  test('RotateKeyOnDemand is limited to 25 rotations per key → LimitExceededException', async () => {
    const id = (await f.kms.send(new K.CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    for (let i = 0; i < 25; i++) await f.kms.send(new K.RotateKeyOnDemandCommand({ KeyId: id }));
    expect(await failure(() => f.kms.send(new K.RotateKeyOnDemandCommand({ KeyId: id })))).toBeInstanceOf(K.LimitExceededException);
  });
});
