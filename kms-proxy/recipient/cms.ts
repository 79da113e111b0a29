// CiphertextForRecipient: what AWS KMS returns instead of a plaintext when a request carries a
// Recipient (an attestation document with an RSA public key). It is a CMS ContentInfo holding
// EnvelopedData (RFC 5652 §6): version 2, one KeyTransRecipientInfo (version 2, rid =
// subjectKeyIdentifier) whose content-encryption key is wrapped with RSAES-OAEP (SHA-256, MGF1
// SHA-256, RFC 8017 / RFC 4055 parameters), and id-data content encrypted with AES-256-CBC (IV in
// the algorithm parameters, PKCS#7 padding). aws-nitro-enclaves-sdk-c `source/cms.c` parses
// exactly this; `openssl cms -decrypt -inform DER -inkey key.pem` opens it. Built with
// @peculiar/asn1-cms (field by field, no hand-written DER).
import { constants, createCipheriv, createHash, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  ContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  KeyTransRecipientInfo,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
  CMSVersion,
  id_data,
  id_envelopedData,
} from '@peculiar/asn1-cms';
import { AlgorithmIdentifier, SubjectKeyIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { RsaEsOaepParams, id_RSAES_OAEP, id_mgf1, id_sha256 } from '@peculiar/asn1-rsa';

export const ID_AES256_CBC = '2.16.840.1.101.3.4.1.42';

/** The recipient public key could not be used (not RSA SubjectPublicKeyInfo, or too small). */
export class RecipientKeyError extends Error {
  readonly code = 'ERR_RECIPIENT_KEY';
}

/** Reads and checks an RSA SubjectPublicKeyInfo from an attestation document's `public_key`. */
export function recipientKey(spki: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new RecipientKeyError('public_key is not a DER SubjectPublicKeyInfo', { cause });
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa') throw new RecipientKeyError(`public_key must be an RSA key, got ${key.asymmetricKeyType}`);
  if (bits < 2048 || bits > 4096) throw new RecipientKeyError(`public_key must be RSA 2048–4096 bits, got ${bits}`);
  return key;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  return new Uint8Array(createHash('sha1').update(new Uint8Array(info.subjectPublicKey)).digest());
}

const OAEP_SHA256 = new AlgorithmIdentifier({
  algorithm: id_RSAES_OAEP,
  parameters: AsnConvert.serialize(
    new RsaEsOaepParams({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null }),
      maskGenAlgorithm: new AlgorithmIdentifier({
        algorithm: id_mgf1,
        parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null })),
      }),
    }),
  ),
});

/** Encrypts `plaintext` to the RSA key in `recipientSpki`; returns the DER ContentInfo. */
export function envelopeForRecipient(plaintext: Uint8Array, recipientSpki: Uint8Array): Uint8Array {
  const key = recipientKey(recipientSpki);
  const cek = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek, iv); // PKCS#7 padding is OpenSSL's default
  const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  // MGF1 uses the OAEP digest unless told otherwise (OpenSSL), so this is OAEP-SHA256/MGF1-SHA256.
  const wrapped = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  cek.fill(0);
  const recipient = new KeyTransRecipientInfo({
    version: CMSVersion.v2,
    rid: new RecipientIdentifier({ subjectKeyIdentifier: new SubjectKeyIdentifier(keyIdentifier(recipientSpki)) }),
    keyEncryptionAlgorithm: OAEP_SHA256,
    encryptedKey: new OctetString(wrapped),
  });
  const enveloped = new EnvelopedData({
    version: CMSVersion.v2,
    recipientInfos: new RecipientInfos([new RecipientInfo({ ktri: recipient })]),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: ID_AES256_CBC, parameters: AsnConvert.serialize(new OctetString(iv)) }),
      encryptedContent: new EncryptedContent({ value: new OctetString(encrypted) }),
    }),
  });
  const info = new ContentInfo({ contentType: id_envelopedData, content: AsnConvert.serialize(enveloped) });
  return new Uint8Array(AsnConvert.serialize(info));
}
