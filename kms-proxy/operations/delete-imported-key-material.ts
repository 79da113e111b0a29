// DeleteImportedKeyMaterial (KMS API Reference, "DeleteImportedKeyMaterial"); imported.ts's
// planDelete says which material goes and what state the key is left in.
import { planDelete } from '../imported.ts';
import { KeyIdField } from '../shapes.ts';
import { externalKey, KeyMaterialIdField, materialsOf } from './lib/import.ts';
import { type Operation, reqStr, str } from './types.ts';

export const DeleteImportedKeyMaterial: Operation = {
  name: 'DeleteImportedKeyMaterial',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, KeyMaterialId: KeyMaterialIdField },
  async run({ svc, caller, input, trail }) {
    // Also on a key pending deletion, whose state it leaves as it is (DeleteImportedKeyMaterial).
    const key = await externalKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:DeleteImportedKeyMaterial');
    const plan = planDelete(key, await materialsOf(svc, key), str(input, 'KeyMaterialId'));
    await svc.store.deleteMaterials(plan.key, plan.versions);
    const id = plan.material?.id;
    return { KeyId: key.arn, ...(key.keySpec === 'SYMMETRIC_DEFAULT' && id ? { KeyMaterialId: id } : {}) };
  },
};
