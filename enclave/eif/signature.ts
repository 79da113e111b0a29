// The SIGNATURE section of an EIF, as nitro-cli writes and reads it (aws-nitro-enclaves-image-format,
// src/defs/mod.rs `PcrSignature`, `PcrInfo`; src/utils/eif_signer.rs; src/utils/eif_reader.rs
// `get_certificate_info`): serde_cbor of `Vec<PcrSignature>` holding one entry,
//
//   [ {"signing_certificate": [u8…] (the PEM file's bytes), "signature": [u8…] (COSE_Sign1)} ]
//
// where every `Vec<u8>` is a CBOR *array of integers* (serde_cbor without serde_bytes), and the
// COSE_Sign1 (aws-nitro-enclaves-cose: protected {1: alg}, unprotected {}, untagged) signs
// serde_cbor of `PcrInfo {register_index: 0, register_value: [u8; 48] as integers}` = PCR0.
// PCR8 = extend(0⁴⁸, SHA384(the certificate's DER)). Only ES384 (P-384) signatures are checked
// here, the curve nitro-cli's documentation uses.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { decodeCbor, decodeCoseSign1, equalBytes, measure, signCoseSign1, verifyCoseSign1, type CborValue } from '../../attestation/index.ts';
import { ImageBadSignatureError, SigningKeyError } from '../errors.ts';

export interface EifSignature {
  /** The certificate as stored: PEM text bytes. */
  readonly certificatePem: Uint8Array;
  /** Its DER, what PCR8 measures. */
  readonly certificateDer: Uint8Array;
  readonly cose: Uint8Array;
}

const enc = new TextEncoder();

/** CBOR head for major type `major` and argument `n` (shortest form, as serde_cbor writes). */
function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  return [m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** serde_cbor's encoding of a `Vec<u8>`: an array of unsigned integers. */
function byteArray(bytes: Uint8Array): number[] {
  const out = head(4, bytes.length);
  for (const b of bytes) out.push(...head(0, b));
  return out;
}

function text(s: string): number[] {
  const b = enc.encode(s);
  return [...head(3, b.length), ...b];
}

/** serde_cbor of `PcrInfo { register_index: 0, register_value: pcr0 }`: what the COSE_Sign1 signs. */
export function eifPcrInfo(pcr0: Uint8Array): Uint8Array {
  return Uint8Array.from([...head(5, 2), ...text('register_index'), 0x00, ...text('register_value'), ...byteArray(pcr0)]);
}

/** serde_cbor of `vec![PcrSignature { signing_certificate, signature }]`. */
export function encodeEifSignature(certificatePem: Uint8Array, cose: Uint8Array): Uint8Array {
  return Uint8Array.from([...head(4, 1), ...head(5, 2), ...text('signing_certificate'), ...byteArray(certificatePem), ...text('signature'), ...byteArray(cose)]);
}

function bad(why: string, cause?: unknown): never {
  throw new ImageBadSignatureError({ cause: new Error(`EIF signature section: ${why}`, cause === undefined ? undefined : { cause }) });
}

function bytesOf(x: CborValue | undefined, what: string): Uint8Array {
  if (!Array.isArray(x)) return bad(`${what} must be an array of byte values`);
  const out = new Uint8Array(x.length);
  x.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) bad(`${what}[${i}] is not a byte value`);
    out[i] = v;
  });
  return out;
}

/** Parses the section; anything nitro-cli could not deserialize is ERR_IMAGE_BAD_SIGNATURE. */
export function readEifSignature(data: Uint8Array): EifSignature {
  let item: CborValue;
  try {
    item = decodeCbor(data, 'EIF signature section');
  } catch (cause) {
    return bad('not CBOR', cause);
  }
  // EifSigner writes exactly one PcrSignature (PCR0's); more would be ones nobody checks.
  if (!Array.isArray(item) || item.length !== 1) return bad('expected an array of one PcrSignature');
  const m = item[0];
  if (!(m instanceof Map) || m.size !== 2) return bad('a PcrSignature is a map of two fields');
  const certificatePem = bytesOf(m.get('signing_certificate'), 'signing_certificate');
  const cose = bytesOf(m.get('signature'), 'signature');
  let der: Uint8Array;
  try {
    der = new Uint8Array(new X509Certificate(Buffer.from(certificatePem)).raw);
  } catch (cause) {
    return bad('signing_certificate is not a PEM X.509 certificate', cause);
  }
  return { certificatePem, certificateDer: der, cose };
}

/** PCR8 of a signed EIF. */
export function eifPcr8(sig: EifSignature): Uint8Array {
  return measure(sig.certificateDer);
}

/**
 * nitro-cli's SignatureCheck: the COSE_Sign1 must verify with the certificate's key (nitro-cli
 * fails describe-eif otherwise: `get_payload` returns UnverifiedSignature), and the result is
 * whether the signed payload is this file's PCR0.
 */
export function checkEifSignature(sig: EifSignature, pcr0: Uint8Array): boolean {
  let key: KeyObject;
  try {
    key = new X509Certificate(Buffer.from(sig.certificateDer)).publicKey;
  } catch (cause) {
    return bad('the signing certificate has no readable key', cause);
  }
  let payload: Uint8Array;
  try {
    const cose = decodeCoseSign1(sig.cose);
    if (!verifyCoseSign1(cose, key)) return bad('the COSE_Sign1 does not verify with the certificate key');
    payload = cose.payload;
  } catch (cause) {
    if (cause instanceof ImageBadSignatureError) throw cause;
    return bad('the COSE_Sign1 is malformed or not ES384', cause);
  }
  return equalBytes(payload, eifPcrInfo(pcr0));
}

/** Builds the SIGNATURE section nitro-cli's `sign-eif` would write for an EIF whose PCR0 is `pcr0`. */
export function eifSignatureSection(pcr0: Uint8Array, certificatePem: string, privateKeyPem: string): Uint8Array {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch (cause) {
    throw new SigningKeyError('signing certificate is not a readable PEM X.509 certificate', { cause });
  }
  if (!certificatePem.includes('-----BEGIN CERTIFICATE-----')) throw new SigningKeyError('EIF signing certificates are stored as PEM: give a PEM file');
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new SigningKeyError('private key is not a readable PEM private key (KMS key ARNs are not supported here)', { cause });
  }
  const p384 = (k: KeyObject): boolean => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'secp384r1';
  if (!p384(key) || !p384(cert.publicKey)) throw new SigningKeyError('the signing key and certificate must be ECDSA P-384');
  if (!cert.checkPrivateKey(key)) throw new SigningKeyError('private key does not match the signing certificate');
  return encodeEifSignature(enc.encode(certificatePem), signCoseSign1(eifPcrInfo(pcr0), key));
}
