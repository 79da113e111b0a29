// GetParametersForImport / ImportKeyMaterial / DeleteImportedKeyMaterial with every wrapping
// algorithm, material wrapped on the client side (openssl where it can, node:crypto otherwise).
import { execFileSync } from 'node:child_process';
import { constants, createCipheriv, createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand, EncryptCommand, GenerateMacCommand, GetParametersForImportCommand,
  GetPublicKeyCommand, ImportKeyMaterialCommand, SignCommand, VerifyCommand, type AlgorithmSpec, type WrappingKeySpec,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { failure, startFixture, tempDir, type Fixture } from './helpers.ts';

let f: Fixture;
let now = Date.UTC(2026, 5, 1);
const work = tempDir('kms-import-');
beforeAll(async () => {
  f = await startFixture({ clock: () => now });
});
afterAll(async () => {
  await f.stop();
  rmSync(work, { recursive: true, force: true });
});

async function externalKey(KeySpec: 'SYMMETRIC_DEFAULT' | 'HMAC_256' | 'ECC_NIST_P256' = 'SYMMETRIC_DEFAULT') {
  const KeyUsage = KeySpec === 'HMAC_256' ? 'GENERATE_VERIFY_MAC' : KeySpec === 'ECC_NIST_P256' ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT';
  const m = (await f.kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec, KeyUsage }))).KeyMetadata;
  return { KeyId: m?.KeyId ?? '', Arn: m?.Arn ?? '' };
}

/** Wraps `material` the way the KMS Developer Guide tells customers to, per algorithm. */
function wrap(alg: AlgorithmSpec, publicDer: Uint8Array, material: Buffer): Buffer {
  const pubFile = join(work, 'wrap.pub.der');
  writeFileSync(pubFile, publicDer);
  const inFile = join(work, 'material.bin');
  writeFileSync(inFile, material);
  const pub = createPublicKey({ key: Buffer.from(publicDer), format: 'der', type: 'spki' });
  switch (alg) {
    case 'RSAES_OAEP_SHA_256':
      // openssl, as in the AWS guide: pkeyutl -encrypt with OAEP and SHA-256.
      return execFileSync('openssl', ['pkeyutl', '-encrypt', '-pubin', '-keyform', 'DER', '-inkey', pubFile, '-in', inFile, '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256']);
    case 'RSAES_OAEP_SHA_1':
      return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, material);
    case 'RSAES_PKCS1_V1_5':
      return publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, material);
    case 'RSA_AES_KEY_WRAP_SHA_1':
    case 'RSA_AES_KEY_WRAP_SHA_256': {
      const aes = randomBytes(32);
      const hash = alg.endsWith('SHA_1') ? 'sha1' : 'sha256';
      const wrappedKey = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, aes);
      // openssl enc -id-aes256-wrap-pad: RFC 5649, as in the AWS guide.
      const kwp = execFileSync('openssl', ['enc', '-id-aes256-wrap-pad', '-K', aes.toString('hex'), '-iv', 'A65959A6', '-in', inFile]);
      return Buffer.concat([wrappedKey, kwp]);
    }
    default:
      throw new Error(`no wrapper for ${alg}`);
  }
}

async function importInto(keyId: string, material: Buffer, alg: AlgorithmSpec = 'RSAES_OAEP_SHA_256', spec: WrappingKeySpec = 'RSA_2048', extra: { ValidTo?: Date } = {}) {
  const p = await f.kms.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: alg, WrappingKeySpec: spec }));
  const EncryptedKeyMaterial = wrap(alg, p.PublicKey ?? new Uint8Array(), material);
  await f.kms.send(new ImportKeyMaterialCommand({
    KeyId: keyId,
    ImportToken: p.ImportToken,
    EncryptedKeyMaterial,
    ...(extra.ValidTo ? { ValidTo: extra.ValidTo, ExpirationModel: 'KEY_MATERIAL_EXPIRES' } : { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
  }));
  return p;
}

/** A ciphertext blob built by hand from kms-proxy/README.md, to prove the material is in use. */
function handMadeBlob(keyId: string, material: Buffer, plaintext: Buffer, ctx: Record<string, string>): Buffer {
  const id = Buffer.from(keyId, 'ascii');
  const header = Buffer.concat([Buffer.from('NSK'), Buffer.from([1, id.length]), id, Buffer.alloc(4)]);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const pairs = Object.entries(ctx).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
  const aad = Buffer.concat([header, u32(pairs.length), ...pairs.flatMap(([k, v]) => [u32(k.length), k, u32(v.length), v])]);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', material, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([header, iv, ct, c.getAuthTag()]);
}

describe('import with every wrapping algorithm', () => {
  test.each([
    ['RSAES_OAEP_SHA_256', 'RSA_2048'],
    ['RSAES_OAEP_SHA_1', 'RSA_3072'],
    ['RSAES_PKCS1_V1_5', 'RSA_2048'],
    ['RSA_AES_KEY_WRAP_SHA_1', 'RSA_2048'],
    ['RSA_AES_KEY_WRAP_SHA_256', 'RSA_4096'],
  ] as const)('%s with a %s wrapping key: the imported material is the one in use', async (alg, spec) => {
    const k = await externalKey();
    const material = randomBytes(32);
    const p = await importInto(k.KeyId, material, alg, spec);
    expect(p.KeyId).toBe(k.Arn);
    expect(p.ParametersValidTo?.getTime()).toBe(now + 24 * 3_600_000);
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata).toMatchObject({ KeyState: 'Enabled', Origin: 'EXTERNAL', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
    const d = await f.kms.send(new DecryptCommand({ CiphertextBlob: handMadeBlob(k.KeyId, material, Buffer.from('by hand'), { c: '1' }), EncryptionContext: { c: '1' } }));
    expect(Buffer.from(d.Plaintext ?? []).toString()).toBe('by hand');
  });

  test('SM2 wrapping is refused as unsupported; AWS_KMS keys take no import', async () => {
    const k = await externalKey();
    expect((await failure(() => f.kms.send(new GetParametersForImportCommand({ KeyId: k.KeyId, WrappingAlgorithm: 'SM2PKE', WrappingKeySpec: 'SM2' })))).name).toBe('UnsupportedOperationException');
    const own = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    expect((await failure(() => f.kms.send(new GetParametersForImportCommand({ KeyId: own, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' })))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => f.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: own })))).name).toBe('UnsupportedOperationException');
  });

  test('HMAC and ECC material (PKCS#8) import too', async () => {
    const h = await externalKey('HMAC_256');
    const hm = randomBytes(48);
    await importInto(h.KeyId, hm);
    const mac = await f.kms.send(new GenerateMacCommand({ KeyId: h.KeyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }));
    expect(Buffer.from(mac.Mac ?? []).equals(createHmac('sha256', hm).update('m').digest())).toBe(true);
    const e = await externalKey('ECC_NIST_P256');
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await importInto(e.KeyId, pair.privateKey.export({ type: 'pkcs8', format: 'der' }), 'RSA_AES_KEY_WRAP_SHA_256');
    const pub = (await f.kms.send(new GetPublicKeyCommand({ KeyId: e.KeyId }))).PublicKey ?? new Uint8Array();
    expect(Buffer.from(pub).equals(pair.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    await f.kms.send(new SignCommand({ KeyId: e.KeyId, Message: Buffer.from('x'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    const wrongCurve = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'der' });
    const e2 = await externalKey('ECC_NIST_P256');
    expect((await failure(() => importInto(e2.KeyId, wrongCurve, 'RSA_AES_KEY_WRAP_SHA_256'))).name).toBe('IncorrectKeyMaterialException');
  });
});

describe('ECDSA over a digest (Sign/Verify MessageType DIGEST)', () => {
  // RFC 6979 A.2.5, P-256 with SHA-256, message "sample": an independent vector for the nonce.
  const RFC6979 = {
    d: 'C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721',
    x: '60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6',
    y: '7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299',
    r: 'EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716',
    s: 'F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8',
  };
  const b64u = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');
  /** (r, s) of a DER ECDSA-Sig-Value, as hex. */
  function rs(der: Uint8Array): [string, string] {
    const b = Buffer.from(der);
    let i = 2;
    const out: string[] = [];
    for (let n = 0; n < 2; n++) {
      const len = b[i + 1] ?? 0;
      out.push(b.subarray(i + 2, i + 2 + len).toString('hex').replace(/^00/, '').toUpperCase());
      i += 2 + len;
    }
    return [out[0] ?? '', out[1] ?? ''];
  }

  test('the nonce is RFC 6979: the RFC\'s P-256 vector comes out of Sign with the RFC\'s key imported; openssl verifies; openssl\'s own signatures, high-S included, verify', async () => {
    const key = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: b64u(RFC6979.d), x: b64u(RFC6979.x), y: b64u(RFC6979.y) }, format: 'jwk' });
    const k = await externalKey('ECC_NIST_P256');
    await importInto(k.KeyId, key.export({ type: 'pkcs8', format: 'der' }), 'RSA_AES_KEY_WRAP_SHA_256');
    const digest = createHash('sha256').update('sample').digest();
    const s = await f.kms.send(new SignCommand({ KeyId: k.KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(rs(s.Signature ?? new Uint8Array())).toEqual([RFC6979.r, RFC6979.s]);
    const pem = join(work, 'rfc6979.pem');
    writeFileSync(pem, key.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(work, 'sample.sig'), s.Signature ?? new Uint8Array());
    writeFileSync(join(work, 'sample.txt'), 'sample');
    expect(execFileSync('openssl', ['dgst', '-sha256', '-prverify', pem, '-signature', join(work, 'sample.sig'), join(work, 'sample.txt')]).toString()).toContain('Verified OK');
    // openssl's nonces are random, so about half its signatures have s > n/2; KMS does not normalize and must accept them.
    const halfN = BigInt('0x7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8');
    let high = 0;
    writeFileSync(join(work, 'sample.digest'), digest);
    for (let i = 0; i < 24; i++) {
      const sig = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', pem, '-in', join(work, 'sample.digest')]);
      if (BigInt(`0x${rs(sig)[1]}`) > halfN) high++;
      const v = await f.kms.send(new VerifyCommand({ KeyId: k.KeyId, Message: digest, MessageType: 'DIGEST', Signature: sig, SigningAlgorithm: 'ECDSA_SHA_256' }));
      expect(v.SignatureValid).toBe(true);
    }
    expect(high).toBeGreaterThan(0);
  });
});

describe('import rules', () => {
  test('bad material length → IncorrectKeyMaterialException; garbage ciphertext → InvalidCiphertextException', async () => {
    const k = await externalKey();
    expect((await failure(() => importInto(k.KeyId, randomBytes(31)))).name).toBe('IncorrectKeyMaterialException');
    const p = await f.kms.send(new GetParametersForImportCommand({ KeyId: k.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    expect((await failure(() => f.kms.send(new ImportKeyMaterialCommand({ KeyId: k.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: randomBytes(256), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })))).name).toBe('InvalidCiphertextException');
  });

  test('tokens: unknown or another key\'s → InvalidImportTokenException; after 24 h → ExpiredImportTokenException', async () => {
    const a = await externalKey();
    const b = await externalKey();
    const pa = await f.kms.send(new GetParametersForImportCommand({ KeyId: a.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const wrapped = wrap('RSAES_OAEP_SHA_256', pa.PublicKey ?? new Uint8Array(), randomBytes(32));
    expect((await failure(() => f.kms.send(new ImportKeyMaterialCommand({ KeyId: b.KeyId, ImportToken: pa.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })))).name).toBe('InvalidImportTokenException');
    expect((await failure(() => f.kms.send(new ImportKeyMaterialCommand({ KeyId: a.KeyId, ImportToken: randomBytes(64), EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })))).name).toBe('InvalidImportTokenException');
    now += 24 * 3_600_000 + 1000;
    expect((await failure(() => f.kms.send(new ImportKeyMaterialCommand({ KeyId: a.KeyId, ImportToken: pa.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' })))).name).toBe('ExpiredImportTokenException');
  });

  test('delete, then only the same material may come back; old ciphertext decrypts again', async () => {
    const k = await externalKey();
    const material = randomBytes(32);
    await importInto(k.KeyId, material, 'RSAES_OAEP_SHA_1');
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('before') }))).CiphertextBlob;
    await f.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId }));
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata?.KeyState).toBe('PendingImport');
    expect((await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe('KMSInvalidStateException');
    const other = await failure(() => importInto(k.KeyId, randomBytes(32)));
    expect(other.name).toBe('IncorrectKeyMaterialException');
    await importInto(k.KeyId, material, 'RSA_AES_KEY_WRAP_SHA_1');
    expect(Buffer.from((await f.kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('before');
  });

  test('ValidTo: expiration model rules, and the material really expires (injected clock)', async () => {
    const k = await externalKey();
    const p = await f.kms.send(new GetParametersForImportCommand({ KeyId: k.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
    const material = randomBytes(32);
    const wrapped = wrap('RSAES_OAEP_SHA_256', p.PublicKey ?? new Uint8Array(), material);
    expect((await failure(() => f.kms.send(new ImportKeyMaterialCommand({ KeyId: k.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_EXPIRES' })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new ImportKeyMaterialCommand({ KeyId: k.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ValidTo: new Date(now + 1e6) })))).name).toBe('ValidationException');
    await f.kms.send(new ImportKeyMaterialCommand({ KeyId: k.KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(now + 3_600_000) }));
    const m = (await f.kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata;
    expect(m).toMatchObject({ KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
    expect(m?.ValidTo?.getTime()).toBe(now + 3_600_000);
    now += 3_600_000 + 1;
    expect((await f.kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata?.KeyState).toBe('PendingImport');
  });
});

