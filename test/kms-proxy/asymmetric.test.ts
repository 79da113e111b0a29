// Sign/Verify, GetPublicKey, RSA encryption, HMAC, ECDH and data key pairs, checked against
// independent implementations: the openssl command line and node:crypto on the client side.
import { execFileSync } from 'node:child_process';
import { constants, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, EncryptCommand, GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateMacCommand, GenerateRandomCommand, GetParametersForImportCommand, GetPublicKeyCommand, SignCommand, VerifyCommand, VerifyMacCommand, type SigningAlgorithmSpec, type KeySpec,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { failure, startFixture, tempDir, type Fixture } from './helpers.ts';

let f: Fixture;
const work = tempDir('kms-asym-');
const HMAC_ID = '7e1d0c2b-aaaa-4bbb-8ccc-000000000001';
const HMAC_MATERIAL = Buffer.alloc(32, 7);

beforeAll(async () => {
  const seed = join(work, 'seed.json');
  writeFileSync(seed, JSON.stringify({ keys: [{ id: HMAC_ID, keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC', material: HMAC_MATERIAL.toString('base64') }] }));
  f = await startFixture({ seed });
});
afterAll(async () => {
  await f.stop();
  rmSync(work, { recursive: true, force: true });
});

const keys = new Map<string, string>();
async function keyFor(KeySpec: KeySpec, KeyUsage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' | 'KEY_AGREEMENT' = 'SIGN_VERIFY'): Promise<string> {
  const id = `${KeySpec}/${KeyUsage}`;
  let k = keys.get(id);
  if (!k) {
    k = (await f.kms.send(new CreateKeyCommand({ KeySpec, KeyUsage }))).KeyMetadata?.KeyId ?? '';
    keys.set(id, k);
  }
  return k;
}

async function publicPem(keyId: string): Promise<string> {
  const der = (await f.kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey ?? new Uint8Array();
  const path = join(work, `${keyId}.pub.der`);
  writeFileSync(path, der);
  return path;
}

function file(name: string, data: Uint8Array | string): string {
  const p = join(work, name);
  writeFileSync(p, data);
  return p;
}

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const cases: [KeySpec, SigningAlgorithmSpec, string][] = [
  ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', 'sha256'],
  ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_384', 'sha384'],
  ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_512', 'sha512'],
  ['RSA_2048', 'RSASSA_PSS_SHA_256', 'sha256'],
  ['RSA_2048', 'RSASSA_PSS_SHA_384', 'sha384'],
  ['RSA_2048', 'RSASSA_PSS_SHA_512', 'sha512'],
  ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'],
  ['ECC_NIST_P384', 'ECDSA_SHA_384', 'sha384'],
  ['ECC_NIST_P521', 'ECDSA_SHA_512', 'sha512'],
  ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 'sha256'],
];

describe('Sign → openssl verifies; DIGEST is never hashed again', () => {
  test.each(cases)('%s %s', async (spec, alg, hash) => {
    const keyId = await keyFor(spec);
    const pub = await publicPem(keyId);
    const message = Buffer.from(`message for ${alg}`);
    const digest = createHash(hash).update(message).digest();
    const pss = alg.startsWith('RSASSA_PSS') ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'] : [];
    const msgFile = file(`${alg}.msg`, message);
    for (const MessageType of ['RAW', 'DIGEST'] as const) {
      const s = await f.kms.send(new SignCommand({ KeyId: keyId, Message: MessageType === 'RAW' ? message : digest, MessageType, SigningAlgorithm: alg }));
      expect(s.SigningAlgorithm).toBe(alg);
      const sig = file(`${alg}.${MessageType}.sig`, s.Signature ?? new Uint8Array());
      // Both signatures are signatures over H(message): openssl hashes the message itself.
      expect(openssl(['dgst', `-${hash}`, '-keyform', 'DER', '-verify', pub, ...pss, '-signature', sig, msgFile])).toContain('Verified OK');
      const v = await f.kms.send(new VerifyCommand({ KeyId: keyId, Message: MessageType === 'RAW' ? message : digest, MessageType, Signature: s.Signature, SigningAlgorithm: alg }));
      expect(v.SignatureValid).toBe(true);
    }
  });

  test('openssl signatures over a digest verify in KMS (DIGEST), so the formats are the standard ones', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyId = await keyFor('ECC_NIST_P256');
    // A signature made elsewhere with another key must not verify.
    const other = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', file('other.pem', privateKey.export({ type: 'pkcs8', format: 'pem' })), '-in', file('d.bin', createHash('sha256').update('x').digest())]);
    const e = await failure(() => f.kms.send(new VerifyCommand({ KeyId: keyId, Message: createHash('sha256').update('x').digest(), MessageType: 'DIGEST', Signature: other, SigningAlgorithm: 'ECDSA_SHA_256' })));
    expect(e.name).toBe('KMSInvalidSignatureException');
  });

  test('errors: tampered signature, digest of the wrong length, wrong algorithm, wrong key usage', async () => {
    const keyId = await keyFor('RSA_2048');
    const s = await f.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' }));
    const bad = Buffer.from(s.Signature ?? []);
    bad[10] = (bad[10] ?? 0) ^ 1;
    expect((await failure(() => f.kms.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('m'), Signature: bad, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).name).toBe('KMSInvalidSignatureException');
    expect((await failure(() => f.kms.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('n'), Signature: s.Signature, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).name).toBe('KMSInvalidSignatureException');
    const len = await failure(() => f.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(31), MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PSS_SHA_256' })));
    expect([len.name, len.message]).toEqual(['ValidationException', 'Digest is invalid length for algorithm RSASSA_PSS_SHA_256.']);
    expect((await failure(() => f.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })))).name).toBe('InvalidKeyUsageException');
    const enc = await keyFor('RSA_2048', 'ENCRYPT_DECRYPT');
    expect((await failure(() => f.kms.send(new SignCommand({ KeyId: enc, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).name).toBe('InvalidKeyUsageException');
    const sym = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    expect((await failure(() => f.kms.send(new SignCommand({ KeyId: sym, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).name).toBe('InvalidKeyUsageException');
    expect((await failure(() => f.kms.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(4097), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).name).toBe('ValidationException');
  });
});

describe('GetPublicKey', () => {
  test.each([
    ['RSA_2048', 'Public-Key: (2048 bit)'],
    ['ECC_NIST_P256', 'ASN1 OID: prime256v1'],
    ['ECC_NIST_P384', 'ASN1 OID: secp384r1'],
    ['ECC_NIST_P521', 'ASN1 OID: secp521r1'],
    ['ECC_SECG_P256K1', 'ASN1 OID: secp256k1'],
  ] as const)('%s: DER SubjectPublicKeyInfo that openssl pkey parses', async (spec, expected) => {
    const keyId = await keyFor(spec);
    const r = await f.kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(r).toMatchObject({ KeySpec: spec, KeyUsage: 'SIGN_VERIFY' });
    expect(r.SigningAlgorithms?.length).toBeGreaterThan(0);
    expect(openssl(['pkey', '-pubin', '-inform', 'DER', '-in', await publicPem(keyId), '-noout', '-text'])).toContain(expected);
  });

  test('a symmetric key has no public key → UnsupportedOperationException', async () => {
    const sym = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    expect((await failure(() => f.kms.send(new GetPublicKeyCommand({ KeyId: sym })))).name).toBe('UnsupportedOperationException');
  });
});

describe('RSA encryption', () => {
  test.each([['RSAES_OAEP_SHA_256', 'sha256', 190], ['RSAES_OAEP_SHA_1', 'sha1', 214]] as const)('%s: ciphertext made by a client from GetPublicKey decrypts; limits as AWS', async (alg, oaepHash, max) => {
    const keyId = await keyFor('RSA_2048', 'ENCRYPT_DECRYPT');
    const der = (await f.kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey ?? new Uint8Array();
    const pub = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    const ct = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, Buffer.from('client-made'));
    const d = await f.kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ct, EncryptionAlgorithm: alg }));
    expect(Buffer.from(d.Plaintext ?? []).toString()).toBe('client-made');
    const e = await f.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(max, 1), EncryptionAlgorithm: alg }));
    expect(e.CiphertextBlob).toHaveLength(256);
    expect((await f.kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: alg }))).Plaintext).toHaveLength(max);
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(max + 1), EncryptionAlgorithm: alg })))).name).toBe('ValidationException');
    const wrongAlg = alg === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
    expect((await failure(() => f.kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ct, EncryptionAlgorithm: wrongAlg })))).name).toBe('InvalidCiphertextException');
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).name).toBe('InvalidKeyUsageException');
    // RSA ciphertext names no key, so Decrypt needs the KeyId; no encryption context; no symmetric algorithm.
    expect((await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: ct, EncryptionAlgorithm: alg })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ct, EncryptionAlgorithm: alg, EncryptionContext: { a: 'b' } })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: alg, EncryptionContext: { a: 'b' } })))).name).toBe('ValidationException');
    // The default SYMMETRIC_DEFAULT with an RSA key: "The encryption algorithm … specified for the
    // operation is incompatible with the type of key material in the KMS key" (Decrypt, InvalidKeyUsageException).
    const defaultAlg = await failure(() => f.kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ct })));
    expect([defaultAlg.name, defaultAlg.message]).toEqual(['InvalidKeyUsageException', 'Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.']);
  });
});

describe('HMAC', () => {
  test('GenerateMac equals HMAC-SHA-256 computed independently over the seeded key; VerifyMac', async () => {
    const message = Buffer.from('mac me');
    const r = await f.kms.send(new GenerateMacCommand({ KeyId: HMAC_ID, Message: message, MacAlgorithm: 'HMAC_SHA_256' }));
    expect(Buffer.from(r.Mac ?? []).equals(createHmac('sha256', HMAC_MATERIAL).update(message).digest())).toBe(true);
    expect((await f.kms.send(new VerifyMacCommand({ KeyId: HMAC_ID, Message: message, Mac: r.Mac, MacAlgorithm: 'HMAC_SHA_256' }))).MacValid).toBe(true);
    const bad = Buffer.from(r.Mac ?? []);
    bad[0] = (bad[0] ?? 0) ^ 1;
    expect((await failure(() => f.kms.send(new VerifyMacCommand({ KeyId: HMAC_ID, Message: message, Mac: bad, MacAlgorithm: 'HMAC_SHA_256' })))).name).toBe('KMSInvalidMacException');
    expect((await failure(() => f.kms.send(new GenerateMacCommand({ KeyId: HMAC_ID, Message: message, MacAlgorithm: 'HMAC_SHA_512' })))).name).toBe('InvalidKeyUsageException');
    const sym = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    expect((await failure(() => f.kms.send(new GenerateMacCommand({ KeyId: sym, Message: message, MacAlgorithm: 'HMAC_SHA_256' })))).name).toBe('InvalidKeyUsageException');
  });
});

describe('DeriveSharedSecret', () => {
  test('ECDH with the KMS key equals ECDH computed by the client', async () => {
    const keyId = await keyFor('ECC_NIST_P256', 'KEY_AGREEMENT');
    const kmsPub = createPublicKey({ key: Buffer.from((await f.kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey ?? []), format: 'der', type: 'spki' });
    const mine = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const r = await f.kms.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: mine.publicKey.export({ type: 'spki', format: 'der' }) }));
    expect(Buffer.from(r.SharedSecret ?? []).equals(diffieHellman({ privateKey: mine.privateKey, publicKey: kmsPub }))).toBe(true);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'der' });
    expect((await failure(() => f.kms.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: p384 })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: Buffer.from('junk') })))).name).toBe('ValidationException');
    const signKey = await keyFor('ECC_NIST_P256');
    expect((await failure(() => f.kms.send(new DeriveSharedSecretCommand({ KeyId: signKey, KeyAgreementAlgorithm: 'ECDH', PublicKey: mine.publicKey.export({ type: 'spki', format: 'der' }) })))).name).toBe('InvalidKeyUsageException');
  });
});

describe('GenerateDataKeyPair', () => {
  test('the plaintext private key matches the public key, and the blob decrypts to it', async () => {
    const sym = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const r = await f.kms.send(new GenerateDataKeyPairCommand({ KeyId: sym, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: { pair: '1' } }));
    const priv = createPrivateKey({ key: Buffer.from(r.PrivateKeyPlaintext ?? []), format: 'der', type: 'pkcs8' });
    expect(Buffer.from(createPublicKey(priv).export({ type: 'spki', format: 'der' })).equals(Buffer.from(r.PublicKey ?? []))).toBe(true);
    const d = await f.kms.send(new DecryptCommand({ CiphertextBlob: r.PrivateKeyCiphertextBlob, EncryptionContext: { pair: '1' } }));
    expect(Buffer.from(d.Plaintext ?? []).equals(Buffer.from(r.PrivateKeyPlaintext ?? []))).toBe(true);
    expect(openssl(['pkey', '-pubin', '-inform', 'DER', '-in', file('pair.der', r.PublicKey ?? new Uint8Array()), '-noout', '-text'])).toContain('prime256v1');
    const w = await f.kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: sym, KeyPairSpec: 'RSA_2048' }));
    expect(w).not.toHaveProperty('PrivateKeyPlaintext');
    expect(w.KeyPairSpec).toBe('RSA_2048');
    const asym = await keyFor('RSA_2048', 'ENCRYPT_DECRYPT');
    expect((await failure(() => f.kms.send(new GenerateDataKeyPairCommand({ KeyId: asym, KeyPairSpec: 'ECC_NIST_P256' })))).name).toBe('InvalidKeyUsageException');
  });
});

describe('RSA key pairs are made off the event loop', () => {
  // An RSA-4096 pair takes 0.4–3 s to make; made synchronously it would hold every other request
  // (and this test's own timer) until it is done. The KMS runs in this process, so a request sent
  // 20 ms after the slow one must be answered while the pair is still being made.
  const slow: [string, () => Promise<unknown>][] = [
    ['CreateKey', () => f.kms.send(new CreateKeyCommand({ KeySpec: 'RSA_4096', KeyUsage: 'SIGN_VERIFY' }))],
    ['GenerateDataKeyPairWithoutPlaintext', async () => f.kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId, KeyPairSpec: 'RSA_4096' }))],
    [
      'GetParametersForImport',
      async () => {
        const KeyId = (await f.kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata?.KeyId;
        return f.kms.send(new GetParametersForImportCommand({ KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_4096' }));
      },
    ],
  ];
  test.each(slow)('%s with RSA_4096: a GenerateRandom sent meanwhile is answered first', async (_name, send) => {
    let done = false;
    const pending = send().then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await f.kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 }));
    expect(done).toBe(false);
    await pending;
  });
});
