// CiphertextForRecipient (CMS EnvelopedData) as AWS KMS builds it: opened by openssl cms and by the
// enclave SDK, and every deviation refused by the SDK.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { envelopeForRecipient } from '../../kms-proxy/recipient/cms.ts';
import { openEnvelope } from '../../enclave/sdk/cms.ts';
import { tempDir } from '../attestation/fixtures.ts';

const dir = tempDir();
afterAll(() => dir.cleanup());
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' }));

describe('CiphertextForRecipient', () => {
  it('openssl cms -decrypt opens it with the private key and yields the plaintext', () => {
    const plaintext = randomBytes(32);
    const der = envelopeForRecipient(plaintext, spki);
    writeFileSync(join(dir.path, 'env.der'), der);
    writeFileSync(join(dir.path, 'key.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const out = execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', join(dir.path, 'env.der'), '-inkey', join(dir.path, 'key.pem')]);
    expect(Buffer.from(out).equals(plaintext)).toBe(true);
  });

  it('has the structure AWS documents: EnvelopedData v2, one KTRI v2 by subjectKeyIdentifier, OAEP-SHA256, AES-256-CBC', () => {
    const der = envelopeForRecipient(randomBytes(32), spki);
    writeFileSync(join(dir.path, 'env2.der'), der);
    const text = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(dir.path, 'env2.der')], { encoding: 'utf8' });
    expect(text).toMatch(/contentType: pkcs7-envelopedData/);
    expect(text).toMatch(/version: 2/);
    expect(text).toMatch(/d\.ktri:\s*\n\s*version: 2/);
    expect(text).toMatch(/subjectKeyIdentifier/);
    expect(text).toMatch(/algorithm: rsaesOaep/);
    expect(text).toMatch(/sha256/);
    expect(text).toMatch(/mgf1/);
    expect(text).toMatch(/algorithm: aes-256-cbc/);
    expect(text).toMatch(/contentType: pkcs7-data/);
  });

  it('the enclave SDK opens it (any plaintext length, round trip)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (p) => {
        expect(Buffer.from(openEnvelope(envelopeForRecipient(p, spki), rsa.privateKey)).equals(Buffer.from(p))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a recipient key that is not RSA 2048–4096 (ERR_RECIPIENT_KEY)', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' });
    expect(() => envelopeForRecipient(new Uint8Array(1), new Uint8Array(ec))).toThrow(expect.objectContaining({ code: 'ERR_RECIPIENT_KEY' }));
    expect(() => envelopeForRecipient(new Uint8Array(1), new Uint8Array(small))).toThrow(expect.objectContaining({ code: 'ERR_RECIPIENT_KEY' }));
    expect(() => envelopeForRecipient(new Uint8Array(1), new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'ERR_RECIPIENT_KEY' }));
  });

  it('the SDK refuses another private key, tampering, and garbage (ERR_CMS_INVALID), never anything else', () => {
    const der = envelopeForRecipient(randomBytes(32), spki);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(() => openEnvelope(der, other)).toThrow(expect.objectContaining({ code: 'ERR_CMS_INVALID' }));
    let refused = 0;
    const original = Buffer.from(openEnvelope(der, rsa.privateKey));
    for (let i = 0; i < der.length; i++) {
      const t = new Uint8Array(der);
      t[i]! ^= 0x40;
      let out: Uint8Array | undefined;
      try {
        out = openEnvelope(t, rsa.privateKey);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('ERR_CMS_INVALID');
        refused++;
      }
      // CMS EnvelopedData is not authenticated (AES-CBC, as AWS sends it): a flip in the IV or
      // ciphertext can decrypt, but never to the original key.
      if (out) expect(Buffer.from(out).equals(original)).toBe(false);
    }
    expect(refused).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        try {
          openEnvelope(b, rsa.privateKey);
        } catch (e) {
          expect((e as { code?: string }).code).toBe('ERR_CMS_INVALID');
        }
      }),
      { numRuns: 500 },
    );
  });
});
