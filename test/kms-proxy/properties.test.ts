// Property tests for the parsers and formats: ciphertext blob headers, input shapes, the audit
// chain, and the Recipient slot (validated now, served by the next issue).
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateDataKeyCommand, VerifyCommand, type SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditSigningKeyOf, KmsError, parseBlobHeader, verifyAuditLog } from '../../kms-proxy/index.ts';
import { failure, startFixture, tempDir, type Fixture } from './helpers.ts';

let f: Fixture;
const dir = tempDir('kms-prop-');
let keyId = '';
beforeAll(async () => {
  f = await startFixture({ dataDir: join(dir, 'data') });
  keyId = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
});
afterAll(async () => {
  await f.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('ciphertext blobs', () => {
  test('property: any byte string either parses as a header or is InvalidCiphertextException', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        try {
          parseBlobHeader(b);
        } catch (e) {
          expect((e as KmsError).awsName).toBe('InvalidCiphertextException');
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('property: flipping any single bit of a real blob makes Decrypt fail with InvalidCiphertextException (or NotFound/IncorrectKey for the key id)', async () => {
    const blob = Buffer.from((await f.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('bits'), EncryptionContext: { p: 'q' } }))).CiphertextBlob ?? []);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: blob.length * 8 - 1 }), async (bit) => {
        const t = Buffer.from(blob);
        t[bit >> 3] = (t[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        const e = await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: t, EncryptionContext: { p: 'q' } })));
        expect(['InvalidCiphertextException', 'NotFoundException']).toContain(e.name);
      }),
      { numRuns: 60 },
    );
  });
});

describe('signatures', () => {
  test('property: arbitrary signature bytes never verify and never break the server', async () => {
    const ec = (await f.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata?.KeyId;
    const rsa = (await f.kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata?.KeyId;
    const algs: [string | undefined, SigningAlgorithmSpec][] = [[ec, 'ECDSA_SHA_384'], [rsa, 'RSASSA_PSS_SHA_256'], [rsa, 'RSASSA_PKCS1_V1_5_SHA_512']];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...algs), fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.constantFrom('RAW' as const, 'DIGEST' as const), async ([KeyId, alg], sig, MessageType) => {
        const Message = MessageType === 'RAW' ? Buffer.from('m') : Buffer.alloc(alg.endsWith('384') ? 48 : alg.endsWith('512') ? 64 : 32, 1);
        const e = await failure(() => f.kms.send(new VerifyCommand({ KeyId, Message, MessageType, Signature: sig, SigningAlgorithm: alg })));
        expect(e.name).toBe('KMSInvalidSignatureException');
      }),
      { numRuns: 60 },
    );
  });
});

describe('audit chain', () => {
  test('property: any single-character change anywhere in the log is detected', async () => {
    for (let i = 0; i < 3; i++) await f.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 16 }));
    await f.stop();
    // The segment and the head as one text: a change anywhere in either, signatures included.
    const segment = readFileSync(join(dir, 'data', 'audit', 'local', '00000001.log'), 'utf8');
    const head = readFileSync(join(dir, 'data', 'audit', 'local', 'head.json'), 'utf8');
    const both = segment + head;
    const publicKey = auditSigningKeyOf(join(dir, 'data'))?.publicKey;
    f = await startFixture({ dataDir: join(dir, 'data') });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: both.length - 2 }), fc.constantFrom('x', '0', '"', '}', ' '), async (pos, ch) => {
        if (both[pos] === ch || both[pos] === '\n') return;
        const changed = both.slice(0, pos) + ch + both.slice(pos + 1);
        const d = join(dir, `m${n++}`, 'audit', 'local');
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, '00000001.log'), changed.slice(0, segment.length));
        writeFileSync(join(d, 'head.json'), changed.slice(segment.length));
        expect((await verifyAuditLog(join(d, '..', '..'), { ...(publicKey ? { publicKey } : {}) })).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('audit signatures are read in their canonical encoding only', () => {
  test('a signature whose last character differs only in its unused bits (the same bytes) does not verify', async () => {
    // 64 signature bytes are 86 base64url characters: the last one carries 2 bits and 4 unused ones.
    const d = tempDir('kms-canon-');
    const g = await startFixture({ dataDir: join(d, 'data') });
    await g.kms.send(new CreateKeyCommand({}));
    await g.stop();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const publicKey = auditSigningKeyOf(join(d, 'data'))?.publicKey;
    for (const file of ['00000001.log', 'head.json']) {
      const path = join(d, 'data', 'audit', 'local', file);
      const original = readFileSync(path, 'utf8');
      const at = original.lastIndexOf('"}');
      const last = original[at - 1] ?? '';
      const twin = alphabet[alphabet.indexOf(last) ^ 1] ?? '';
      expect(Buffer.from(`AA${twin}`, 'base64url')).toEqual(Buffer.from(`AA${last}`, 'base64url'));
      writeFileSync(path, original.slice(0, at - 1) + twin + original.slice(at));
      expect((await verifyAuditLog(join(d, 'data'), { ...(publicKey ? { publicKey } : {}) })).ok).toBe(false);
      writeFileSync(path, original);
      expect((await verifyAuditLog(join(d, 'data'), { ...(publicKey ? { publicKey } : {}) })).ok).toBe(true);
    }
    rmSync(d, { recursive: true, force: true });
  });
});

describe('Recipient is validated, never ignored (full coverage in test/recipient/)', () => {
  test('a Recipient whose document is not an attestation document → ValidationException; a malformed one → ValidationException', async () => {
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))).CiphertextBlob;
    const e = await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: Buffer.from('doc') } })));
    expect(e.name).toBe('ValidationException');
    const bad = await failure(() => f.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, Recipient: { KeyEncryptionAlgorithm: 'RSA_PLAIN' as never } })));
    expect(bad.name).toBe('ValidationException');
  });
});
