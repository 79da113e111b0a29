// CiphertextForRecipient: what AWS KMS returns instead of a plaintext when a request carries a
// Recipient (an attestation document with an RSA public key). It is a CMS ContentInfo holding
// EnvelopedData (RFC 5652 §6): version 2, one KeyTransRecipientInfo (version 2, rid =
// subjectKeyIdentifier) whose content-encryption key is wrapped with RSAES-OAEP (SHA-256, MGF1
// SHA-256, RFC 8017 / RFC 4055 parameters), and id-data content encrypted with AES-256-CBC (IV in
// the algorithm parameters, PKCS#7 padding). aws-nitro-enclaves-sdk-c `source/cms.c` parses
// exactly this; `openssl cms -decrypt -inform DER -inkey key.pem` opens it.
import { constants, createCipheriv, createHash, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
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

/**
 * RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value. For RSA that
 * value is the PKCS#1 RSAPublicKey DER, which node:crypto exports directly (checked against the
 * ASN.1 parse of the SubjectPublicKeyInfo in test/recipient/cms-der.test.ts).
 */
function keyIdentifier(key: KeyObject): Buffer {
  return createHash('sha1').update(key.export({ type: 'pkcs1', format: 'der' })).digest();
}

/** A recipient key checked once and ready to envelope to: the key and its subjectKeyIdentifier. */
export interface PreparedRecipient {
  readonly key: KeyObject;
  readonly keyIdentifier: Uint8Array;
}

/** Checks an RSA SubjectPublicKeyInfo (`recipientKey`) and computes its key identifier. */
export function prepareRecipient(spki: Uint8Array): PreparedRecipient {
  const key = recipientKey(spki);
  return Object.freeze({ key, keyIdentifier: keyIdentifier(key) });
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

// The envelope is assembled from DER pieces rather than through @peculiar/asn1-schema objects:
// serializing the object tree cost ~0.8 ms per envelope (40× the RSA-OAEP encryption it carries)
// and dominated an attested GenerateDataKey. The constant parts come from the library (the OAEP
// AlgorithmIdentifier) or are fixed OIDs; the variable parts are OCTET STRINGs. The bytes are
// checked equal to the @peculiar/asn1-cms construction in test/recipient/cms-der.test.ts.
const OAEP_SHA256_DER = Buffer.from(AsnConvert.serialize(OAEP_SHA256));
const OID_ENVELOPED_DATA = Buffer.from('06092a864886f70d010703', 'hex'); // 1.2.840.113549.1.7.3
const OID_DATA = Buffer.from('06092a864886f70d010701', 'hex'); // 1.2.840.113549.1.7.1
const OID_AES256_CBC = Buffer.from('060960864801650304012a', 'hex'); // 2.16.840.1.101.3.4.1.42
const VERSION_2 = Buffer.from('020102', 'hex'); // INTEGER 2 (CMSVersion v2)

function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  let len: number[];
  if (n < 0x80) len = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = [0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from([tag, ...len]), ...parts], 1 + len.length + n);
}

export interface EnvelopeRandom {
  /** Content-encryption key (32 bytes) and IV (16 bytes); random by default. Tests inject them. */
  readonly cek?: Uint8Array;
  readonly iv?: Uint8Array;
}

/**
 * Encrypts `plaintext` to the RSA key in `recipient` (SubjectPublicKeyInfo DER, or a
 * `prepareRecipient` result); returns the DER ContentInfo.
 */
export function envelopeForRecipient(plaintext: Uint8Array, recipient: Uint8Array | PreparedRecipient, random: EnvelopeRandom = {}): Uint8Array {
  const { key, keyIdentifier: ski } = recipient instanceof Uint8Array ? prepareRecipient(recipient) : recipient;
  const cek = random.cek ? Buffer.from(random.cek) : randomBytes(32);
  const iv = random.iv ? Buffer.from(random.iv) : randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek, iv); // PKCS#7 padding is OpenSSL's default
  const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  // MGF1 uses the OAEP digest unless told otherwise (OpenSSL), so this is OAEP-SHA256/MGF1-SHA256.
  const wrapped = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  cek.fill(0);
  // KeyTransRecipientInfo: version 2, rid [0] IMPLICIT SubjectKeyIdentifier, OAEP, encryptedKey.
  const ktri = tlv(0x30, VERSION_2, tlv(0x80, ski), OAEP_SHA256_DER, tlv(0x04, wrapped));
  // EncryptedContentInfo: id-data, AES-256-CBC with the IV as parameters, [0] IMPLICIT content.
  const eci = tlv(0x30, OID_DATA, tlv(0x30, OID_AES256_CBC, tlv(0x04, iv)), tlv(0x80, encrypted));
  // EnvelopedData (version 2, RecipientInfos SET OF one), inside ContentInfo [0] EXPLICIT.
  const enveloped = tlv(0x30, VERSION_2, tlv(0x31, ktri), eci);
  const info = tlv(0x30, OID_ENVELOPED_DATA, tlv(0xa0, enveloped));
  return new Uint8Array(info.buffer, info.byteOffset, info.byteLength);
}
