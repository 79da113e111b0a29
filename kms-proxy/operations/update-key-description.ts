// UpdateKeyDescription (KMS API Reference, "UpdateKeyDescription").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const UpdateKeyDescription: Operation = {
  name: 'UpdateKeyDescription',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, Description: { t: 'string', min: 0, max: 8192, required: true } },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:UpdateKeyDescription', { aliases: false });
    svc.requireNotPendingDeletion(r.key);
    await svc.store.putKey({ ...r.key, description: reqStr(input, 'Description') });
    return {};
  },
};
