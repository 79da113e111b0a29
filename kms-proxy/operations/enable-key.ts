// EnableKey (KMS API Reference, "EnableKey").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const EnableKey: Operation = {
  name: 'EnableKey',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const { key: k } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:EnableKey', { aliases: false });
    svc.requireNotPending(k);
    await svc.store.putKey({ ...k, state: 'Enabled' });
    if (k.nextRotationDate !== undefined) svc.schedule(k.nextRotationDate);
    return {};
  },
};
