// DisableKey (KMS API Reference, "DisableKey").
import { kmsError } from '../errors.ts';
import { KeyIdField } from '../shapes.ts';
import { type Operation, reqStr } from './types.ts';

export const DisableKey: Operation = {
  name: 'DisableKey',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:DisableKey');
    const k = r.key;
    if (k.state === 'PendingDeletion' || k.state === 'PendingImport') throw kmsError('KMSInvalidStateException', `${k.arn} is ${k.state === 'PendingDeletion' ? 'pending deletion' : 'pending import'}.`);
    await svc.store.putKey({ ...k, state: 'Disabled' });
    return {};
  },
};
