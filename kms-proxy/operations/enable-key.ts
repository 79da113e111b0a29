// EnableKey (KMS API Reference, "EnableKey").
import { kmsError } from '../errors.ts';
import { KeyIdField } from '../shapes.ts';
import { type Operation, reqStr } from './types.ts';

export const EnableKey: Operation = {
  name: 'EnableKey',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:EnableKey');
    const k = r.key;
    if (k.state === 'PendingDeletion' || k.state === 'PendingImport') throw kmsError('KMSInvalidStateException', `${k.arn} is ${k.state === 'PendingDeletion' ? 'pending deletion' : 'pending import'}.`);
    await svc.store.putKey({ ...k, state: 'Enabled' });
    if (k.nextRotationDate !== undefined) svc.schedule(k.nextRotationDate);
    return {};
  },
};
