// DisableKeyRotation (KMS API Reference, "DisableKeyRotation").
import { requireNotReplica } from '../multi-region.ts';
import { KeyIdField } from '../shapes.ts';
import { requireRotatable } from './lib/rotation.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const DisableKeyRotation: Operation = {
  name: 'DisableKeyRotation',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const { key } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:DisableKeyRotation', { aliases: false });
    svc.requireEnabled(key);
    requireRotatable(key);
    requireNotReplica(key);
    await svc.writeShared(key, ({ nextRotationDate: _n, ...rest }) => ({ ...rest, rotationEnabled: false }));
    return {};
  },
};
