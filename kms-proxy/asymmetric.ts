// Asymmetric key helpers over node:crypto: KeyObjects cached per material, public keys as
// SubjectPublicKeyInfo DER (what GetPublicKey returns), RSAES-OAEP as KMS does it (MGF1 with the
// same hash as the label hash, empty label).
import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { kmsError, messages } from './errors.ts';
import type { KeySpec, Material } from './model.ts';

const privateKeys = new Map<string, KeyObject>();

export function privateKeyOf(m: Material): KeyObject {
  let k = privateKeys.get(m.id);
  if (!k) {
    k = createPrivateKey({ key: Buffer.from(m.secret), format: 'der', type: 'pkcs8' });
    if (privateKeys.size > 10_000) privateKeys.clear();
    privateKeys.set(m.id, k);
  }
  return k;
}

export function publicKeyDer(m: Material): Uint8Array {
  return new Uint8Array(createPublicKey(privateKeyOf(m)).export({ type: 'spki', format: 'der' }));
}

/** RSAES-OAEP plaintext limits (KMS Developer Guide, "RSA key specs for encryption"). */
export const OAEP_MAX: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  RSA_2048: { RSAES_OAEP_SHA_1: 214, RSAES_OAEP_SHA_256: 190 },
  RSA_3072: { RSAES_OAEP_SHA_1: 342, RSAES_OAEP_SHA_256: 318 },
  RSA_4096: { RSAES_OAEP_SHA_1: 470, RSAES_OAEP_SHA_256: 446 },
};

function oaepHash(alg: string): string {
  return alg === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256';
}

export function rsaEncrypt(m: Material, spec: KeySpec, alg: string, plaintext: Uint8Array): Uint8Array {
  const max = OAEP_MAX[spec]?.[alg];
  if (max === undefined) throw kmsError('InvalidKeyUsageException', `The encryption algorithm ${alg} is not valid for ${spec} keys.`);
  if (plaintext.length > max) {
    throw kmsError('ValidationException', messages.rsaPlaintextTooLarge(alg, spec, max));
  }
  return new Uint8Array(publicEncrypt({ key: createPublicKey(privateKeyOf(m)), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(alg) }, plaintext));
}

export function rsaDecrypt(m: Material, alg: string, ciphertext: Uint8Array): Uint8Array {
  try {
    return new Uint8Array(privateDecrypt({ key: privateKeyOf(m), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(alg) }, ciphertext));
  } catch (cause) {
    throw kmsError('InvalidCiphertextException', '', `RSA-OAEP decryption failed: ${(cause as Error).message}`);
  }
}
