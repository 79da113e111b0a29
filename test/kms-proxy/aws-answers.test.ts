// Answers that differed from AWS KMS's today (issue 15), through the unmodified SDK: the exception
// and, where AWS documents or recorded it, its message (localstack's test_kms.snapshot.json,
// recorded against AWS; the KMS API Reference; the KMS Developer Guide's "Key states of KMS keys").
// The SDK reads an absent `message` as "UnknownError".
import { generateKeyPairSync } from 'node:crypto';
import {
  CreateGrantCommand, CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, DisableKeyCommand, DisableKeyRotationCommand,
  DescribeKeyCommand, EnableKeyRotationCommand, EncryptCommand, GenerateDataKeyPairCommand, GenerateRandomCommand, ListGrantsCommand, ListRetirableGrantsCommand, ReEncryptCommand, SignCommand,
  type CreateKeyCommandInput,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { awsEnumOrder } from '../../kms-proxy/shapes.ts';
import { failure, startFixture, type Fixture } from './helpers.ts';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f.stop();
});

const createKey = async (input: CreateKeyCommandInput = {}) => (await f.kms.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId ?? '';
const answer = async (fn: () => Promise<unknown>) => {
  const e = await failure(fn);
  return [e.name, e.message];
};

describe('algorithms a key spec does not support: "Algorithm X is incompatible with key spec Y."', () => {
  test('Encrypt and Decrypt with SYMMETRIC_DEFAULT on an RSA key, SM2PKE on an RSA key, a signing algorithm of another family', async () => {
    const rsa = await createKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    expect(await answer(() => f.kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.from('x') })))).toEqual(['InvalidKeyUsageException', 'Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.']);
    expect(await answer(() => f.kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'SM2PKE' })))).toEqual(['InvalidKeyUsageException', 'Algorithm SM2PKE is incompatible with key spec RSA_2048.']);
    const ec = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(await answer(() => f.kms.send(new SignCommand({ KeyId: ec, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).toEqual(['InvalidKeyUsageException', 'Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256.']);
  });

  test('ReEncrypt to a key that cannot encrypt names ReEncrypt, not ReEncryptTo', async () => {
    const sym = await createKey();
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: sym, Plaintext: Buffer.from('x') }))).CiphertextBlob;
    const hmac = await createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const e = await failure(() => f.kms.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: hmac })));
    expect(e.name).toBe('InvalidKeyUsageException');
    expect(e.message).toContain('ReEncrypt');
    expect(e.message).not.toContain('ReEncryptTo');
  });
});

describe('Decrypt and ReEncrypt: DryRun with DryRunModifiers IGNORE_CIPHERTEXT checks authorization only', () => {
  test('no CiphertextBlob needed: DryRunOperationException; without the modifier the blob is still required', async () => {
    const sym = await createKey();
    const dst = await createKey();
    expect((await failure(() => f.kms.send(new DecryptCommand({ KeyId: sym, DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })))).name).toBe('DryRunOperationException');
    expect((await failure(() => f.kms.send(new ReEncryptCommand({ SourceKeyId: sym, DestinationKeyId: dst, DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })))).name).toBe('DryRunOperationException');
    expect(await answer(() => f.kms.send(new DecryptCommand({ KeyId: sym, DryRun: true })))).toEqual(['ValidationException', "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"]);
    expect((await failure(() => f.kms.send(new DecryptCommand({ DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })))).name).toBe('ValidationException');
    // The key is still checked: a disabled key is DisabledException, not a dry run that would succeed.
    await f.kms.send(new DisableKeyCommand({ KeyId: sym }));
    expect((await failure(() => f.kms.send(new DecryptCommand({ KeyId: sym, DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })))).name).toBe('DisabledException');
  });
});

describe('key states', () => {
  test('CreateGrant on a disabled key: DisabledException', async () => {
    const k = await createKey();
    await f.kms.send(new DisableKeyCommand({ KeyId: k }));
    const e = await failure(() => f.kms.send(new CreateGrantCommand({ KeyId: k, GranteePrincipal: 'arn:aws:iam::111122223333:role/r', Operations: ['Decrypt'] })));
    expect(e.name).toBe('DisabledException');
  });

  test('Enable/DisableKeyRotation on an EXTERNAL key pending import: UnsupportedOperationException, not KMSInvalidStateException', async () => {
    const k = await createKey({ Origin: 'EXTERNAL' });
    expect((await failure(() => f.kms.send(new EnableKeyRotationCommand({ KeyId: k })))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => f.kms.send(new DisableKeyRotationCommand({ KeyId: k })))).name).toBe('UnsupportedOperationException');
  });
});

describe("DeriveSharedSecret: a PublicKey AWS cannot use gets ValidationException without a message (recorded 'response-invalid-public-key')", () => {
  test('bytes that are no key, and a key on another curve', async () => {
    const k = await createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    expect(await answer(() => f.kms.send(new DeriveSharedSecretCommand({ KeyId: k, KeyAgreementAlgorithm: 'ECDH', PublicKey: Buffer.from('not a key') })))).toEqual(['ValidationException', 'UnknownError']);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'der', type: 'spki' });
    expect(await answer(() => f.kms.send(new DeriveSharedSecretCommand({ KeyId: k, KeyAgreementAlgorithm: 'ECDH', PublicKey: other })))).toEqual(['ValidationException', 'UnknownError']);
  });
});

describe('the model members of today: service principals, ML-KEM key specs, SM2 as CustomerMasterKeySpec', () => {
  test('ListGrants GranteeServicePrincipal and ListRetirableGrants RetiringServicePrincipal are members (no SerializationException); both or neither are refused', async () => {
    const k = await createKey();
    expect((await failure(() => f.kms.send(new ListGrantsCommand({ KeyId: k, GranteeServicePrincipal: 'ec2.amazonaws.com' })))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => f.kms.send(new ListGrantsCommand({ KeyId: k, GranteeServicePrincipal: 'ec2.amazonaws.com', GranteePrincipal: 'arn:aws:iam::111122223333:role/r' })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new ListRetirableGrantsCommand({ RetiringServicePrincipal: 'ec2.amazonaws.com' })))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => f.kms.send(new ListRetirableGrantsCommand({})))).name).toBe('ValidationException');
    expect((await f.kms.send(new ListRetirableGrantsCommand({ RetiringPrincipal: 'arn:aws:iam::111122223333:role/r' }))).Grants).toEqual([]);
  });

  test('ML_KEM key specs and ENCAPSULATE_DECAPSULATE are in the enums: UnsupportedOperationException (not implemented), not a validation error', async () => {
    const sym = await createKey();
    for (const KeySpec of ['ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024'] as const) {
      expect((await failure(() => f.kms.send(new CreateKeyCommand({ KeySpec, KeyUsage: 'ENCAPSULATE_DECAPSULATE' })))).name, KeySpec).toBe('UnsupportedOperationException');
      expect((await failure(() => f.kms.send(new GenerateDataKeyPairCommand({ KeyId: sym, KeyPairSpec: KeySpec })))).name, KeySpec).toBe('UnsupportedOperationException');
    }
  });

  test('CustomerMasterKeySpec SM2 is in the deprecated enum', async () => {
    const e = await failure(() => f.kms.send(new CreateKeyCommand({ CustomerMasterKeySpec: 'SM2', KeyUsage: 'SIGN_VERIFY' })));
    expect(e.name).not.toBe('ValidationException');
  });
});

describe('texts and orders as recorded against AWS (issue 15, "Message texts" and "Ordering")', () => {
  test('RSA plaintext over the OAEP limit, GenerateRandom without NumberOfBytes', async () => {
    const rsa = await createKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    expect(await answer(() => f.kms.send(new EncryptCommand({ KeyId: rsa, Plaintext: Buffer.alloc(191), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })))).toEqual(['ValidationException', 'Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes.']);
    expect(await answer(() => f.kms.send(new GenerateRandomCommand({})))).toEqual(['ValidationException', 'NumberOfBytes is required.']);
  });

  test('an RSA signing key lists RSASSA_PKCS1_V1_5_* first (DescribeKey, as the Developer Guide shows it)', async () => {
    const rsa = await createKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: rsa }))).KeyMetadata?.SigningAlgorithms).toEqual([
      'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
    ]);
  });

  test("enum lists in validation messages come in the order recorded messages show, whatever order the values are given in (local-kms's CreateKey texts)", () => {
    const recorded8 = 'RSA_2048, ECC_NIST_P384, ECC_NIST_P256, ECC_NIST_P521, RSA_3072, ECC_SECG_P256K1, RSA_4096, SYMMETRIC_DEFAULT';
    const recorded12 = 'RSA_2048, ECC_NIST_P384, ECC_NIST_P256, ECC_NIST_P521, HMAC_384, RSA_3072, ECC_SECG_P256K1, RSA_4096, SYMMETRIC_DEFAULT, HMAC_256, HMAC_224, HMAC_512';
    for (const recorded of [recorded8, recorded12]) {
      expect(awsEnumOrder(recorded.split(', ').sort())).toBe(recorded);
      expect(awsEnumOrder(recorded.split(', ').reverse())).toBe(recorded);
    }
  });
});
