// COSE_Sign1 (RFC 9052 §4.2) with ES384, as the Nitro Security Module emits it: untagged, protected
// header `{1: -35}`, empty unprotected header, raw 96-byte r‖s signature. Encoding is assembled
// byte by byte because the layout is fixed (`84 44 a1 01 38 22 a0 59 …`); decoding goes through
// cbor-x and accepts the tagged form (tag 18) too.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { abytes } from './bytes.ts';
import { decodeCbor, isCborMap, isTagged, type CborLimits, type CborValue } from './cbor.ts';
import { InvalidArgumentError, MalformedDocumentError } from './errors.ts';

export const COSE_SIGN1_TAG = 18;
/** COSE algorithm identifier for ECDSA w/ SHA-384 (RFC 9053 §2.1). */
export const ES384 = -35;
/** The protected header AWS sends: bstr-wrapped `{1: -35}`. */
const ES384_PROTECTED = new Uint8Array([0xa1, 0x01, 0x38, 0x22]);
const SIGNATURE_LENGTH = 96;

/**
 * The largest attestation document: it must fit the NSM's response buffer (nsm-api
 * `NSM_RESPONSE_MAX_SIZE`, 0x3000), so no Nitro Security Module can have produced a larger one.
 * A real AWS document is about 4.5 KB.
 */
export const MAX_DOCUMENT_BYTES = 0x3000;

/** `[bstr, {}, bstr, bstr]`, perhaps in tag 18: six items, three levels; some room for a clear error. */
const COSE_LIMITS: CborLimits = { maxBytes: MAX_DOCUMENT_BYTES, maxItems: 16, maxDepth: 3, allowTags: [COSE_SIGN1_TAG] };
/** `{1: -35}`: three items. */
const PROTECTED_LIMITS: CborLimits = { maxBytes: 64, maxItems: 8, maxDepth: 1 };

export interface CoseSign1 {
  /** The serialized protected header exactly as received (it is covered by the signature). */
  readonly protectedBytes: Uint8Array;
  readonly unprotected: ReadonlyMap<CborValue, CborValue>;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  /** True when the input carried CBOR tag 18. */
  readonly tagged: boolean;
}

/** CBOR major-type header for a byte or text string of `len` bytes, minimal length encoding. */
function header(major: number, len: number): Uint8Array {
  const m = major << 5;
  if (len < 24) return new Uint8Array([m | len]);
  if (len < 0x100) return new Uint8Array([m | 24, len]);
  if (len < 0x10000) return new Uint8Array([m | 25, len >> 8, len & 0xff]);
  return new Uint8Array([m | 26, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const SIGNATURE1 = new TextEncoder().encode('Signature1');

/** Sig_structure = ["Signature1", body_protected, external_aad = h'', payload] (RFC 9052 §4.4). */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return concat([
    new Uint8Array([0x84]),
    header(3, SIGNATURE1.length),
    SIGNATURE1,
    header(2, protectedBytes.length),
    protectedBytes,
    new Uint8Array([0x40]),
    header(2, payload.length),
    payload,
  ]);
}

function asPrivateKey(key: KeyObject | string | Uint8Array): KeyObject {
  if (typeof key === 'string' || key instanceof Uint8Array) {
    try {
      return createPrivateKey(typeof key === 'string' ? key : { key: Buffer.from(key), format: 'der', type: 'pkcs8' });
    } catch (cause) {
      throw new InvalidArgumentError('signing key is not a readable private key', { cause });
    }
  }
  return key;
}

export function assertP384(key: KeyObject, title: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new InvalidArgumentError(`${title} must be an ECDSA P-384 key`);
  }
}

/** Signs `payload` with an ECDSA P-384 key and returns the untagged COSE_Sign1 bytes. */
export function signCoseSign1(payload: Uint8Array, privateKey: KeyObject | string | Uint8Array): Uint8Array {
  abytes(payload, 'payload');
  const key = asPrivateKey(privateKey);
  if (key.type !== 'private') throw new InvalidArgumentError('signing key must be a private key');
  assertP384(key, 'signing key');
  const signature = sign('sha384', sigStructure(ES384_PROTECTED, payload), { key, dsaEncoding: 'ieee-p1363' });
  return concat([
    new Uint8Array([0x84]),
    header(2, ES384_PROTECTED.length),
    ES384_PROTECTED,
    new Uint8Array([0xa0]),
    header(2, payload.length),
    payload,
    header(2, signature.length),
    signature,
  ]);
}

/** Parses a COSE_Sign1 (untagged or tag 18) and checks its headers name ES384. No signature check. */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  abytes(bytes, 'COSE_Sign1');
  let item = decodeCbor(bytes, 'COSE_Sign1', COSE_LIMITS);
  let tagged = false;
  if (isTagged(item)) {
    if (item.tag !== COSE_SIGN1_TAG) throw new MalformedDocumentError(`COSE_Sign1: unexpected tag ${item.tag}`);
    item = item.value;
    tagged = true;
  }
  if (!Array.isArray(item) || item.length !== 4) {
    throw new MalformedDocumentError('COSE_Sign1: expected an array of four items');
  }
  const [protectedBytes, unprotected, payload, signature] = item;
  if (!(protectedBytes instanceof Uint8Array)) throw new MalformedDocumentError('COSE_Sign1: protected header must be a byte string');
  if (!(unprotected instanceof Map)) throw new MalformedDocumentError('COSE_Sign1: unprotected header must be a map');
  if (!(payload instanceof Uint8Array)) throw new MalformedDocumentError('COSE_Sign1: payload must be a byte string');
  if (!(signature instanceof Uint8Array)) throw new MalformedDocumentError('COSE_Sign1: signature must be a byte string');
  const prot = decodeCbor(protectedBytes, 'COSE_Sign1 protected header', PROTECTED_LIMITS);
  if (!isCborMap(prot) || prot.size !== 1 || prot.get(1) !== ES384) {
    throw new MalformedDocumentError('COSE_Sign1: protected header must be exactly {1: -35} (ES384)');
  }
  // Nitro documents carry nothing unprotected; a field we would not read is refused, not ignored.
  if (unprotected.size !== 0) throw new MalformedDocumentError('COSE_Sign1: unprotected header must be empty');
  if (signature.length !== SIGNATURE_LENGTH) {
    throw new MalformedDocumentError(`COSE_Sign1: ES384 signature must be ${SIGNATURE_LENGTH} bytes, got ${signature.length}`);
  }
  return { protectedBytes, unprotected, payload, signature, tagged };
}

/** True when the COSE_Sign1 signature verifies with the given P-384 public key. */
export function verifyCoseSign1(cose: CoseSign1, publicKey: KeyObject | string | Uint8Array): boolean {
  let key: KeyObject;
  if (typeof publicKey === 'string' || publicKey instanceof Uint8Array) {
    try {
      key = createPublicKey(typeof publicKey === 'string' ? publicKey : { key: Buffer.from(publicKey), format: 'der', type: 'spki' });
    } catch (cause) {
      throw new InvalidArgumentError('verification key is not a readable public key', { cause });
    }
  } else key = publicKey;
  assertP384(key, 'verification key');
  return verify('sha384', sigStructure(cose.protectedBytes, cose.payload), { key, dsaEncoding: 'ieee-p1363' }, cose.signature);
}
