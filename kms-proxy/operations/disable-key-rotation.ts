// DisableKeyRotation (KMS API Reference, "DisableKeyRotation").
import { KeyIdField } from '../shapes.ts';
import { requireRotatable, rotationKey } from './lib/rotation.ts';
import { type Operation, reqStr } from './types.ts';

export const DisableKeyRotation: Operation = {
  name: 'DisableKeyRotation',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:DisableKeyRotation');
    svc.requireEnabled(key);
    requireRotatable(key);
    const { nextRotationDate: _n, ...rest } = key;
    await svc.store.putKey({ ...rest, rotationEnabled: false });
    return {};
  },
};
