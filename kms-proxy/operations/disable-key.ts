// DisableKey (KMS API Reference, "DisableKey").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const DisableKey: Operation = {
  name: 'DisableKey',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const { key: k } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:DisableKey', { aliases: false });
    svc.requireNotPending(k);
    await svc.store.putKey({ ...k, state: 'Disabled' });
    return {};
  },
};
