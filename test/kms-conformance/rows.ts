// One row per operation of kms-2014-11-01: the input of a call that succeeds, the output members
// AWS returns that this call legitimately leaves out (and why), the errors reached by a case of
// their own, and the documented errors no request to this KMS can provoke (and why). The suite
// derives the errors every key operation shares (unknown key, disabled key, key pending deletion,
// DryRun, grant token, store failure) from the success input, so a row holds only what is its own.
//
// Messages are AWS's where its documentation or its public recordings give them (localstack's
// tests/aws/services/kms/test_kms.snapshot.json, recorded against AWS; the API Reference); `null`
// where AWS sends no message; `undefined` where AWS's text is not known (the name alone is checked).
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import * as sdk from '@aws-sdk/client-kms';
import { ACCOUNT, arnOf, type Key, type KeyKind, MISSING_KEY, REGION, REPLICA_REGION, type World } from './fixture.ts';

export type Input = Record<string, unknown>;

export interface ErrorCase {
  readonly name: string;
  /** What the case does, for the test's title. */
  readonly what: string;
  readonly input: (w: World) => Promise<Input>;
  /** AWS's message; null: AWS sends none; undefined: not known. */
  readonly message?: string | null | ((input: Input) => string);
  /** Sent to the second KMS (one key per account), its store failing while the call runs when 'failing'. */
  readonly on?: 'broken' | 'failing';
}

export interface Row {
  /** The kind of key the call acts on; the shared error cases substitute keys of this kind. */
  readonly kind?: KeyKind;
  /** The call changes its key: each call gets a new key of `kind`. */
  readonly fresh?: boolean;
  /** The input of a call that succeeds, on `key`. */
  readonly ok: (w: World, key: Key) => Promise<Input> | Input;
  /** Output members AWS returns that this success leaves out, with the reason. */
  readonly absent?: Readonly<Record<string, string>>;
  /** Nested members the success must carry (`KeyMetadata.Arn`). */
  readonly nested?: readonly string[];
  /** Whether the key state table lets the operation act on a key pending deletion. */
  readonly pendingDeletion?: 'refused' | 'allowed';
  readonly errors?: readonly ErrorCase[];
  /** Documented exceptions no request to this KMS can provoke, with the reason. */
  readonly unreachable?: Readonly<Record<string, string>>;
  /** Documented exceptions this KMS does not give where AWS would: known differences (README's operation table). */
  readonly differences?: Readonly<Record<string, string>>;
  /** The operation reads no store (no KMSInternalException from a failing one). */
  readonly storeless?: boolean;
}

// Reasons shared by many rows.
const NO_CUSTOM_STORES = 'custom key stores (CloudHSM, external) are not implemented';
const NO_DEPENDENCY = 'no custom key store or other dependency sits behind this KMS to time out';
const NO_UNAVAILABLE = 'the Unavailable key state is a custom key store state';
const ARN = 'this KMS answers a malformed key ARN with NotFoundException (AWS names InvalidArnException without documenting the ARN it refuses)';
const ONLY_OTHER_STATES = 'refused only in states this suite does not put keys in here (Creating, Updating, PendingReplicaDeletion: test/kms-proxy/multi-region.test.ts)';
const COMMON = { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE, InvalidArnException: ARN } as const;

const ROLE = `arn:aws:iam::${ACCOUNT}:role/conformance`;
const GRANTEE = `arn:aws:iam::${ACCOUNT}:role/grantee`;
const DRY_RUN = 'The request would have succeeded, but the DryRun option is set.';
const keyOnly = (_w: World, k: Key): Input => ({ KeyId: k.keyId });
const notPending = (arn: string) => `${arn} is not pending deletion.`;

const aliasName = () => `alias/conformance-${randomBytes(6).toString('hex')}`;

async function blobOf(w: World, k: Key): Promise<Uint8Array> {
  return (await w.kms.send(new sdk.EncryptCommand({ KeyId: k.keyId, Plaintext: Buffer.from('conformance') }))).CiphertextBlob ?? new Uint8Array();
}

async function grantOn(w: World, k: Key, extra: Partial<sdk.CreateGrantCommandInput> = {}): Promise<{ GrantId: string; GrantToken: string }> {
  const g = await w.kms.send(new sdk.CreateGrantCommand({ KeyId: k.keyId, GranteePrincipal: GRANTEE, RetiringPrincipal: ROLE, Operations: ['Decrypt'], ...extra }));
  return { GrantId: g.GrantId ?? '', GrantToken: g.GrantToken ?? '' };
}

/** A grant of `k` to retire or revoke (a grant id of none where `k` takes no grant). */
async function grantOfKey(w: World, k: Key): Promise<Input> {
  const g = k.keyId === MISSING_KEY || k.state !== 'Enabled' ? { GrantId: '0'.repeat(64) } : await grantOn(w, k);
  return { KeyId: k.keyId, GrantId: g.GrantId };
}

/** The import parameters of `k` and `material` wrapped with them (RSAES_OAEP_SHA_256). */
async function wrapped(w: World, k: Key, material: Buffer): Promise<Input> {
  const p = await w.kms.send(new sdk.GetParametersForImportCommand({ KeyId: k.keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
  const EncryptedKeyMaterial = publicEncrypt({ key: createPublicKey({ key: Buffer.from(p.PublicKey ?? []), format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
  return { KeyId: k.keyId, ImportToken: p.ImportToken, EncryptedKeyMaterial };
}

/** An EXTERNAL symmetric key with material imported (Enabled), and that material. */
async function imported(w: World, k: Key): Promise<Buffer> {
  const material = randomBytes(32);
  await w.kms.send(new sdk.ImportKeyMaterialCommand({ ...(await wrapped(w, k, material)), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } as sdk.ImportKeyMaterialCommandInput));
  return material;
}

const p256Public = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });

async function signature(w: World, k: Key): Promise<Uint8Array> {
  return (await w.kms.send(new sdk.SignCommand({ KeyId: k.keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature ?? new Uint8Array();
}

async function mac(w: World, k: Key): Promise<Uint8Array> {
  return (await w.kms.send(new sdk.GenerateMacCommand({ KeyId: k.keyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }))).Mac ?? new Uint8Array();
}

const usage = (op: string, k: Key, usageName: string) => `${k.arn} key usage is ${usageName} which is not valid for ${op}.`;
const incompatible = (alg: string, spec: string) => `Algorithm ${alg} is incompatible with key spec ${spec}.`;

export const ROWS: Readonly<Record<string, Row>> = {
  // ---- keys ----
  CreateKey: {
    ok: () => ({ Description: 'conformance', Tags: [{ TagKey: 'team', TagValue: 'a' }] }),
    nested: ['KeyMetadata.AWSAccountId', 'KeyMetadata.KeyId', 'KeyMetadata.Arn', 'KeyMetadata.CreationDate', 'KeyMetadata.Enabled', 'KeyMetadata.Description', 'KeyMetadata.KeyUsage', 'KeyMetadata.KeyState', 'KeyMetadata.Origin', 'KeyMetadata.KeyManager', 'KeyMetadata.CustomerMasterKeySpec', 'KeyMetadata.KeySpec', 'KeyMetadata.EncryptionAlgorithms', 'KeyMetadata.MultiRegion', 'KeyMetadata.CurrentKeyMaterialId'],
    errors: [
      { name: 'TagException', what: 'an aws: tag key', input: async () => ({ Tags: [{ TagKey: 'aws:x', TagValue: 'v' }] }), message: 'Tags beginning with aws: are reserved' },
      { name: 'TagException', what: 'a tag key twice', input: async () => ({ Tags: [{ TagKey: 'a', TagValue: '1' }, { TagKey: 'a', TagValue: '2' }] }), message: 'Duplicate tag keys' },
      { name: 'MalformedPolicyDocumentException', what: 'a policy that is not JSON', input: async () => ({ Policy: 'not json' }) },
      { name: 'UnsupportedOperationException', what: 'a key spec this KMS does not implement (ML_KEM_768)', input: async () => ({ KeySpec: 'ML_KEM_768', KeyUsage: 'ENCAPSULATE_DECAPSULATE' }) },
      { name: 'LimitExceededException', what: 'a second key where the quota is one', input: async (w) => {
        await w.brokenKms.send(new sdk.CreateKeyCommand({})).catch(() => undefined);
        return {};
      }, on: 'broken' },
    ],
    unreachable: {
      CloudHsmClusterInvalidConfigurationException: NO_CUSTOM_STORES, CustomKeyStoreInvalidStateException: NO_CUSTOM_STORES, CustomKeyStoreNotFoundException: NO_CUSTOM_STORES,
      XksKeyAlreadyInUseException: NO_CUSTOM_STORES, XksKeyInvalidConfigurationException: NO_CUSTOM_STORES, XksKeyNotFoundException: NO_CUSTOM_STORES,
      DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: 'CreateKey names no key: AWS lists it for a CustomKeyStoreId or XksKeyId, which this KMS refuses (UnsupportedOperationException)',
    },
  },
  DescribeKey: {
    kind: 'sym',
    ok: keyOnly,
    pendingDeletion: 'allowed',
    nested: ['KeyMetadata.KeyId', 'KeyMetadata.Arn', 'KeyMetadata.CurrentKeyMaterialId', 'KeyMetadata.EncryptionAlgorithms', 'KeyMetadata.MultiRegion'],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: ARN },
  },
  ListKeys: {
    ok: () => ({ Limit: 1 }),
    errors: [{ name: 'InvalidMarkerException', what: 'a marker this KMS never gave', input: async () => ({ Marker: 'bm90LWEtbWFya2Vy' }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY },
  },
  EnableKey: {
    kind: 'sym',
    fresh: true,
    ok: keyOnly,
    pendingDeletion: 'refused',
    unreachable: { ...COMMON, LimitExceededException: 'AWS: a request quota; this KMS throttles with ThrottlingException (test/kms-proxy/throttle.test.ts)' },
  },
  DisableKey: { kind: 'sym', fresh: true, ok: keyOnly, pendingDeletion: 'refused', unreachable: COMMON },
  ScheduleKeyDeletion: {
    kind: 'sym',
    fresh: true,
    ok: (_w, k) => ({ KeyId: k.keyId, PendingWindowInDays: 7 }),
    pendingDeletion: 'refused',
    unreachable: COMMON,
  },
  CancelKeyDeletion: {
    kind: 'sym',
    ok: async (w, k) => {
      if (k.keyId !== MISSING_KEY) await w.kms.send(new sdk.ScheduleKeyDeletionCommand({ KeyId: k.keyId, PendingWindowInDays: 7 })).catch(() => undefined);
      return { KeyId: k.keyId };
    },
    fresh: true,
    errors: [{ name: 'KMSInvalidStateException', what: 'a key not pending deletion', input: async (w) => ({ KeyId: (await w.key('sym')).keyId }), message: (i) => notPending(arnOf(String(i.KeyId))) }],
    unreachable: COMMON,
  },
  UpdateKeyDescription: { kind: 'sym', fresh: true, ok: (_w, k) => ({ KeyId: k.keyId, Description: 'new' }), pendingDeletion: 'refused', unreachable: COMMON },

  // ---- aliases ----
  CreateAlias: {
    kind: 'sym',
    ok: (_w, k) => ({ AliasName: aliasName(), TargetKeyId: k.keyId }),
    pendingDeletion: 'refused',
    errors: [
      // The message as real AWS answers it (Terraform's error output, quoted in public issues and docs).
      { name: 'AlreadyExistsException', what: 'an alias name in use', input: async (w) => {
        const k = await w.key('sym');
        const AliasName = aliasName();
        await w.kms.send(new sdk.CreateAliasCommand({ AliasName, TargetKeyId: (await w.fresh('sym')).keyId }));
        return { AliasName, TargetKeyId: k.keyId };
      }, message: (i) => `An alias with the name arn:aws:kms:${REGION}:${ACCOUNT}:${String(i.AliasName)} already exists` },
      { name: 'InvalidAliasNameException', what: 'an alias/aws/ name', input: async (w) => ({ AliasName: 'alias/aws/conformance', TargetKeyId: (await w.key('sym')).keyId }) },
      { name: 'LimitExceededException', what: 'a third alias where the quota is two per key', input: async (w) => {
        const k = await w.fresh('sym');
        for (let i = 0; i < 2; i++) await w.kms.send(new sdk.CreateAliasCommand({ AliasName: aliasName(), TargetKeyId: k.keyId }));
        return { AliasName: aliasName(), TargetKeyId: k.keyId };
      } },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY },
  },
  DeleteAlias: {
    ok: async (w) => {
      const AliasName = aliasName();
      await w.kms.send(new sdk.CreateAliasCommand({ AliasName, TargetKeyId: (await w.fresh('sym')).keyId }));
      return { AliasName };
    },
    errors: [{ name: 'NotFoundException', what: 'an alias that does not exist', input: async () => ({ AliasName: 'alias/conformance-none' }), message: `Alias arn:aws:kms:${REGION}:${ACCOUNT}:alias/conformance-none is not found.` }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KMSInvalidStateException: 'DeleteAlias is allowed in every key state but the custom key store ones' },
  },
  UpdateAlias: {
    kind: 'sym',
    ok: async (w, k) => {
      const AliasName = aliasName();
      await w.kms.send(new sdk.CreateAliasCommand({ AliasName, TargetKeyId: (await w.fresh('sym')).keyId }));
      return { AliasName, TargetKeyId: k.keyId };
    },
    pendingDeletion: 'refused',
    errors: [{ name: 'LimitExceededException', what: 'a third alias onto a key where the quota is two', input: async (w) => {
      const k = await w.fresh('sym');
      for (let i = 0; i < 2; i++) await w.kms.send(new sdk.CreateAliasCommand({ AliasName: aliasName(), TargetKeyId: k.keyId }));
      const AliasName = aliasName();
      await w.kms.send(new sdk.CreateAliasCommand({ AliasName, TargetKeyId: (await w.fresh('sym')).keyId }));
      return { AliasName, TargetKeyId: k.keyId };
    } }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY },
  },
  ListAliases: {
    kind: 'sym',
    fresh: true,
    ok: async (w, k) => {
      if (k.keyId !== MISSING_KEY) await w.kms.send(new sdk.CreateAliasCommand({ AliasName: aliasName(), TargetKeyId: k.keyId })).catch(() => undefined);
      return { KeyId: k.keyId, Limit: 10 };
    },
    pendingDeletion: 'allowed',
    absent: { NextMarker: 'one page holds every alias of the key', AliasArn: '' },
    nested: ['Aliases[].AliasName', 'Aliases[].AliasArn', 'Aliases[].TargetKeyId', 'Aliases[].CreationDate', 'Aliases[].LastUpdatedDate'],
    errors: [{ name: 'InvalidMarkerException', what: 'a marker this KMS never gave', input: async () => ({ Marker: 'bm90LWEtbWFya2Vy' }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: ARN },
  },

  // ---- tags ----
  TagResource: {
    kind: 'sym',
    fresh: true,
    ok: (_w, k) => ({ KeyId: k.keyId, Tags: [{ TagKey: 'team', TagValue: 'b' }] }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'TagException', what: 'an aws: tag key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Tags: [{ TagKey: 'AWS:x', TagValue: 'v' }] }), message: 'Tags beginning with aws: are reserved' },
      { name: 'TagException', what: '51 tags', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Tags: Array.from({ length: 51 }, (_, i) => ({ TagKey: `k${i}`, TagValue: 'v' })) }), message: 'Too many tags' },
    ],
    unreachable: { InvalidArnException: ARN, LimitExceededException: 'AWS documents it for too many tags, which it answers (and this KMS with it) as TagException "Too many tags" (recorded)' },
  },
  UntagResource: {
    kind: 'sym',
    fresh: true,
    ok: (_w, k) => ({ KeyId: k.keyId, TagKeys: ['team'] }),
    pendingDeletion: 'refused',
    unreachable: { InvalidArnException: ARN },
    differences: { TagException: 'not reproduced: AWS documents no TagKeys it refuses beyond the model\'s constraints, and this KMS removes any key given (absent ones are ignored)' },
  },
  ListResourceTags: {
    kind: 'sym',
    ok: (_w, k) => ({ KeyId: k.keyId }),
    pendingDeletion: 'allowed',
    absent: { NextMarker: 'one page holds every tag' },
    errors: [{ name: 'InvalidMarkerException', what: 'a marker this KMS never gave', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Marker: 'bm90LWEtbWFya2Vy' }) }],
    unreachable: { InvalidArnException: ARN },
  },

  // ---- cryptographic operations ----
  Encrypt: {
    kind: 'sym',
    ok: (_w, k) => ({ KeyId: k.keyId, Plaintext: Buffer.from('x') }),
    pendingDeletion: 'refused',
    errors: [{ name: 'InvalidKeyUsageException', what: 'a signing key', input: async (w) => ({ KeyId: (await w.key('ecSign')).keyId, Plaintext: Buffer.from('x') }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  Decrypt: {
    kind: 'sym',
    ok: async (w, k) => ({ KeyId: k.keyId, CiphertextBlob: k.keyId === MISSING_KEY || k.state !== 'Enabled' ? await blobOf(w, await w.key('sym')) : await blobOf(w, k) }),
    pendingDeletion: 'refused',
    absent: { CiphertextForRecipient: 'only with a Recipient (attested enclaves: test/e2e)' },
    errors: [
      { name: 'IncorrectKeyException', what: 'a KeyId that is not the ciphertext\'s key', input: async (w) => ({ KeyId: (await w.fresh('sym')).keyId, CiphertextBlob: await blobOf(w, await w.key('sym')) }), message: 'The key ID in the request does not identify a CMK that can perform this operation.' },
      { name: 'IncorrectKeyException', what: 'an HMAC key', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId, CiphertextBlob: await blobOf(w, await w.key('sym')) }), message: 'The key ID in the request does not identify a CMK that can perform this operation.' },
      { name: 'InvalidCiphertextException', what: 'a changed ciphertext', input: async (w) => {
        const b = Buffer.from(await blobOf(w, await w.key('sym')));
        b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1;
        return { CiphertextBlob: b };
      }, message: null },
      { name: 'InvalidKeyUsageException', what: 'SYMMETRIC_DEFAULT with an RSA key', input: async (w) => ({ KeyId: (await w.key('rsaEnc')).keyId, CiphertextBlob: randomBytes(256) }), message: incompatible('SYMMETRIC_DEFAULT', 'RSA_2048') },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  ReEncrypt: {
    kind: 'sym',
    ok: async (w, k) => ({ CiphertextBlob: await blobOf(w, await w.key('sym')), DestinationKeyId: k.keyId }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'IncorrectKeyException', what: 'an HMAC source key', input: async (w) => ({ SourceKeyId: (await w.key('hmac')).keyId, CiphertextBlob: await blobOf(w, await w.key('sym')), DestinationKeyId: (await w.key('sym')).keyId }), message: 'The key ID in the request does not identify a CMK that can perform this operation.' },
      { name: 'InvalidCiphertextException', what: 'bytes that are no ciphertext', input: async (w) => ({ CiphertextBlob: randomBytes(64), DestinationKeyId: (await w.key('sym')).keyId }) },
      { name: 'InvalidKeyUsageException', what: 'an HMAC destination key', input: async (w) => ({ CiphertextBlob: await blobOf(w, await w.key('sym')), DestinationKeyId: (await w.key('hmac')).keyId }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  GenerateDataKey: {
    kind: 'sym',
    ok: (_w, k) => ({ KeyId: k.keyId, KeySpec: 'AES_256' }),
    pendingDeletion: 'refused',
    absent: { CiphertextForRecipient: 'only with a Recipient (attested enclaves: test/e2e)' },
    errors: [{ name: 'InvalidKeyUsageException', what: 'an RSA key', input: async (w) => ({ KeyId: (await w.key('rsaEnc')).keyId, KeySpec: 'AES_256' }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  GenerateDataKeyWithoutPlaintext: {
    kind: 'sym',
    ok: (_w, k) => ({ KeyId: k.keyId, NumberOfBytes: 16 }),
    pendingDeletion: 'refused',
    errors: [{ name: 'InvalidKeyUsageException', what: 'an HMAC key', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId, NumberOfBytes: 16 }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  GenerateDataKeyPair: {
    kind: 'sym',
    ok: (_w, k) => ({ KeyId: k.keyId, KeyPairSpec: 'ECC_NIST_P256' }),
    pendingDeletion: 'refused',
    absent: { CiphertextForRecipient: 'only with a Recipient (attested enclaves: test/e2e)' },
    errors: [
      { name: 'InvalidKeyUsageException', what: 'an RSA key', input: async (w) => ({ KeyId: (await w.key('rsaEnc')).keyId, KeyPairSpec: 'ECC_NIST_P256' }) },
      { name: 'UnsupportedOperationException', what: 'a key pair spec this KMS does not implement (ML_KEM_512)', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, KeyPairSpec: 'ML_KEM_512' }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  GenerateDataKeyPairWithoutPlaintext: {
    kind: 'sym',
    ok: (_w, k) => ({ KeyId: k.keyId, KeyPairSpec: 'RSA_2048' }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'InvalidKeyUsageException', what: 'an HMAC key', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId, KeyPairSpec: 'ECC_NIST_P256' }) },
      { name: 'UnsupportedOperationException', what: 'a key pair spec this KMS does not implement (ML_KEM_512)', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, KeyPairSpec: 'ML_KEM_512' }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  GenerateRandom: {
    ok: () => ({ NumberOfBytes: 32 }),
    absent: { CiphertextForRecipient: 'only with a Recipient (attested enclaves: test/e2e)' },
    storeless: true,
    errors: [{ name: 'UnsupportedOperationException', what: 'a CustomKeyStoreId', input: async () => ({ NumberOfBytes: 32, CustomKeyStoreId: 'cks-1234567890abcdef0' }) }],
    unreachable: { CustomKeyStoreInvalidStateException: NO_CUSTOM_STORES, CustomKeyStoreNotFoundException: NO_CUSTOM_STORES, DependencyTimeoutException: NO_DEPENDENCY, KMSInternalException: 'GenerateRandom reads no key store; other internal failures are KMSInternalException as in every operation (test/kms-proxy/store-integrity.test.ts)' },
  },

  // ---- asymmetric, HMAC, key agreement ----
  Sign: {
    kind: 'ecSign',
    ok: (_w, k) => ({ KeyId: k.keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'InvalidKeyUsageException', what: 'an RSA signing algorithm with an ECC key', input: async (w) => ({ KeyId: (await w.key('ecSign')).keyId, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }), message: incompatible('RSASSA_PSS_SHA_256', 'ECC_NIST_P256') },
      { name: 'InvalidKeyUsageException', what: 'a symmetric key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  Verify: {
    kind: 'ecSign',
    ok: async (w, k) => ({ KeyId: k.keyId, Message: Buffer.from('m'), Signature: await signature(w, await w.key('ecSign')), SigningAlgorithm: 'ECDSA_SHA_256' }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'KMSInvalidSignatureException', what: 'a signature of another message', input: async (w) => ({ KeyId: (await w.key('ecSign')).keyId, Message: Buffer.from('other'), Signature: await signature(w, await w.key('ecSign')), SigningAlgorithm: 'ECDSA_SHA_256' }), message: null },
      { name: 'InvalidKeyUsageException', what: 'an HMAC key', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId, Message: Buffer.from('m'), Signature: randomBytes(64), SigningAlgorithm: 'ECDSA_SHA_256' }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },
  GetPublicKey: {
    kind: 'ecSign',
    ok: keyOnly,
    pendingDeletion: 'refused',
    absent: { EncryptionAlgorithms: 'only for ENCRYPT_DECRYPT keys', KeyAgreementAlgorithms: 'only for KEY_AGREEMENT keys', EncapsulationAlgorithms: 'only for ML-KEM keys' },
    errors: [
      { name: 'UnsupportedOperationException', what: 'a symmetric key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId }) },
      { name: 'UnsupportedOperationException', what: 'an HMAC key', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE, InvalidArnException: ARN },
    differences: { InvalidKeyUsageException: 'not reproduced: every key with a public key has a usage GetPublicKey serves, and keys without one (symmetric, HMAC) are UnsupportedOperationException here' },
  },
  GenerateMac: {
    kind: 'hmac',
    ok: (_w, k) => ({ KeyId: k.keyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }),
    pendingDeletion: 'refused',
    errors: [{ name: 'InvalidKeyUsageException', what: 'a MAC algorithm of another key spec', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_384' }), message: incompatible('HMAC_SHA_384', 'HMAC_256') }],
    unreachable: { KeyUnavailableException: NO_UNAVAILABLE },
  },
  VerifyMac: {
    kind: 'hmac',
    ok: async (w, k) => ({ KeyId: k.keyId, Message: Buffer.from('m'), Mac: await mac(w, await w.key('hmac')), MacAlgorithm: 'HMAC_SHA_256' }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'KMSInvalidMacException', what: 'a MAC of another message', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId, Message: Buffer.from('other'), Mac: await mac(w, await w.key('hmac')), MacAlgorithm: 'HMAC_SHA_256' }), message: null },
      { name: 'InvalidKeyUsageException', what: 'a symmetric key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Message: Buffer.from('m'), Mac: randomBytes(32), MacAlgorithm: 'HMAC_SHA_256' }) },
    ],
    unreachable: { KeyUnavailableException: NO_UNAVAILABLE },
  },
  DeriveSharedSecret: {
    kind: 'ecAgree',
    ok: (_w, k) => ({ KeyId: k.keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: p256Public() }),
    pendingDeletion: 'refused',
    absent: { CiphertextForRecipient: 'only with a Recipient (attested enclaves: test/e2e)' },
    errors: [{ name: 'InvalidKeyUsageException', what: 'a signing key', input: async (w) => ({ KeyId: (await w.key('ecSign')).keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: p256Public() }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, KeyUnavailableException: NO_UNAVAILABLE },
  },

  // ---- rotation ----
  EnableKeyRotation: {
    kind: 'sym',
    fresh: true,
    ok: (_w, k) => ({ KeyId: k.keyId, RotationPeriodInDays: 90 }),
    pendingDeletion: 'refused',
    errors: [{ name: 'UnsupportedOperationException', what: 'an HMAC key', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId }) }],
    unreachable: COMMON,
  },
  DisableKeyRotation: {
    kind: 'sym',
    fresh: true,
    ok: keyOnly,
    pendingDeletion: 'refused',
    errors: [{ name: 'UnsupportedOperationException', what: 'an EXTERNAL key', input: async (w) => ({ KeyId: (await w.key('external')).keyId }) }],
    unreachable: COMMON,
  },
  GetKeyRotationStatus: {
    kind: 'sym',
    ok: keyOnly,
    pendingDeletion: 'refused',
    absent: { NextRotationDate: 'only while automatic rotation is enabled', OnDemandRotationStartDate: 'only while an on-demand rotation is in progress (this KMS rotates at once)', RotationPeriodInDays: 'only while automatic rotation is enabled' },
    unreachable: { ...COMMON, UnsupportedOperationException: 'AWS: keys in custom key stores; for asymmetric and HMAC keys "the key rotation status … is always false" (GetKeyRotationStatus), as here' },
  },
  RotateKeyOnDemand: {
    kind: 'sym',
    fresh: true,
    ok: keyOnly,
    pendingDeletion: 'refused',
    errors: [
      { name: 'UnsupportedOperationException', what: 'an HMAC key', input: async (w) => ({ KeyId: (await w.key('hmac')).keyId }), message: null },
      { name: 'KMSInvalidStateException', what: 'an EXTERNAL key without material pending rotation', input: async (w) => {
        const k = await w.fresh('external');
        await imported(w, k);
        return { KeyId: k.keyId };
      }, message: (i) => `No available key material pending rotation for the key: ${arnOf(String(i.KeyId))}.` },
      { name: 'LimitExceededException', what: 'the 26th on-demand rotation', input: async (w) => {
        const k = await w.fresh('sym');
        for (let i = 0; i < 25; i++) await w.kms.send(new sdk.RotateKeyOnDemandCommand({ KeyId: k.keyId }));
        return { KeyId: k.keyId };
      }, message: (i) => `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${arnOf(String(i.KeyId))}` },
    ],
    unreachable: { ...COMMON, ConflictException: 'an on-demand rotation completes within the call here, so none is ever in progress' },
  },
  ListKeyRotations: {
    kind: 'sym',
    ok: async (w, k) => ({ KeyId: k.keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    pendingDeletion: 'allowed',
    absent: { NextMarker: 'one page holds every material' },
    nested: ['Rotations[].KeyId', 'Rotations[].KeyMaterialId', 'Rotations[].KeyMaterialState'],
    errors: [
      { name: 'UnsupportedOperationException', what: 'an asymmetric key', input: async (w) => ({ KeyId: (await w.key('ecSign')).keyId }) },
      { name: 'InvalidMarkerException', what: 'a marker this KMS never gave', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Marker: 'bm90LWEtbWFya2Vy' }) },
    ],
    unreachable: { InvalidArnException: ARN, KMSInvalidStateException: ONLY_OTHER_STATES },
  },

  // ---- grants ----
  CreateGrant: {
    kind: 'sym',
    fresh: true,
    ok: (_w, k) => ({ KeyId: k.keyId, GranteePrincipal: GRANTEE, Operations: ['Decrypt'] }),
    pendingDeletion: 'refused',
    errors: [{ name: 'LimitExceededException', what: 'a third grant where the quota is two per key', input: async (w) => {
      const k = await w.fresh('sym');
      for (let i = 0; i < 2; i++) await grantOn(w, k);
      return { KeyId: k.keyId, GranteePrincipal: GRANTEE, Operations: ['Decrypt'] };
    } }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: ARN },
  },
  ListGrants: {
    kind: 'sym',
    ok: async (w, k) => {
      if (k.keyId !== MISSING_KEY && k.state === 'Enabled') await grantOn(w, k, { Constraints: { EncryptionContextSubset: { a: 'b' } } }).catch(() => undefined);
      return { KeyId: k.keyId, Limit: 1 };
    },
    fresh: true,
    pendingDeletion: 'allowed',
    absent: { NextMarker: 'one grant: one page' },
    nested: ['Grants[].KeyId', 'Grants[].GrantId', 'Grants[].CreationDate', 'Grants[].GranteePrincipal', 'Grants[].RetiringPrincipal', 'Grants[].IssuingAccount', 'Grants[].Operations', 'Grants[].Constraints.EncryptionContextSubset'],
    errors: [
      { name: 'InvalidMarkerException', what: 'a marker this KMS never gave', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Marker: 'bm90LWEtbWFya2Vy' }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: ARN, KMSInvalidStateException: ONLY_OTHER_STATES },
    differences: { InvalidGrantIdException: 'not reproduced: a GrantId filter naming no grant of the key lists none here' },
  },
  ListRetirableGrants: {
    ok: async (w) => {
      await grantOn(w, await w.fresh('sym'));
      return { RetiringPrincipal: ROLE, Limit: 1 };
    },
    nested: ['Grants[].GrantId', 'Grants[].RetiringPrincipal', 'NextMarker', 'Truncated'],
    errors: [{ name: 'InvalidMarkerException', what: 'a marker this KMS never gave', input: async () => ({ RetiringPrincipal: ROLE, Marker: 'bm90LWEtbWFya2Vy' }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: ARN, NotFoundException: 'AWS documents it for the key of a grant; a principal without grants lists none (tested: test/kms-proxy/aws-answers.test.ts)' },
  },
  RetireGrant: {
    kind: 'sym',
    ok: grantOfKey,
    fresh: true,
    pendingDeletion: 'allowed',
    errors: [
      { name: 'InvalidGrantTokenException', what: 'a grant token that is no grant\'s', input: async () => ({ GrantToken: 'AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MGIwZTAxZTAxZTAx' }) },
      { name: 'InvalidGrantIdException', what: 'a grant id of no grant of the key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, GrantId: '1'.repeat(64) }) },
    ],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: ARN, KMSInvalidStateException: ONLY_OTHER_STATES },
  },
  RevokeGrant: {
    kind: 'sym',
    ok: grantOfKey,
    fresh: true,
    pendingDeletion: 'allowed',
    errors: [{ name: 'NotFoundException', what: 'a grant id of no grant of the key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, GrantId: '1'.repeat(64) }) }],
    unreachable: { DependencyTimeoutException: NO_DEPENDENCY, InvalidArnException: ARN, KMSInvalidStateException: ONLY_OTHER_STATES },
    differences: { InvalidGrantIdException: 'not reproduced: a grant id of no grant of the key is NotFoundException here' },
  },

  // ---- key policies ----
  GetKeyPolicy: {
    kind: 'sym',
    ok: (_w, k) => ({ KeyId: k.keyId, PolicyName: 'default' }),
    pendingDeletion: 'allowed',
    unreachable: { ...COMMON, KMSInvalidStateException: ONLY_OTHER_STATES },
  },
  PutKeyPolicy: {
    kind: 'sym',
    fresh: true,
    ok: async (w, k) => ({ KeyId: k.keyId, Policy: k.keyId === MISSING_KEY ? '{}' : ((await w.kms.send(new sdk.GetKeyPolicyCommand({ KeyId: k.keyId }))).Policy ?? '') }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'MalformedPolicyDocumentException', what: 'a policy that is not JSON', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Policy: 'not json' }) },
      { name: 'MalformedPolicyDocumentException', what: 'a policy that locks the caller out', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: GRANTEE }, Action: 'kms:Decrypt', Resource: '*' }] }) }), message: 'The new key policy will not allow you to update the key policy in the future.' },
    ],
    unreachable: {
      ...COMMON,
      LimitExceededException: 'AWS: a policy over 32 KiB, which the shape refuses first here (ValidationException, as the model\'s length constraint)',
      UnsupportedOperationException: 'AWS: a PolicyName other than default, which the model\'s pattern allows; this KMS answers it as well',
    },
  },
  ListKeyPolicies: {
    kind: 'sym',
    ok: keyOnly,
    pendingDeletion: 'allowed',
    absent: { NextMarker: 'one policy: one page' },
    unreachable: { ...COMMON, KMSInvalidStateException: ONLY_OTHER_STATES },
  },

  // ---- imported key material ----
  GetParametersForImport: {
    kind: 'external',
    ok: (_w, k) => ({ KeyId: k.keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }),
    pendingDeletion: 'refused',
    errors: [{ name: 'UnsupportedOperationException', what: 'a key whose origin is AWS_KMS', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }), message: (i) => `${arnOf(String(i.KeyId))} origin is AWS_KMS which is not valid for this operation.` }],
    unreachable: COMMON,
  },
  ImportKeyMaterial: {
    kind: 'external',
    fresh: true,
    ok: async (w, k) => (k.keyId === MISSING_KEY || k.state !== 'PendingImport' && k.state !== 'Enabled'
      ? { KeyId: k.keyId, ImportToken: randomBytes(32), EncryptedKeyMaterial: randomBytes(256), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }
      : { ...(await wrapped(w, k, randomBytes(32))), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'InvalidImportTokenException', what: 'a token of another key', input: async (w) => ({ ...(await wrapped(w, await w.fresh('external'), randomBytes(32))), KeyId: (await w.fresh('external')).keyId, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }) },
      { name: 'ExpiredImportTokenException', what: 'a token past its 24 hours', input: async (w) => {
        const i = await wrapped(w, await w.fresh('external'), randomBytes(32));
        w.now += 25 * 3600_000;
        return { ...i, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' };
      } },
      { name: 'InvalidCiphertextException', what: 'material not wrapped with the parameters\' key', input: async (w) => ({ ...(await wrapped(w, await w.fresh('external'), randomBytes(32))), EncryptedKeyMaterial: randomBytes(256), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }) },
      { name: 'IncorrectKeyMaterialException', what: 'other material than the key\'s', input: async (w) => {
        const k = await w.fresh('external');
        await imported(w, k);
        return { ...(await wrapped(w, k, randomBytes(32))), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'EXISTING_KEY_MATERIAL' };
      }, message: 'The key material in the request is not the same key material that was previously imported into this KMS key.' },
      { name: 'UnsupportedOperationException', what: 'a key whose origin is AWS_KMS', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, ImportToken: randomBytes(32), EncryptedKeyMaterial: randomBytes(256), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }) },
      { name: 'ValidationException', what: 'KEY_MATERIAL_EXPIRES (the default) without ValidTo', input: async (w) => {
        const i = await wrapped(w, await w.fresh('external'), randomBytes(32));
        return i;
      }, message: 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES' },
    ],
    unreachable: COMMON,
  },
  DeleteImportedKeyMaterial: {
    kind: 'external',
    ok: async (w, k) => {
      if (k.keyId !== MISSING_KEY && k.state === 'Enabled') await imported(w, k);
      return { KeyId: k.keyId };
    },
    fresh: true,
    absent: { KeyMaterialId: 'AWS returns it only for a symmetric key\'s material deleted by id; this call names none' },
    pendingDeletion: 'allowed',
    errors: [
      { name: 'UnsupportedOperationException', what: 'a key whose origin is AWS_KMS', input: async (w) => ({ KeyId: (await w.key('sym')).keyId }) },
    ],
    unreachable: COMMON,
    differences: { KMSInvalidStateException: 'not reproduced: allowed here in every state a key of this KMS can be in, and a key pending import (no material) succeeds as a no-op' },
  },

  // ---- multi-Region keys ----
  ReplicateKey: {
    kind: 'mrk',
    fresh: true,
    ok: (_w, k) => ({ KeyId: k.keyId, ReplicaRegion: REPLICA_REGION, Description: 'replica', Tags: [{ TagKey: 'team', TagValue: 'r' }] }),
    pendingDeletion: 'refused',
    errors: [
      { name: 'AlreadyExistsException', what: 'a second replica in the same Region', input: async (w) => {
        const k = await w.fresh('mrk');
        await w.kms.send(new sdk.ReplicateKeyCommand({ KeyId: k.keyId, ReplicaRegion: REPLICA_REGION }));
        return { KeyId: k.keyId, ReplicaRegion: REPLICA_REGION };
      } },
      { name: 'UnsupportedOperationException', what: 'a single-Region key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, ReplicaRegion: REPLICA_REGION }) },
      { name: 'TagException', what: 'an aws: tag key', input: async (w) => ({ KeyId: (await w.fresh('mrk')).keyId, ReplicaRegion: REPLICA_REGION, Tags: [{ TagKey: 'aws:x', TagValue: 'v' }] }), message: 'Tags beginning with aws: are reserved' },
      { name: 'MalformedPolicyDocumentException', what: 'a policy that is not JSON', input: async (w) => ({ KeyId: (await w.fresh('mrk')).keyId, ReplicaRegion: REPLICA_REGION, Policy: 'not json' }) },
    ],
    unreachable: { InvalidArnException: ARN, LimitExceededException: 'the keys-per-account quota of the replica\'s Region: test/kms-proxy/multi-region.test.ts' },
  },
  UpdatePrimaryRegion: {
    kind: 'mrk',
    fresh: true,
    ok: async (w, k) => {
      if (k.keyId !== MISSING_KEY && k.state === 'Enabled') await w.kms.send(new sdk.ReplicateKeyCommand({ KeyId: k.keyId, ReplicaRegion: REPLICA_REGION }));
      return { KeyId: k.keyId, PrimaryRegion: REPLICA_REGION };
    },
    pendingDeletion: 'refused',
    errors: [{ name: 'UnsupportedOperationException', what: 'a single-Region key', input: async (w) => ({ KeyId: (await w.key('sym')).keyId, PrimaryRegion: REPLICA_REGION }) }],
    unreachable: { InvalidArnException: ARN },
  },
};

/** Operations of the model this KMS does not implement: UnsupportedOperationException, and why. */
export const NOT_IMPLEMENTED: Readonly<Record<string, string>> = {
  ConnectCustomKeyStore: NO_CUSTOM_STORES,
  CreateCustomKeyStore: NO_CUSTOM_STORES,
  DeleteCustomKeyStore: NO_CUSTOM_STORES,
  DescribeCustomKeyStores: NO_CUSTOM_STORES,
  DisconnectCustomKeyStore: NO_CUSTOM_STORES,
  UpdateCustomKeyStore: NO_CUSTOM_STORES,
  GetKeyLastUsage: 'key last-usage tracking is not implemented',
  Encapsulate: 'ML-KEM keys are not implemented',
  Decapsulate: 'ML-KEM keys are not implemented',
};

export { DRY_RUN };
