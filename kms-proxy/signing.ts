// KMS Sign/Verify semantics (KMS Developer Guide, "Asymmetric key specs"; Sign API, MessageType):
// RAW messages are hashed with the algorithm's hash; DIGEST messages are the hash already and are
// signed as they are, never hashed again. RSA PKCS#1 v1.5 and PSS (salt length = hash length, MGF1
// with the same hash) follow RFC 8017 §8.2 / §8.1; with DIGEST the encoding is built here
// (EMSA-PKCS1-v1_5 DigestInfo, EMSA-PSS-ENCODE) and the raw RSA operation done by node:crypto.
// ECDSA over a DIGEST is @noble/curves (audited, constant-time scalar multiplication, RFC 6979
// nonces) with prehash off: node:crypto always hashes what it signs. RAW ECDSA stays on node:crypto.
// Signatures are DER (ECDSA) or raw (RSA), as KMS returns them.
import { constants, createHash, createPublicKey, privateEncrypt, publicDecrypt, randomBytes, sign as nodeSign, timingSafeEqual, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { kmsError } from './errors.ts';

export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256', 'ED25519_SHA_512', 'ED25519_PH_SHA_512',
] as const;

const DIGEST_INFO: Readonly<Record<string, string>> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

export function hashOf(alg: string): { name: string; bytes: number } {
  if (alg.endsWith('_SHA_384')) return { name: 'sha384', bytes: 48 };
  if (alg.endsWith('_SHA_512')) return { name: 'sha512', bytes: 64 };
  return { name: 'sha256', bytes: 32 };
}

function mgf1(seed: Buffer, length: number, hash: string): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  for (let counter = 0; total < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

function modulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with sLen = hLen, left-padded to the modulus length. */
function pssEncode(mHash: Buffer, modBits: number, hash: string): Buffer {
  const hLen = mHash.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const masked = mgf1(h, emLen - hLen - 1, hash).map((m, i) => m ^ (db[i] ?? 0));
  masked[0] = (masked[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([masked, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modBits / 8);
  return em.length === k ? em : Buffer.concat([Buffer.alloc(k - em.length), em]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with sLen = hLen. */
function pssVerify(mHash: Buffer, emFull: Buffer, modBits: number, hash: string): boolean {
  const hLen = mHash.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emFull.length < emLen) return false;
  if (emFull.subarray(0, emFull.length - emLen).some((b) => b !== 0)) return false;
  const em = emFull.subarray(emFull.length - emLen);
  if (emLen < 2 * hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const masked = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if (((masked[0] ?? 0) & ~topMask) !== 0) return false;
  const db = Buffer.from(mgf1(h, emLen - hLen - 1, hash).map((m, i) => m ^ (masked[i] ?? 0)));
  db[0] = (db[0] ?? 0) & topMask;
  const psLen = emLen - 2 * hLen - 2;
  if (db.subarray(0, psLen).some((b) => b !== 0) || db[psLen] !== 1) return false;
  const salt = db.subarray(psLen + 1);
  const h2 = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return timingSafeEqual(h, h2);
}

/** The curves KMS offers for ECDSA, by node:crypto's name (keyspec.ts `curve`). */
const CURVES = { prime256v1: p256, secp384r1: p384, secp521r1: p521, secp256k1 } as const;

function curveOf(name: string | undefined): (typeof CURVES)[keyof typeof CURVES] {
  const c = name !== undefined && Object.hasOwn(CURVES, name) ? CURVES[name as keyof typeof CURVES] : undefined;
  if (!c) throw kmsError('KMSInternalException', `no ECDSA curve ${String(name)}`);
  return c;
}

/** A JWK coordinate (base64url, fixed length) as bytes. */
function jwkBytes(v: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(v ?? '', 'base64url'));
}

// `prehash: false`: the digest is signed as it is (Sign API: DIGEST "do not hash again"); `lowS:
// false`: signatures are not normalized, as OpenSSL and KMS leave them, and high-S signatures that
// OpenSSL makes verify; `extraEntropy` off: the nonce is RFC 6979's, deterministic.
const DIGEST_OPTS = { prehash: false, lowS: false, format: 'der' } as const;

export function signDigest(curve: string | undefined, privateKey: KeyObject, digest: Uint8Array): Uint8Array {
  const d = jwkBytes(privateKey.export({ format: 'jwk' }).d);
  try {
    return curveOf(curve).sign(digest, d, DIGEST_OPTS);
  } finally {
    d.fill(0);
  }
}

export function verifyDigest(curve: string | undefined, publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const jwk = publicKey.export({ format: 'jwk' });
  const point = new Uint8Array([4, ...jwkBytes(jwk.x), ...jwkBytes(jwk.y)]);
  try {
    return curveOf(curve).verify(signature, digest, point, DIGEST_OPTS);
  } catch {
    // A signature that is not DER, or out of range, is an invalid signature, not an error.
    return false;
  }
}

function digestOf(alg: string, messageType: string, message: Uint8Array): Buffer {
  const h = hashOf(alg);
  if (messageType === 'DIGEST') {
    // Same wording as AWS for a digest of the wrong size for the algorithm.
    if (message.length !== h.bytes) throw kmsError('ValidationException', `Digest is invalid length for algorithm ${alg}.`);
    return Buffer.from(message);
  }
  return createHash(h.name).update(message).digest();
}

export function signMessage(privateKey: KeyObject, curve: string | undefined, alg: string, messageType: string, message: Uint8Array): Uint8Array {
  const h = hashOf(alg);
  const digest = digestOf(alg, messageType, message);
  if (alg.startsWith('ECDSA_')) {
    if (messageType === 'RAW') return new Uint8Array(nodeSign(h.name, message, { key: privateKey, dsaEncoding: 'der' }));
    return signDigest(curve, privateKey, digest);
  }
  if (alg.startsWith('RSASSA_PKCS1_V1_5_')) {
    const info = Buffer.concat([Buffer.from(DIGEST_INFO[h.name] ?? '', 'hex'), digest]);
    return new Uint8Array(privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, info));
  }
  if (messageType === 'RAW') return new Uint8Array(nodeSign(h.name, message, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: h.bytes }));
  return new Uint8Array(privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, pssEncode(digest, modulusBits(privateKey), h.name)));
}

export function verifyMessage(privateKey: KeyObject, curve: string | undefined, alg: string, messageType: string, message: Uint8Array, signature: Uint8Array): boolean {
  const h = hashOf(alg);
  const digest = digestOf(alg, messageType, message);
  const publicKey = createPublicKey(privateKey);
  if (alg.startsWith('ECDSA_')) {
    if (messageType === 'RAW') return nodeVerify(h.name, message, { key: publicKey, dsaEncoding: 'der' }, signature);
    return verifyDigest(curve, publicKey, digest, signature);
  }
  let opened: Buffer;
  try {
    if (alg.startsWith('RSASSA_PKCS1_V1_5_')) {
      opened = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      const want = Buffer.concat([Buffer.from(DIGEST_INFO[h.name] ?? '', 'hex'), digest]);
      return opened.length === want.length && timingSafeEqual(opened, want);
    }
    opened = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  return pssVerify(digest, opened, modulusBits(publicKey), h.name);
}
