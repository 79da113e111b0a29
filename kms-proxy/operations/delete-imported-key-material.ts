// DeleteImportedKeyMaterial (KMS API Reference, "DeleteImportedKeyMaterial").
import { KeyIdField } from '../shapes.ts';
import { externalKey } from './lib/import.ts';
import { type Operation, reqStr } from './types.ts';

export const DeleteImportedKeyMaterial: Operation = {
  name: 'DeleteImportedKeyMaterial',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, KeyMaterialId: { t: 'string', min: 64, max: 64 } },
  async run({ svc, caller, input, trail }) {
    const key = await externalKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:DeleteImportedKeyMaterial');
    const { validTo: _v, expirationModel: _e, ...rest } = key;
    await svc.store.deleteMaterials({ ...rest, state: 'PendingImport' });
    return { KeyId: key.arn };
  },
};
