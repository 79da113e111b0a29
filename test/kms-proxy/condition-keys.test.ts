// Every condition key of policy/catalogue.ts is supplied on exactly the operations AWS supplies it
// on (KMS Developer Guide, "AWS KMS permissions", per operation; "AWS KMS condition keys"): each
// operation authorized against a key is run in-process, and the request context its decision was
// made with is compared with the catalogue. The README table is checked against the catalogue too.
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKmsApp, explain, formatExplanation, type KmsApp } from '../../kms-proxy/index.ts';
import { AccessDeniedError } from '../../kms-proxy/errors.ts';
import { OPERATIONS } from '../../kms-proxy/operations/index.ts';
import type { Trail } from '../../kms-proxy/operations/types.ts';
import { catalogueEntry, CONDITION_KEYS, KEY_ACTIONS, suppliedOn } from '../../kms-proxy/policy/catalogue.ts';
import type { Decision } from '../../kms-proxy/policy/evaluate.ts';
import type { Caller } from '../../kms-proxy/service.ts';
import { validate } from '../../kms-proxy/shapes.ts';
import { tempDir } from './helpers.ts';

const ACCOUNT = '111122223333';
const caller: Caller = { principalArn: `arn:aws:iam::${ACCOUNT}:user/alice`, account: ACCOUNT, sourceIp: '192.0.2.7', userAgent: 'test-agent/1' };
// A condition on every statement makes the KMS build the whole context (it skips it otherwise).
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'all', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*', Condition: { Null: { 'aws:PrincipalArn': 'false' } } }] });
// Keys whose presence depends on who calls or on an attestation document, checked elsewhere
// (test/recipient for kms:RecipientAttestation:*; aws:userid is the root's only).
// kms:MultiRegionKeyType is multi-Region keys' only (checked on ReplicateKey and UpdatePrimaryRegion).
const CONDITIONAL = new Set(['aws:userid', 'kms:RecipientAttestation:ImageSha384', 'kms:RecipientAttestation:PCR<n>', 'kms:MultiRegionKeyType']);

const dir = tempDir('kms-keys-');
let k: KmsApp;
const seen = new Map<string, Decision>();

async function call(name: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const op = OPERATIONS.get(name);
  if (!op) throw new Error(name);
  const trail: Trail = {};
  try {
    const out = await op.run({ svc: k.service, caller, input: validate(op.shape, body), trail });
    if (trail.decision) seen.set(`kms:${name === 'ReEncrypt' ? 'ReEncryptFrom' : name}`, trail.decision);
    return out as Record<string, unknown>;
  } catch (e) {
    if (e instanceof AccessDeniedError && name === 'ReEncrypt') {
      seen.set('kms:ReEncryptTo', e.decision);
      return {};
    }
    throw e;
  }
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

async function key(KeySpec: string, KeyUsage: string, alias: string, extra: Record<string, unknown> = {}): Promise<string> {
  const out = (await call('CreateKey', { KeySpec, KeyUsage, Policy: POLICY, Tags: [{ TagKey: 'Team', TagValue: 'blue' }], ...extra })) as { KeyMetadata: { KeyId: string } };
  const id = out.KeyMetadata.KeyId;
  await call('CreateAlias', { AliasName: alias, TargetKeyId: id });
  return id;
}

beforeAll(async () => {
  k = await createKmsApp({ dataDir: dir, credentials: [], regions: ['us-east-1', 'eu-west-1'], transientStateMs: 0 });
  const sym = await key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'alias/sym');
  const sym2 = await key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'alias/sym2');
  const rsa = await key('RSA_2048', 'ENCRYPT_DECRYPT', 'alias/rsa');
  const ecc = await key('ECC_NIST_P256', 'SIGN_VERIFY', 'alias/ecc');
  const ecdh = await key('ECC_NIST_P256', 'KEY_AGREEMENT', 'alias/ecdh');
  const hmac = await key('HMAC_256', 'GENERATE_VERIFY_MAC', 'alias/hmac');
  const ext = await key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'alias/ext', { Origin: 'EXTERNAL' });
  const EC = { tenant: 'blue' };
  const blob = (await call('Encrypt', { KeyId: 'alias/sym', Plaintext: b64(randomBytes(8)), EncryptionContext: EC })).CiphertextBlob as Uint8Array;
  await call('Decrypt', { KeyId: 'alias/sym', CiphertextBlob: b64(blob), EncryptionContext: EC });
  await call('GenerateDataKey', { KeyId: 'alias/sym', NumberOfBytes: 32, EncryptionContext: EC });
  await call('GenerateDataKeyWithoutPlaintext', { KeyId: 'alias/sym', NumberOfBytes: 32, EncryptionContext: EC });
  await call('GenerateDataKeyPair', { KeyId: 'alias/sym', KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: EC });
  await call('GenerateDataKeyPairWithoutPlaintext', { KeyId: 'alias/sym', KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: EC });
  await call('ReEncrypt', { CiphertextBlob: b64(blob), SourceKeyId: 'alias/sym', SourceEncryptionContext: EC, DestinationKeyId: 'alias/sym2', DestinationEncryptionContext: { tenant: 'red' } });
  // The destination's authorization is read from a denial: its policy denies ReEncryptTo.
  await call('PutKeyPolicy', { KeyId: sym2, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [JSON.parse(POLICY).Statement[0], { Sid: 'no', Effect: 'Deny', Principal: '*', Action: 'kms:ReEncryptTo', Resource: '*', Condition: { Null: { 'aws:PrincipalArn': 'false' } } }] }) });
  await call('ReEncrypt', { CiphertextBlob: b64(blob), SourceKeyId: 'alias/sym', SourceEncryptionContext: EC, DestinationKeyId: 'alias/sym2', DestinationEncryptionContext: { tenant: 'red' } });
  await call('GetPublicKey', { KeyId: 'alias/rsa' });
  const sig = (await call('Sign', { KeyId: 'alias/ecc', Message: b64(Buffer.from('m')), SigningAlgorithm: 'ECDSA_SHA_256' })).Signature as Uint8Array;
  await call('Verify', { KeyId: 'alias/ecc', Message: b64(Buffer.from('m')), SigningAlgorithm: 'ECDSA_SHA_256', Signature: b64(sig) });
  const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
  await call('DeriveSharedSecret', { KeyId: 'alias/ecdh', KeyAgreementAlgorithm: 'ECDH', PublicKey: b64(peer) });
  const mac = (await call('GenerateMac', { KeyId: 'alias/hmac', Message: b64(Buffer.from('m')), MacAlgorithm: 'HMAC_SHA_256' })).Mac as Uint8Array;
  await call('VerifyMac', { KeyId: 'alias/hmac', Message: b64(Buffer.from('m')), MacAlgorithm: 'HMAC_SHA_256', Mac: b64(mac) });
  await call('DescribeKey', { KeyId: 'alias/sym' });
  const g = await call('CreateGrant', { KeyId: sym, GranteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app`, RetiringPrincipal: caller.principalArn, Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: EC } });
  await call('ListGrants', { KeyId: sym });
  await call('RevokeGrant', { KeyId: sym, GrantId: g.GrantId });
  await call('GetKeyPolicy', { KeyId: sym });
  await call('ListKeyPolicies', { KeyId: sym });
  await call('ListResourceTags', { KeyId: sym });
  await call('TagResource', { KeyId: sym, Tags: [{ TagKey: 'Stage', TagValue: 'prod' }] });
  await call('UntagResource', { KeyId: sym, TagKeys: ['Stage'] });
  await call('UpdateKeyDescription', { KeyId: sym, Description: 'd' });
  await call('EnableKeyRotation', { KeyId: sym });
  await call('GetKeyRotationStatus', { KeyId: sym });
  await call('RotateKeyOnDemand', { KeyId: sym });
  await call('ListKeyRotations', { KeyId: sym });
  await call('DisableKeyRotation', { KeyId: sym });
  await call('UpdateAlias', { AliasName: 'alias/sym2', TargetKeyId: sym });
  await call('DeleteAlias', { AliasName: 'alias/sym2' });
  await call('DisableKey', { KeyId: hmac });
  await call('EnableKey', { KeyId: hmac });
  await call('ScheduleKeyDeletion', { KeyId: ecdh });
  await call('CancelKeyDeletion', { KeyId: ecdh });
  const params = await call('GetParametersForImport', { KeyId: ext, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' });
  const pub = createPublicKey({ key: Buffer.from(params.PublicKey as Uint8Array), format: 'der', type: 'spki' });
  const wrapped = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, randomBytes(32));
  await call('ImportKeyMaterial', { KeyId: ext, ImportToken: b64(params.ImportToken as Uint8Array), EncryptedKeyMaterial: b64(wrapped), ValidTo: Math.floor(Date.now() / 1000) + 86_400 });
  await call('DeleteImportedKeyMaterial', { KeyId: ext });
  const mrk = await key('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'alias/mrk', { MultiRegion: true });
  await call('ReplicateKey', { KeyId: mrk, ReplicaRegion: 'eu-west-1', Policy: POLICY });
  await call('UpdatePrimaryRegion', { KeyId: mrk, PrimaryRegion: 'eu-west-1' });
  void ecc;
  void rsa;
});
afterAll(async () => {
  await k.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('condition keys are supplied where AWS supplies them', () => {
  test('every operation authorized against a key was run', () => {
    expect([...seen.keys()].sort()).toEqual([...KEY_ACTIONS].sort());
  });

  test.each(KEY_ACTIONS.map((a) => [a]))('%s: exactly the catalogue keys', (action) => {
    const d = seen.get(action);
    if (!d) throw new Error(`${action} was not run`);
    const present = new Set<string>();
    for (const k of d.context.keys()) {
      const entry = catalogueEntry(k);
      expect(entry, `${k} is not a documented key`).toBeDefined();
      expect(suppliedOn(entry!, action), `${k} is not supplied on ${action} by AWS`).toBe(true);
      present.add(entry!.key);
    }
    const missing = CONDITION_KEYS.filter((c) => suppliedOn(c, action) && !CONDITIONAL.has(c.key) && !present.has(c.key)).map((c) => c.key);
    expect(missing).toEqual([]);
  });

  test('values: defaults where the request omits a parameter, the role of a session as aws:PrincipalArn', () => {
    const v = (action: string, key: string) => seen.get(action)?.context.get(key.toLowerCase());
    expect(v('kms:EnableKeyRotation', 'kms:RotationPeriodInDays')).toEqual(['365']);
    expect(v('kms:ScheduleKeyDeletion', 'kms:ScheduleKeyDeletionPendingWindowInDays')).toEqual(['30']);
    expect(v('kms:PutKeyPolicy', 'kms:BypassPolicyLockoutSafetyCheck')).toEqual(['false']);
    expect(v('kms:ReEncryptFrom', 'kms:ReEncryptOnSameKey')).toEqual(['false']);
    expect(v('kms:ReEncryptFrom', 'kms:EncryptionContext:tenant')).toEqual(['blue']);
    expect(v('kms:ReEncryptTo', 'kms:EncryptionContext:tenant')).toEqual(['red']);
    expect(v('kms:CreateGrant', 'kms:GrantOperations')).toEqual(['Decrypt']);
    expect(v('kms:CreateGrant', 'kms:GrantConstraintType')).toEqual(['EncryptionContextSubset']);
    expect(v('kms:CreateGrant', 'kms:EncryptionContextKeys')).toEqual(['tenant']);
    expect(v('kms:TagResource', 'aws:RequestTag/Stage')).toEqual(['prod']);
    expect(v('kms:UntagResource', 'aws:TagKeys')).toEqual(['Stage']);
    expect(v('kms:DescribeKey', 'aws:username')).toEqual(['alice']);
    expect(v('kms:DescribeKey', 'aws:PrincipalType')).toEqual(['User']);
    expect(v('kms:DescribeKey', 'kms:RequestAlias')).toEqual(['alias/sym']);
    expect(v('kms:GenerateDataKeyPair', 'kms:DataKeyPairSpec')).toEqual(['ECC_NIST_P256']);
    expect(v('kms:ImportKeyMaterial', 'kms:ExpirationModel')).toEqual(['KEY_MATERIAL_EXPIRES']);
    expect(v('kms:Decrypt', 'kms:MultiRegion')).toEqual(['false']);
    expect(v('kms:Decrypt', 'kms:MultiRegionKeyType')).toBeUndefined();
    expect(v('kms:ReplicateKey', 'kms:MultiRegion')).toEqual(['true']);
    expect(v('kms:ReplicateKey', 'kms:MultiRegionKeyType')).toEqual(['PRIMARY']);
    expect(v('kms:ReplicateKey', 'kms:ReplicaRegion')).toEqual(['eu-west-1']);
    expect(v('kms:UpdatePrimaryRegion', 'kms:PrimaryRegion')).toEqual(['eu-west-1']);
    expect(v('kms:UpdatePrimaryRegion', 'aws:RequestedRegion')).toEqual(['us-east-1']);
  });
});

describe('kms explain shows every key of the request', () => {
  test("each key's value, the documented keys the request lacks and why, and keys a condition names that never come", async () => {
    const deny = { Sid: 'vpc', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1', 'kms:EncryptionContext:tenant': 'blue' } } };
    const id = ((await call('CreateKey', { Policy: JSON.stringify({ Version: '2012-10-17', Statement: [JSON.parse(POLICY).Statement[0], deny] }), Tags: [{ TagKey: 'Team', TagValue: 'blue' }] })) as { KeyMetadata: { KeyId: string } }).KeyMetadata.KeyId;
    const e = await explain(k.service, { keyId: id, action: 'kms:Decrypt', principal: caller.principalArn, encryptionContext: { Tenant: 'blue' } });
    expect(e.context).toMatchObject({ 'aws:PrincipalArn': [caller.principalArn], 'kms:EncryptionContext:Tenant': ['blue'], 'kms:EncryptionContextKeys': ['Tenant'], 'aws:ResourceTag/Team': ['blue'], 'kms:EncryptionAlgorithm': ['SYMMETRIC_DEFAULT'], 'kms:CallerAccount': [ACCOUNT] });
    expect(e.absent).toContainEqual({ key: 'kms:RequestAlias', why: 'not in this request (when the request names the key by alias)' });
    expect(e.absent).toContainEqual({ key: 'aws:SourceVpce', why: 'never supplied by this KMS: no VPC endpoints' });
    const text = formatExplanation(e);
    expect(text).toContain('  kms:EncryptionContext:Tenant: "blue"');
    expect(text).toContain('  aws:SourceVpce: (absent) never supplied by this KMS: no VPC endpoints');
    // aws:SourceVpce is absent, so its StringNotEquals holds; the context key matches whatever its case
    // ("the condition key is not case sensitive"), so the other does not, and the Deny does not apply.
    expect(e.outcome).toBe('Allowed');
    expect(e.decision.statements[1]?.conditions.map((c) => c.passed)).toEqual([true, false]);
    // The request's own keys, which explain cannot derive, come from `context`.
    const g = await explain(k.service, { keyId: id, action: 'kms:CreateGrant', principal: caller.principalArn, context: { 'kms:GrantOperations': ['Decrypt', 'Encrypt'] } });
    expect(g.context['kms:GrantOperations']).toEqual(['Decrypt', 'Encrypt']);
    expect(g.absent).toContainEqual({ key: 'kms:GranteePrincipal', why: 'not in this request' });
  });
});

describe('kms-proxy/README.md lists every catalogue key with the same operations', () => {
  test('one table row per key, in catalogue order', () => {
    const whole = readFileSync(join(import.meta.dirname, '../../kms-proxy/README.md'), 'utf8');
    const from = whole.indexOf('### Condition keys');
    const readme = whole.slice(from, whole.indexOf('\n## ', from));
    const rows = [...readme.matchAll(/^\| `([^`]+)` \| (\w+) \| ([^|]+) \|/gm)].map((m) => [m[1], m[2], m[3]?.trim()]);
    const describe = (on: (typeof CONDITION_KEYS)[number]['on']) => (on === 'request' ? 'every request' : on === 'key' ? 'every key operation' : on === 'never' ? 'never' : on.map((a) => a.slice(4)).join(', '));
    expect(rows).toEqual(CONDITION_KEYS.map((c) => [c.key, c.type, describe(c.on)]));
  });
});
