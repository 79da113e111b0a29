// The complete attested-release policy (kms-proxy/policy/attested.ts, README "Attested key release"):
// the host, which holds the credentials and relays the enclave's requests, cannot get the plaintext
// of a ciphertext under the key, or a data key the enclave decrypts, by any operation of the API.
// Every operation is called as the host with the input an attacker would choose, and no answer
// carries either secret; the guarded ones are refused by the explicit Deny. The enclave, with its
// document, gets the secret (the positive control).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openEnvelope } from '../../enclave/sdk/cms.ts';
import { ATTESTATION_GUARDED_ACTIONS, attestedKeyPolicy, createKmsApp, type KmsApp } from '../../kms-proxy/index.ts';
import { OPERATIONS } from '../../kms-proxy/operations/index.ts';
import { tempDir } from '../kms-proxy/helpers.ts';
import { signedRequest } from '../kms-proxy/sign.ts';
import { device, hexPcr, openAuthority, rsa, type Authority } from './fixtures.ts';

const ACCOUNT = '111122223333';
const ADMIN = { accessKeyId: 'AKIAKEYADMIN00000000', secretAccessKey: 'admin-secret', principalArn: `arn:aws:iam::${ACCOUNT}:role/key-admin`, account: ACCOUNT };
const HOST = { accessKeyId: 'AKIAPARENTHOST000000', secretAccessKey: 'host-secret', principalArn: `arn:aws:iam::${ACCOUNT}:user/parent-host`, account: ACCOUNT };

const dir = tempDir('kms-attested-');
let a: Authority;
let k: KmsApp;

async function send(cred: typeof HOST, op: string, body: object): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const { url, init } = await signedRequest(cred, JSON.stringify(body), { target: `TrentService.${op}` });
  const res = await k.app.request(url, init);
  const text = await res.text();
  return { status: res.status, text, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function ok(cred: typeof HOST, op: string, body: object): Promise<Record<string, unknown>> {
  const r = await send(cred, op, body);
  if (r.status !== 200) throw new Error(`${op}: ${r.text}`);
  return r.json;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const bytes = (v: unknown) => new Uint8Array(Buffer.from(String(v), 'base64'));

beforeAll(async () => {
  a = await openAuthority();
  // Two Regions, so the key can be multi-Region and a replica is a real route (ReplicateKey copies
  // the material under a key policy the caller chooses).
  k = await createKmsApp({ dataDir: dir, credentials: [ADMIN, HOST], regions: ['us-east-1', 'us-west-2'], recipient: { trustAnchors: [a.authority.rootCertificate] } });
});
afterAll(async () => {
  await k.close();
  a.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('the host cannot get the plaintext by any operation; the attested enclave can', async () => {
  const policy = attestedKeyPolicy({ account: ACCOUNT, pcrs: { 0: hexPcr('good', 0), 1: hexPcr('good', 1) }, administrators: [ADMIN.principalArn] });
  const keyArn = ((await ok(ADMIN, 'CreateKey', { Policy: policy, MultiRegion: true })).KeyMetadata as { Arn: string }).Arn;
  await ok(ADMIN, 'CreateAlias', { AliasName: 'alias/guarded', TargetKeyId: keyArn });
  const secret = randomBytes(32);
  const blob = (await ok(HOST, 'Encrypt', { KeyId: keyArn, Plaintext: b64(secret) })).CiphertextBlob as string;
  const dataKeyBlob = (await ok(HOST, 'GenerateDataKeyWithoutPlaintext', { KeyId: keyArn, NumberOfBytes: 32 })).CiphertextBlob as string;
  // The enclave: its document opens both.
  const doc = await (await device(a.authority, 'good')).attestation({ publicKey: rsa.spki });
  const recipient = { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: b64(doc) };
  const opened = await ok(HOST, 'Decrypt', { CiphertextBlob: blob, Recipient: recipient });
  expect(opened.Plaintext).toBeUndefined();
  expect(Buffer.from(openEnvelope(bytes(opened.CiphertextForRecipient), rsa.privateKey)).equals(secret)).toBe(true);
  const dataKey = Buffer.from(openEnvelope(bytes((await ok(HOST, 'Decrypt', { CiphertextBlob: dataKeyBlob, Recipient: recipient })).CiphertextForRecipient), rsa.privateKey));

  // The host's own key, to re-wrap into; another image's document, and a debug one.
  const hostKey = ((await ok(HOST, 'CreateKey', {})).KeyMetadata as { Arn: string }).Arn;
  const evil = b64(await (await device(a.authority, 'evil')).attestation({ publicKey: rsa.spki }));
  const debug = b64(await (await device(a.authority, 'good', true)).attestation({ publicKey: rsa.spki }));
  const peer = b64(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  const K = { KeyId: keyArn };
  const m = b64(Buffer.from('m'));
  const attacks: Record<string, object[]> = {
    CancelKeyDeletion: [K],
    CreateAlias: [{ AliasName: 'alias/host-view', TargetKeyId: keyArn }],
    CreateGrant: [{ ...K, GranteePrincipal: HOST.principalArn, Operations: ['Decrypt', 'ReEncryptFrom'] }],
    CreateKey: [{}],
    Decrypt: [{ CiphertextBlob: blob }, { CiphertextBlob: dataKeyBlob }, { CiphertextBlob: blob, KeyId: 'alias/guarded' }, { CiphertextBlob: blob, Recipient: { ...recipient, AttestationDocument: evil } }, { CiphertextBlob: blob, Recipient: { ...recipient, AttestationDocument: debug } }],
    DeleteAlias: [{ AliasName: 'alias/guarded' }],
    DeleteImportedKeyMaterial: [K],
    DeriveSharedSecret: [{ ...K, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer }],
    DescribeKey: [K],
    DisableKey: [K],
    DisableKeyRotation: [K],
    EnableKey: [K],
    EnableKeyRotation: [K],
    Encrypt: [{ ...K, Plaintext: m }],
    GenerateDataKey: [{ ...K, NumberOfBytes: 32 }, { ...K, NumberOfBytes: 32, Recipient: { ...recipient, AttestationDocument: evil } }],
    GenerateDataKeyPair: [{ ...K, KeyPairSpec: 'ECC_NIST_P256' }],
    GenerateDataKeyPairWithoutPlaintext: [{ ...K, KeyPairSpec: 'ECC_NIST_P256' }],
    GenerateDataKeyWithoutPlaintext: [{ ...K, NumberOfBytes: 32 }],
    GenerateMac: [{ ...K, Message: m, MacAlgorithm: 'HMAC_SHA_256' }],
    GenerateRandom: [{ NumberOfBytes: 32 }],
    GetKeyPolicy: [K],
    GetKeyRotationStatus: [K],
    GetParametersForImport: [{ ...K, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }],
    GetPublicKey: [K],
    ImportKeyMaterial: [{ ...K, ImportToken: m, EncryptedKeyMaterial: m }],
    ListAliases: [{}, K],
    ListGrants: [K],
    ListKeyPolicies: [K],
    ListKeyRotations: [K],
    ListKeys: [{}],
    ListResourceTags: [K],
    ListRetirableGrants: [{ RetiringPrincipal: HOST.principalArn }],
    PutKeyPolicy: [{ ...K, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] }), BypassPolicyLockoutSafetyCheck: true }],
    // A replica under a policy of the host's own, in the other Region: the policy grants ReplicateKey
    // to nobody, so no replica (then a Decrypt there would need nothing but the host's credential).
    ReplicateKey: [{ ...K, ReplicaRegion: 'us-west-2', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] }), BypassPolicyLockoutSafetyCheck: true }],
    UpdatePrimaryRegion: [{ ...K, PrimaryRegion: 'us-west-2' }],
    ReEncrypt: [{ CiphertextBlob: blob, DestinationKeyId: hostKey }, { CiphertextBlob: dataKeyBlob, DestinationKeyId: hostKey }, { CiphertextBlob: blob, DestinationKeyId: keyArn, DestinationEncryptionContext: { host: 'wants-it' } }],
    RetireGrant: [{ ...K, GrantId: 'f'.repeat(64) }],
    RevokeGrant: [{ ...K, GrantId: 'f'.repeat(64) }],
    RotateKeyOnDemand: [K],
    ScheduleKeyDeletion: [{ ...K, PendingWindowInDays: 7 }],
    Sign: [{ ...K, Message: m, SigningAlgorithm: 'ECDSA_SHA_256' }],
    TagResource: [{ ...K, Tags: [{ TagKey: 'owner', TagValue: 'host' }] }],
    UntagResource: [{ ...K, TagKeys: ['owner'] }],
    UpdateAlias: [{ AliasName: 'alias/guarded', TargetKeyId: hostKey }],
    UpdateKeyDescription: [{ ...K, Description: 'mine now' }],
    Verify: [{ ...K, Message: m, SigningAlgorithm: 'ECDSA_SHA_256', Signature: m }],
    VerifyMac: [{ ...K, Message: m, MacAlgorithm: 'HMAC_SHA_256', Mac: m }],
  };
  // Every operation the KMS implements is tried: a new one must be added here to pass.
  expect(Object.keys(attacks).sort()).toEqual([...OPERATIONS.keys()].sort());

  const needles = [secret, dataKey].flatMap((s) => [b64(s), s.toString('hex'), s.toString('base64url')]);
  const guarded = new Set(ATTESTATION_GUARDED_ACTIONS.map((x) => x.slice(4).replace(/^ReEncrypt(From|To)$/, 'ReEncrypt')));
  const leaks = async (op: string, input: object, r: Awaited<ReturnType<typeof send>>) => {
    for (const n of needles) expect(r.text.includes(n), `${op} ${JSON.stringify(input)} answered a secret`).toBe(false);
    // A ciphertext the host obtained (re-wrapped under its own key, say) is opened as the host can.
    if (r.status === 200 && typeof r.json.CiphertextBlob === 'string') {
      const opened = await send(HOST, 'Decrypt', { CiphertextBlob: r.json.CiphertextBlob });
      for (const n of needles) expect(opened.text.includes(n), `${op} ${JSON.stringify(input)} gave a ciphertext the host decrypts to a secret`).toBe(false);
    }
  };
  for (const [op, inputs] of Object.entries(attacks)) {
    for (const input of inputs) {
      const r = await send(HOST, op, input);
      await leaks(op, input, r);
      // A successful answer's blobs are opened too, in case one is the secret in another encoding.
      for (const v of Object.values(r.json)) {
        if (typeof v === 'string' && v.length > 0) expect([secret, dataKey].some((s) => Buffer.from(v, 'base64').includes(s)), `${op} answered a secret`).toBe(false);
      }
      const recipientOp = 'Recipient' in input;
      if (guarded.has(op) && !recipientOp) {
        expect(r.json.__type, `${op} ${JSON.stringify(input)}`).toBe('AccessDeniedException');
        expect(String(r.json.message)).toContain('explicit deny');
      }
    }
  }
  // No replica was made: the material stayed under this policy, in one Region.
  const config = (await ok(ADMIN, 'DescribeKey', K)).KeyMetadata as { MultiRegionConfiguration?: { ReplicaKeys?: unknown[] } };
  expect(config.MultiRegionConfiguration?.ReplicaKeys).toEqual([]);
  expect((await send(HOST, 'ReplicateKey', attacks.ReplicateKey![0]!)).json.__type).toBe('AccessDeniedException');
  // After everything the host tried (a policy change, a grant, an alias moved), the guarded reads again.
  for (const input of attacks.Decrypt ?? []) await leaks('Decrypt', input, await send(HOST, 'Decrypt', input));
  for (const input of attacks.ReEncrypt ?? []) await leaks('ReEncrypt', input, await send(HOST, 'ReEncrypt', input));
  // And the guard held: the ciphertext is still only the enclave's.
  const again = await ok(HOST, 'Decrypt', { CiphertextBlob: blob, Recipient: recipient });
  expect(Buffer.from(openEnvelope(bytes(again.CiphertextForRecipient), rsa.privateKey)).equals(secret)).toBe(true);
});
