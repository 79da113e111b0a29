// ImportKeyMaterial (KMS API Reference, "ImportKeyMaterial").
import { createHash } from 'node:crypto';
import { kmsError } from '../errors.ts';
import type { KeyRecord } from '../model.ts';
import { KeyIdField } from '../shapes.ts';
import { externalKey, material, unwrap } from './lib/import.ts';
import { bytes, type Operation, reqStr, str } from './types.ts';

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
    const validToIn = input.ValidTo as number | undefined;
    const model = str(input, 'ExpirationModel') ?? (validToIn === undefined ? 'KEY_MATERIAL_DOES_NOT_EXPIRE' : 'KEY_MATERIAL_EXPIRES');
    const key = await externalKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ImportKeyMaterial', {
      'kms:ExpirationModel': model,
      // Epoch seconds, as the request has it ("kms:ValidTo … is expressed in Unix time").
      ...(validToIn !== undefined ? { 'kms:ValidTo': String(validToIn) } : {}),
    });
    if (model === 'KEY_MATERIAL_EXPIRES' && validToIn === undefined) throw kmsError('ValidationException', 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES');
    if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && validToIn !== undefined) throw kmsError('ValidationException', 'A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE');
    const validTo = validToIn === undefined ? undefined : Math.round(validToIn * 1000);
    if (validTo !== undefined && validTo <= svc.clock()) throw kmsError('ValidationException', 'The ValidTo date must be in the future.');
    const token = Buffer.from(bytes(input, 'ImportToken') as Uint8Array).toString('hex');
    const params = await svc.store.getImportParameters(token);
    if (!params || params.keyId !== key.keyId || params.region !== key.region) throw kmsError('InvalidImportTokenException', 'The import token is not valid for this KMS key.');
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
    const existing = await svc.store.currentMaterial(key);
    if (existing) await svc.store.putKey(updated);
    else await svc.store.addMaterial(updated, await svc.newMaterial(key, 0, undefined, secret));
    if (validTo !== undefined) svc.schedule(validTo);
    const id = existing?.id ?? (await svc.store.currentMaterial(key))?.id;
    return { KeyId: key.arn, ...(id ? { KeyMaterialId: id } : {}) };
  },
};
