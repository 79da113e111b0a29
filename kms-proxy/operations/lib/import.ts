// Importing key material: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial
// (KMS Developer Guide, "Importing key material"). Every wrapping algorithm KMS lists for the
// commercial regions: RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256,
// RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 (RSA-OAEP-wrapped ephemeral AES-256 key followed
// by the material under AES Key Wrap with Padding, RFC 5649), with RSA_2048/3072/4096 wrapping
// keys. SM2PKE exists only in China regions and is refused as unsupported.
// Helpers shared by the import operations, which live one per file in operations/.
import { constants, createDecipheriv, createPrivateKey, privateDecrypt } from 'node:crypto';
import { kmsError } from '../../errors.ts';
import { SPECS } from '../../keyspec.ts';
import type { KeyRecord } from '../../model.ts';
import type { ContextValues } from '../../service.ts';
import { authorizedKey, bytes, type Call } from '../types.ts';

export const WRAPPING_ALGORITHMS = ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'] as const;
export const WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] as const;
export const PARAMETERS_TTL_MS = 24 * 3_600_000;
/** RFC 5649 §3 alternative initial value for AES Key Wrap with Padding. */
export const KWP_IV = Buffer.from('a65959a6', 'hex');

/** HMAC key lengths KMS accepts on import (Developer Guide, "Importing key material"). */
export const HMAC_IMPORT_BYTES: Readonly<Record<string, readonly [number, number]>> = {
  HMAC_224: [28, 64],
  HMAC_256: [32, 64],
  HMAC_384: [48, 128],
  HMAC_512: [64, 128],
};

export function requireExternal(key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') throw kmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
}

export async function externalKey(call: Pick<Call, 'svc' | 'caller' | 'trail'>, id: string, action: string, extra: ContextValues = {}): Promise<KeyRecord> {
  const { key } = await authorizedKey(call, id, action, { aliases: false, extra });
  requireExternal(key);
  call.svc.requireNotPendingDeletion(key);
  // Key states table: all three refused while Creating, all but ImportKeyMaterial while Updating.
  call.svc.requireSettled(key, action === 'kms:ImportKeyMaterial' ? 'allowed' : 'refused');
  return key;
}

/** PKCS#1 v1.5 type 2 decoding (RFC 8017 §7.2.2); node refuses RSA_PKCS1_PADDING decryption. */
export function pkcs1v15Unpad(em: Buffer): Buffer {
  if (em[0] !== 0 || em[1] !== 2) throw new Error('not PKCS#1 v1.5 type 2');
  const sep = em.indexOf(0, 2);
  if (sep < 10) throw new Error('bad PKCS#1 v1.5 padding');
  return em.subarray(sep + 1);
}

export function unwrap(alg: string, privateDer: Uint8Array, wrapped: Uint8Array): Buffer {
  const key = createPrivateKey({ key: Buffer.from(privateDer), format: 'der', type: 'pkcs8' });
  const k = (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  const data = Buffer.from(wrapped);
  const oaep = (hash: string, ct: Buffer) => privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ct);
  switch (alg) {
    case 'RSAES_PKCS1_V1_5':
      return pkcs1v15Unpad(privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, data));
    case 'RSAES_OAEP_SHA_1':
      return oaep('sha1', data);
    case 'RSAES_OAEP_SHA_256':
      return oaep('sha256', data);
    case 'RSA_AES_KEY_WRAP_SHA_1':
    case 'RSA_AES_KEY_WRAP_SHA_256': {
      const aesKey = oaep(alg.endsWith('SHA_1') ? 'sha1' : 'sha256', data.subarray(0, k));
      if (aesKey.length !== 32) throw new Error('the wrapped AES key is not 256 bits');
      const d = createDecipheriv('id-aes256-wrap-pad', aesKey, KWP_IV);
      return Buffer.concat([d.update(data.subarray(k)), d.final()]);
    }
    default:
      throw new Error(`unknown wrapping algorithm ${alg}`);
  }
}

/** Checks imported material against the key spec; returns what the store keeps. */
export function material(key: KeyRecord, raw: Buffer): Uint8Array {
  const bad = (why: string) => kmsError('IncorrectKeyMaterialException', `The key material is not valid for ${key.keySpec}: ${why}.`);
  if (key.keySpec === 'SYMMETRIC_DEFAULT') {
    if (raw.length !== 32) throw bad(`${raw.length} bytes, want 32`);
    return new Uint8Array(raw);
  }
  const hmac = HMAC_IMPORT_BYTES[key.keySpec];
  if (hmac) {
    if (raw.length < hmac[0] || raw.length > hmac[1]) throw bad(`${raw.length} bytes, want ${hmac[0]}–${hmac[1]}`);
    return new Uint8Array(raw);
  }
  const info = SPECS[key.keySpec];
  let pk;
  try {
    pk = createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' });
  } catch {
    throw bad('not a DER PKCS#8 private key');
  }
  const d = pk.asymmetricKeyDetails;
  if (info?.rsaBits !== undefined ? pk.asymmetricKeyType !== 'rsa' || d?.modulusLength !== info.rsaBits : pk.asymmetricKeyType !== 'ec' || d?.namedCurve !== info?.curve) {
    throw bad('the private key does not match the key spec');
  }
  return new Uint8Array(pk.export({ type: 'pkcs8', format: 'der' }));
}
