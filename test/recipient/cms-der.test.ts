// The CiphertextForRecipient DER is assembled from pieces for speed (kms-proxy/recipient/cms.ts);
// here it is checked byte for byte against the same envelope built as an object tree with
// @peculiar/asn1-cms, the subject key identifier against the ASN.1 parse of the key, and the
// length encodings across their boundaries against openssl.
import { execFileSync } from 'node:child_process';
import { createDecipheriv, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  CMSVersion,
  ContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  KeyTransRecipientInfo,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
  id_data,
  id_envelopedData,
} from '@peculiar/asn1-cms';
import { AlgorithmIdentifier, SubjectKeyIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { RsaEsOaepParams, id_RSAES_OAEP, id_mgf1, id_sha256 } from '@peculiar/asn1-rsa';
import { envelopeForRecipient, ID_AES256_CBC } from '../../kms-proxy/recipient/cms.ts';
import { openEnvelope } from '../../enclave/sdk/cms.ts';
import { tempDir } from '../attestation/fixtures.ts';

const dir = tempDir();
afterAll(() => dir.cleanup());
const keys = [2048, 3072, 4096].map((bits) => {
  const k = generateKeyPairSync('rsa', { modulusLength: bits });
  return { bits, ...k, spki: new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' })) };
});
const k2048 = keys[0] as (typeof keys)[number];

/** The envelope as an object tree (RFC 5652 §6), given the parts that are random in the real one. */
function reference(spki: Uint8Array, wrapped: Uint8Array, iv: Uint8Array, encrypted: Uint8Array): Uint8Array {
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  const ski = createHash('sha1').update(new Uint8Array(info.subjectPublicKey)).digest();
  const oaep = new AlgorithmIdentifier({
    algorithm: id_RSAES_OAEP,
    parameters: AsnConvert.serialize(
      new RsaEsOaepParams({
        hashAlgorithm: new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null }),
        maskGenAlgorithm: new AlgorithmIdentifier({ algorithm: id_mgf1, parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null })) }),
      }),
    ),
  });
  const ktri = new KeyTransRecipientInfo({
    version: CMSVersion.v2,
    rid: new RecipientIdentifier({ subjectKeyIdentifier: new SubjectKeyIdentifier(ski) }),
    keyEncryptionAlgorithm: oaep,
    encryptedKey: new OctetString(wrapped),
  });
  const env = new EnvelopedData({
    version: CMSVersion.v2,
    recipientInfos: new RecipientInfos([new RecipientInfo({ ktri })]),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: ID_AES256_CBC, parameters: AsnConvert.serialize(new OctetString(iv)) }),
      encryptedContent: new EncryptedContent({ value: new OctetString(encrypted) }),
    }),
  });
  return new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: id_envelopedData, content: AsnConvert.serialize(env) })));
}

describe('CiphertextForRecipient DER (RFC 5652 §6.1 EnvelopedData, §6.2.1 KeyTransRecipientInfo)', () => {
  it('equals the @peculiar/asn1-cms construction byte for byte, for RSA 2048/3072/4096 and plaintexts across length-encoding boundaries', () => {
    for (const k of keys) {
      for (const n of [0, 1, 15, 16, 100, 111, 112, 127, 128, 200, 239, 240, 255, 256, 1000, 4096, 70_000]) {
        const cek = randomBytes(32);
        const iv = randomBytes(16);
        const plaintext = randomBytes(n);
        const der = envelopeForRecipient(plaintext, k.spki, { cek, iv });
        // The wrapped key is randomized (OAEP); read it back and rebuild around it.
        const env = AsnConvert.parse(AsnConvert.parse(der, ContentInfo).content, EnvelopedData);
        const wrapped = new Uint8Array(env.recipientInfos[0]?.ktri?.encryptedKey.buffer as ArrayBuffer);
        const encrypted = new Uint8Array(env.encryptedContentInfo.encryptedContent?.value?.buffer as ArrayBuffer);
        const d = createDecipheriv('aes-256-cbc', cek, iv);
        expect(Buffer.concat([d.update(encrypted), d.final()]).equals(plaintext)).toBe(true);
        expect(Buffer.from(der).equals(Buffer.from(reference(k.spki, wrapped, iv, encrypted)))).toBe(true);
        expect(Buffer.from(openEnvelope(der, k.privateKey)).equals(plaintext)).toBe(true);
      }
    }
  });

  it('the subject key identifier is SHA-1 of the RSAPublicKey in the SPKI BIT STRING (RFC 5280 §4.2.1.2 (1))', () => {
    for (const k of keys) {
      const der = envelopeForRecipient(new Uint8Array(1), k.spki);
      const env = AsnConvert.parse(AsnConvert.parse(der, ContentInfo).content, EnvelopedData);
      const ski = Buffer.from(env.recipientInfos[0]?.ktri?.rid.subjectKeyIdentifier?.buffer as ArrayBuffer);
      const expected = createHash('sha1').update(new Uint8Array(AsnConvert.parse(k.spki, SubjectPublicKeyInfo).subjectPublicKey)).digest();
      expect(ski.equals(expected)).toBe(true);
    }
  });

  it('openssl cms -decrypt opens envelopes of any length (fast-check)', () => {
    writeFileSync(join(dir.path, 'k.pem'), k2048.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), (n) => {
        const p = randomBytes(n);
        writeFileSync(join(dir.path, 'e.der'), envelopeForRecipient(p, k2048.spki));
        const out = execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', join(dir.path, 'e.der'), '-inkey', join(dir.path, 'k.pem')], { maxBuffer: 1 << 20 });
        expect(Buffer.from(out).equals(p)).toBe(true);
      }),
      { numRuns: 12 },
    );
  });
});
