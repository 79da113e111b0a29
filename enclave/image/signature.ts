// The SIGNATURE section, after EIF's (aws-nitro-enclaves-image-format, `PcrSignature`): a CBOR
// array holding one `{"signing_certificate", "signature"}` map, where `signature` is a COSE_Sign1
// (ES384) over a CBOR map holding PCR0 (see `signedPayload`). Deliberate differences from EIF: the
// certificate is DER (EIF stores PEM, whose line wrapping varies), `register_value` is a CBOR byte
// string (serde_cbor writes an array of integers), and the payload also binds the certificate.
// PCR8 = extend(0⁴⁸, SHA384(certificate DER)), as nitro-cli computes it.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import {
  decodeCbor,
  decodeCoseSign1,
  encodeCbor,
  equalBytes,
  measure,
  signCoseSign1,
  verifyCoseSign1,
  PCR_LENGTH,
} from '../../attestation/index.ts';
import type { CborLimits } from '../../attestation/index.ts';
import { ImageBadSignatureError, SigningKeyError } from '../errors.ts';

/** `[{"signing_certificate": bstr, "signature": bstr}]`: six items, two levels. */
const SECTION_LIMITS: CborLimits = { maxBytes: 64 * 1024, maxItems: 8, maxDepth: 2 };

export interface SignatureContent {
  /** The signing certificate, DER. */
  readonly certificate: Uint8Array;
  /** The COSE_Sign1 bytes. */
  readonly cose: Uint8Array;
}

const enc = new TextEncoder();
const REGISTER_INDEX = enc.encode('register_index');
const REGISTER_VALUE = enc.encode('register_value');
const CERTIFICATE_PCR8 = enc.encode('certificate_pcr8');

/**
 * The signed payload, CBOR assembled byte by byte (fixed layout):
 * `{"register_index": 0, "register_value": h'<PCR0>', "certificate_pcr8": h'<PCR8>'}`.
 * The first two fields are EIF's PcrInfo. The third binds the certificate: in EIF the certificate
 * sits next to the signature unsigned, so it can be swapped for another certificate with the same
 * key (a different PCR8) without breaking the signature; here that is a bad signature.
 */
export function signedPayload(pcr0: Uint8Array, pcr8: Uint8Array): Uint8Array {
  if (pcr0.length !== PCR_LENGTH || pcr8.length !== PCR_LENGTH) throw new TypeError('PCRs must be 48 bytes');
  const parts: (number | Uint8Array)[] = [
    0xa3, // map(3)
    0x6e, REGISTER_INDEX, 0x00, // text(14), unsigned(0)
    0x6e, REGISTER_VALUE, 0x58, PCR_LENGTH, pcr0, // text(14), bytes(48)
    0x70, CERTIFICATE_PCR8, 0x58, PCR_LENGTH, pcr8, // text(16), bytes(48)
  ];
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

/** Reads a certificate given as PEM text or DER bytes and returns its DER. */
export function certificateDer(certificate: string | Uint8Array): Uint8Array {
  try {
    const c = new X509Certificate(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
    return new Uint8Array(c.raw);
  } catch (cause) {
    throw new SigningKeyError('signing certificate is not a readable X.509 certificate (PEM or DER)', { cause });
  }
}

/** PCR8 of a signing certificate: extend(0⁴⁸, SHA384(DER)), what `nitro-cli pcr --signing-certificate` prints. */
export function pcr8(certificate: string | Uint8Array): Uint8Array {
  return measure(certificateDer(certificate));
}

function isP384(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
}

/** Builds the SIGNATURE section data for an image whose PCR0 is `pcr0`. */
export function signatureSection(pcr0: Uint8Array, certificate: string | Uint8Array, privateKey: string | Uint8Array | KeyObject): Uint8Array {
  const der = certificateDer(certificate);
  let certKey: KeyObject;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(der));
    certKey = cert.publicKey;
  } catch (cause) {
    throw new SigningKeyError('signing certificate carries no readable public key', { cause });
  }
  let key: KeyObject;
  try {
    key = typeof privateKey === 'object' && !(privateKey instanceof Uint8Array) ? privateKey : createPrivateKey(typeof privateKey === 'string' ? privateKey : { key: Buffer.from(privateKey), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new SigningKeyError('private key is not a readable private key (PEM or PKCS#8 DER)', { cause });
  }
  if (key.type !== 'private' || !isP384(key)) throw new SigningKeyError('private key must be an ECDSA P-384 private key');
  if (!isP384(certKey)) throw new SigningKeyError('signing certificate must carry an ECDSA P-384 public key');
  if (!cert.checkPrivateKey(key)) throw new SigningKeyError('private key does not match the signing certificate');
  const cose = signCoseSign1(signedPayload(pcr0, measure(der)), key);
  return encodeCbor([new Map<string, Uint8Array>([['signing_certificate', der], ['signature', cose]])]);
}

/** Parses the SIGNATURE section; anything but the exact expected shape is a bad signature. */
export function readSignatureSection(data: Uint8Array): SignatureContent {
  let item: unknown;
  try {
    item = decodeCbor(data, 'signature section', SECTION_LIMITS);
  } catch (cause) {
    throw new ImageBadSignatureError({ cause });
  }
  const fail = (why: string): never => {
    throw new ImageBadSignatureError({ cause: new Error(`signature section: ${why}`) });
  };
  if (!Array.isArray(item) || item.length !== 1) return fail('expected an array of one signature');
  const m = item[0] as unknown;
  if (!(m instanceof Map) || m.size !== 2) return fail('expected a map of two fields');
  const certificate = m.get('signing_certificate') as unknown;
  const cose = m.get('signature') as unknown;
  if (!(certificate instanceof Uint8Array) || !(cose instanceof Uint8Array)) return fail('signing_certificate and signature must be byte strings');
  const content = { certificate, cose };
  // Canonical form only: the same content must re-encode to the same bytes.
  if (!equalBytes(encodeCbor([new Map<string, Uint8Array>([['signing_certificate', certificate], ['signature', cose]])]), data)) {
    return fail('not in canonical form');
  }
  return content;
}

/** True when the COSE_Sign1 is a valid ES384 signature by the certificate's key over this PCR0. */
export function checkSignature(content: SignatureContent, pcr0: Uint8Array): { ok: true } | { ok: false; reason: string; cause?: unknown } {
  let key: KeyObject;
  try {
    // Both the DER and the key inside it can be broken (OpenSSL decodes the key lazily).
    key = new X509Certificate(Buffer.from(content.certificate)).publicKey;
  } catch (cause) {
    return { ok: false, reason: 'signing certificate is not valid DER X.509 with a readable key', cause };
  }
  if (!isP384(key)) return { ok: false, reason: 'signing certificate key is not ECDSA P-384' };
  try {
    const cose = decodeCoseSign1(content.cose);
    if (!verifyCoseSign1(cose, key)) return { ok: false, reason: 'COSE_Sign1 signature does not verify with the certificate key' };
    if (!equalBytes(cose.payload, signedPayload(pcr0, measure(content.certificate)))) {
      return { ok: false, reason: 'signed payload is not this image’s PCR0 and this certificate’s PCR8' };
    }
  } catch (cause) {
    return { ok: false, reason: 'COSE_Sign1 is malformed', cause };
  }
  return { ok: true };
}
