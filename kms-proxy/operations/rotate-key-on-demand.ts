// RotateKeyOnDemand (KMS API Reference, "RotateKeyOnDemand").
import { kmsError } from '../errors.ts';
import { requireNotReplica } from '../multi-region.ts';
import { KeyIdField } from '../shapes.ts';
import { MAX_ON_DEMAND_ROTATIONS, requireRotatable } from './lib/rotation.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const RotateKeyOnDemand: Operation = {
  name: 'RotateKeyOnDemand',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const { key } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:RotateKeyOnDemand', { aliases: false });
    svc.requireEnabled(key);
    requireRotatable(key);
    requireNotReplica(key);
    const materials = await svc.store.listMaterials(key);
    if (materials.filter((m) => m.rotationType === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
      throw kmsError('LimitExceededException', `${key.arn} has reached the maximum number of on-demand rotations (${MAX_ON_DEMAND_ROTATIONS}).`);
    }
    await svc.rotate(key, 'ON_DEMAND');
    return { KeyId: key.arn };
  },
};
