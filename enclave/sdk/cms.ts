// Opens a KMS `CiphertextForRecipient` inside the enclave: CMS ContentInfo → EnvelopedData with
// one KeyTransRecipientInfo (RSAES-OAEP SHA-256 / MGF1 SHA-256) and AES-256-CBC content, as AWS KMS
// produces and aws-nitro-enclaves-sdk-c's cms.c reads. Anything else is refused with
// ERR_CMS_INVALID: an enclave must not guess at an envelope's meaning.
import { constants, createDecipheriv, createHash, createPublicKey, privateDecrypt, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { CMSVersion, ContentInfo, EnvelopedData, id_data, id_envelopedData } from '@peculiar/asn1-cms';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { RsaEsOaepParams, id_RSAES_OAEP, id_mgf1, id_sha256 } from '@peculiar/asn1-rsa';
import { CmsError } from '../errors.ts';

const ID_AES256_CBC = '2.16.840.1.101.3.4.1.42';

function fail(message: string, cause?: unknown): never {
  throw new CmsError(message, cause === undefined ? undefined : { cause });
}

/**
 * Parses one DER structure and insists the bytes are its canonical encoding: the BER-lenient
 * parser would otherwise accept odd length forms and tags (found by a bit-flip test), and an
 * envelope has exactly one valid spelling.
 */
function parse<T>(bytes: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  let value: T;
  try {
    value = AsnConvert.parse(bytes, type);
  } catch (cause) {
    return fail(`${what} is not valid DER`, cause);
  }
  const input = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (!Buffer.from(AsnConvert.serialize(value)).equals(input)) fail(`${what} is not canonical DER`);
  return value;
}

/** id-sha256 with absent or NULL parameters (RFC 4055 §2.1), nothing else. */
function isSha256(alg: AlgorithmIdentifier): boolean {
  const p = alg.parameters;
  const nullOrAbsent = p === null || p === undefined || (p.byteLength === 2 && new Uint8Array(p)[0] === 0x05 && new Uint8Array(p)[1] === 0x00);
  return alg.algorithm === id_sha256 && nullOrAbsent;
}

/** Decrypts a CiphertextForRecipient with the enclave's RSA private key; returns the plaintext. */
export function openEnvelope(der: Uint8Array, privateKey: KeyObject): Uint8Array {
  try {
    return open(der, privateKey);
  } catch (cause) {
    if (cause instanceof CmsError) throw cause;
    // The ASN.1 parser can hand back objects with absent members for odd input (found by
    // property tests); any such failure is a malformed envelope, not a crash.
    return fail('CiphertextForRecipient is malformed', cause);
  }
}

function open(der: Uint8Array, privateKey: KeyObject): Uint8Array {
  if (!(der instanceof Uint8Array) || der.length === 0) fail('CiphertextForRecipient must be non-empty bytes');
  const info = parse(der, ContentInfo, 'ContentInfo');
  if (info.contentType !== id_envelopedData) fail(`content type ${info.contentType} is not envelopedData`);
  const env = parse(info.content, EnvelopedData, 'EnvelopedData');
  if (env.version !== CMSVersion.v2) fail(`EnvelopedData version must be 2, got ${env.version}`);
  if (env.recipientInfos.length !== 1) fail(`expected one recipient, got ${env.recipientInfos.length}`);
  const ktri = env.recipientInfos[0]?.ktri;
  if (!ktri) fail('the recipient is not a KeyTransRecipientInfo');
  if (ktri.version !== CMSVersion.v2) fail(`KeyTransRecipientInfo version must be 2, got ${ktri.version}`);
  // The envelope names its recipient by subjectKeyIdentifier: it must be ours (RFC 5280 §4.2.1.2 (1)).
  const ski = ktri.rid.subjectKeyIdentifier;
  if (!ski) fail('the recipient must be identified by subjectKeyIdentifier');
  const spki = AsnConvert.parse(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const ours = createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest();
  if (!ours.equals(new Uint8Array(ski.buffer))) fail('the envelope is addressed to another key');
  const kea = ktri.keyEncryptionAlgorithm;
  if (kea.algorithm !== id_RSAES_OAEP || !kea.parameters) fail('key encryption must be RSAES-OAEP');
  const oaep = parse(kea.parameters, RsaEsOaepParams, 'RSAES-OAEP parameters');
  if (!isSha256(oaep.hashAlgorithm)) fail('RSAES-OAEP must use SHA-256');
  if (oaep.maskGenAlgorithm.algorithm !== id_mgf1 || !oaep.maskGenAlgorithm.parameters) fail('RSAES-OAEP must use MGF1');
  if (!isSha256(parse(oaep.maskGenAlgorithm.parameters, AlgorithmIdentifier, 'MGF1 parameters'))) fail('MGF1 must use SHA-256');
  const eci = env.encryptedContentInfo;
  if (eci.contentType !== id_data) fail('encrypted content must be id-data');
  if (eci.contentEncryptionAlgorithm.algorithm !== ID_AES256_CBC || !eci.contentEncryptionAlgorithm.parameters) fail('content encryption must be AES-256-CBC');
  const iv = new Uint8Array(parse(eci.contentEncryptionAlgorithm.parameters, OctetString, 'AES-CBC IV').buffer);
  if (iv.length !== 16) fail('AES-CBC IV must be 16 bytes');
  const content = eci.encryptedContent?.value ?? (eci.encryptedContent?.constructedValue ? null : undefined);
  if (!content) fail('encrypted content is missing');
  let cek: Buffer;
  try {
    cek = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, new Uint8Array(ktri.encryptedKey.buffer));
  } catch (cause) {
    return fail('the content-encryption key does not decrypt with this private key', cause);
  }
  if (cek.length !== 32) fail('the content-encryption key is not an AES-256 key');
  try {
    const d = createDecipheriv('aes-256-cbc', cek, iv);
    return new Uint8Array(Buffer.concat([d.update(new Uint8Array(content.buffer)), d.final()]));
  } catch (cause) {
    return fail('the content does not decrypt', cause);
  } finally {
    cek.fill(0);
  }
}
