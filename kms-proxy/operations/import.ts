// Importing key material: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial
// (KMS Developer Guide, "Importing key material"). Every wrapping algorithm KMS lists for the
// commercial regions: RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256,
// RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 (RSA-OAEP-wrapped ephemeral AES-256 key followed
// by the material under AES Key Wrap with Padding, RFC 5649), with RSA_2048/3072/4096 wrapping
// keys. SM2PKE exists only in China regions and is refused as unsupported.
import { constants, createDecipheriv, createHash, createPrivateKey, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { kmsError } from '../errors.ts';
import { SPECS } from '../keyspec.ts';
import type { KeyRecord } from '../model.ts';
import type { Service } from '../service.ts';
import { KeyIdField } from '../shapes.ts';
import { bytes, reqStr, str, type Operation } from './types.ts';

export const WRAPPING_ALGORITHMS = ['RSAES_PKCS1_V1_5', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256', 'SM2PKE'] as const;
const WRAPPING_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'SM2'] as const;
const PARAMETERS_TTL_MS = 24 * 3_600_000;
/** RFC 5649 §3 alternative initial value for AES Key Wrap with Padding. */
const KWP_IV = Buffer.from('a65959a6', 'hex');

/** HMAC key lengths KMS accepts on import (Developer Guide, "Importing key material"). */
const HMAC_IMPORT_BYTES: Readonly<Record<string, readonly [number, number]>> = {
  HMAC_224: [28, 64],
  HMAC_256: [32, 64],
  HMAC_384: [48, 128],
  HMAC_512: [64, 128],
};

function requireExternal(key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') throw kmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
}

async function externalKey(svc: Service, id: string, caller: Parameters<Service['authorize']>[1], action: string, trail: { keyArn?: string; decision?: unknown }): Promise<KeyRecord> {
  const r = await svc.resolve(id, { aliases: false });
  trail.keyArn = r.key.arn;
  trail.decision = await svc.authorize(r, caller, action);
  requireExternal(r.key);
  svc.requireNotPendingDeletion(r.key);
  return r.key;
}

export const GetParametersForImport: Operation = {
  name: 'GetParametersForImport',
  quota: 'write',
  readOnly: true,
  shape: { KeyId: KeyIdField, WrappingAlgorithm: { t: 'string', enum: WRAPPING_ALGORITHMS, required: true }, WrappingKeySpec: { t: 'string', enum: WRAPPING_KEY_SPECS, required: true } },
  async run({ svc, caller, input, trail }) {
    const key = await externalKey(svc, reqStr(input, 'KeyId'), caller, 'kms:GetParametersForImport', trail);
    const alg = reqStr(input, 'WrappingAlgorithm');
    const spec = reqStr(input, 'WrappingKeySpec');
    if (alg === 'SM2PKE' || spec === 'SM2') throw kmsError('UnsupportedOperationException', 'SM2 wrapping is only available in China Regions.');
    const bits = Number(spec.slice(4));
    const pair = generateKeyPairSync('rsa', { modulusLength: bits, privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } });
    const token = randomBytes(64);
    const validTo = svc.clock() + PARAMETERS_TTL_MS;
    await svc.store.putImportParameters({ token: token.toString('hex'), keyId: key.keyId, wrappingAlgorithm: alg, wrappingKeySpec: spec, privateKey: new Uint8Array(pair.privateKey), validTo });
    return { KeyId: key.arn, ImportToken: new Uint8Array(token), PublicKey: new Uint8Array(pair.publicKey), ParametersValidTo: validTo / 1000 };
  },
};

/** PKCS#1 v1.5 type 2 decoding (RFC 8017 §7.2.2); node refuses RSA_PKCS1_PADDING decryption. */
function pkcs1v15Unpad(em: Buffer): Buffer {
  if (em[0] !== 0 || em[1] !== 2) throw new Error('not PKCS#1 v1.5 type 2');
  const sep = em.indexOf(0, 2);
  if (sep < 10) throw new Error('bad PKCS#1 v1.5 padding');
  return em.subarray(sep + 1);
}

function unwrap(alg: string, privateDer: Uint8Array, wrapped: Uint8Array): Buffer {
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
function material(key: KeyRecord, raw: Buffer): Uint8Array {
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

export const ImportKeyMaterial: Operation = {
  name: 'ImportKeyMaterial',
  quota: 'write',
  readOnly: false,
  shape: {
    KeyId: KeyIdField,
    ImportToken: { t: 'blob', min: 1, max: 6144, required: true },
    EncryptedKeyMaterial: { t: 'blob', min: 1, max: 6144, required: true },
    ValidTo: { t: 'timestamp' },
    ExpirationModel: { t: 'string', enum: ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] },
    ImportType: { t: 'string', enum: ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'] },
    KeyMaterialDescription: { t: 'string', min: 0, max: 256 },
    KeyMaterialId: { t: 'string', min: 64, max: 64 },
  },
  async run({ svc, caller, input, trail }) {
    const key = await externalKey(svc, reqStr(input, 'KeyId'), caller, 'kms:ImportKeyMaterial', trail);
    const validToIn = input.ValidTo as number | undefined;
    const model = str(input, 'ExpirationModel') ?? (validToIn === undefined ? 'KEY_MATERIAL_DOES_NOT_EXPIRE' : 'KEY_MATERIAL_EXPIRES');
    if (model === 'KEY_MATERIAL_EXPIRES' && validToIn === undefined) throw kmsError('ValidationException', 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES');
    if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && validToIn !== undefined) throw kmsError('ValidationException', 'A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE');
    const validTo = validToIn === undefined ? undefined : Math.round(validToIn * 1000);
    if (validTo !== undefined && validTo <= svc.clock()) throw kmsError('ValidationException', 'The ValidTo date must be in the future.');
    const token = Buffer.from(bytes(input, 'ImportToken') as Uint8Array).toString('hex');
    const params = await svc.store.getImportParameters(token);
    if (!params || params.keyId !== key.keyId) throw kmsError('InvalidImportTokenException', 'The import token is not valid for this KMS key.');
    if (params.validTo <= svc.clock()) throw kmsError('ExpiredImportTokenException', 'The import token has expired. Call GetParametersForImport for new parameters.');
    let raw: Buffer;
    try {
      raw = unwrap(params.wrappingAlgorithm, params.privateKey, bytes(input, 'EncryptedKeyMaterial') as Uint8Array);
    } catch (cause) {
      throw kmsError('InvalidCiphertextException', '', `unwrapping with ${params.wrappingAlgorithm} failed: ${(cause as Error).message}`);
    }
    const secret = material(key, raw);
    const digest = createHash('sha256').update(secret).digest('hex');
    // Once imported, a key accepts only the same material again (ImportKeyMaterial docs).
    if (key.importedMaterialDigest !== undefined && key.importedMaterialDigest !== digest) {
      throw kmsError('IncorrectKeyMaterialException', 'The key material in the request is not the same key material that was previously imported into this KMS key.');
    }
    const { validTo: _v, expirationModel: _e, ...rest } = key;
    const updated: KeyRecord = {
      ...rest,
      state: key.state === 'PendingImport' ? 'Enabled' : key.state,
      importedMaterialDigest: digest,
      expirationModel: model as KeyRecord['expirationModel'] & string,
      ...(validTo !== undefined ? { validTo } : {}),
    };
    const existing = await svc.store.currentMaterial(key.keyId);
    if (existing) await svc.store.putKey(updated);
    else await svc.store.addMaterial(updated, svc.newMaterial(key, 0, undefined, secret));
    if (validTo !== undefined) svc.schedule(validTo);
    const id = existing?.id ?? (await svc.store.currentMaterial(key.keyId))?.id;
    return { KeyId: key.arn, ...(id ? { KeyMaterialId: id } : {}) };
  },
};

export const DeleteImportedKeyMaterial: Operation = {
  name: 'DeleteImportedKeyMaterial',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, KeyMaterialId: { t: 'string', min: 64, max: 64 } },
  async run({ svc, caller, input, trail }) {
    const key = await externalKey(svc, reqStr(input, 'KeyId'), caller, 'kms:DeleteImportedKeyMaterial', trail);
    const { validTo: _v, expirationModel: _e, ...rest } = key;
    await svc.store.deleteMaterials({ ...rest, state: 'PendingImport' });
    return { KeyId: key.arn };
  },
};
