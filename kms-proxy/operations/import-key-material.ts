// ImportKeyMaterial (KMS API Reference, "ImportKeyMaterial"); what it does to the key's materials is
// imported.ts's planImport.
import { kmsError } from '../errors.ts';
import { materialDigest, materialIdOf, planImport } from '../imported.ts';
import { KeyIdField } from '../shapes.ts';
import { externalKey, KeyMaterialDescriptionField, KeyMaterialIdField, material, materialsOf, unwrap } from './lib/import.ts';
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
    KeyMaterialDescription: KeyMaterialDescriptionField,
    KeyMaterialId: KeyMaterialIdField,
  },
  async run({ svc, caller, input, trail }) {
    const validToIn = input.ValidTo as number | undefined;
    // "The default is KEY_MATERIAL_EXPIRES" (ImportKeyMaterial, ExpirationModel), so a request with
    // neither member needs a ValidTo (localstack's test_kms.snapshot.json, test_import_key_symmetric:
    // import-expiring-key-without-valid-to).
    const model = (str(input, 'ExpirationModel') ?? 'KEY_MATERIAL_EXPIRES') as 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
    const key = await externalKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ImportKeyMaterial', {
      'kms:ExpirationModel': model,
      // Epoch seconds, as the request has it ("kms:ValidTo … is expressed in Unix time").
      ...(validToIn !== undefined ? { 'kms:ValidTo': String(validToIn) } : {}),
    });
    svc.requireNotPendingDeletion(key);
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
    const importType = str(input, 'ImportType');
    const keyMaterialId = str(input, 'KeyMaterialId');
    const description = str(input, 'KeyMaterialDescription');
    const plan = planImport(key, await materialsOf(svc, key), {
      digest: materialDigest(secret),
      id: materialIdOf(key.keyId, secret),
      expirationModel: model,
      ...(validTo !== undefined ? { validTo } : {}),
      ...(importType !== undefined ? { importType } : {}),
      ...(keyMaterialId !== undefined ? { keyMaterialId } : {}),
      ...(description !== undefined ? { description } : {}),
    });
    const m = plan.material;
    if (plan.store) await svc.store.addMaterial(plan.key, { keyId: key.keyId, version: m.version, id: m.id, createdAt: svc.clock(), secret });
    else await svc.store.putKey(plan.key);
    if (validTo !== undefined) svc.schedule(validTo);
    // KeyMaterialId names material of symmetric encryption keys only, as CurrentKeyMaterialId does.
    return { KeyId: key.arn, ...(key.keySpec === 'SYMMETRIC_DEFAULT' ? { KeyMaterialId: m.id } : {}) };
  },
};
