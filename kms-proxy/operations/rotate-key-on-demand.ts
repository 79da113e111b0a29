// RotateKeyOnDemand (KMS API Reference, "RotateKeyOnDemand"): KMS-generated material gets a new
// version (a multi-Region primary's replicas with it); imported material rotates to the material
// imported for it (imported.ts's planRotation).
import { kmsError, messages } from '../errors.ts';
import { importedRotations, planRotation } from '../imported.ts';
import { requireNotReplica } from '../multi-region.ts';
import { KeyIdField } from '../shapes.ts';
import { materialsOf } from './lib/import.ts';
import { MAX_ON_DEMAND_ROTATIONS, requireRotatable } from './lib/rotation.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const RotateKeyOnDemand: Operation = {
  name: 'RotateKeyOnDemand',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const { key } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:RotateKeyOnDemand', { aliases: false });
    // No message: AWS sends none for a key that is not a symmetric encryption key (localstack's
    // test_kms.snapshot.json, test_rotate_key_on_demand_raises_error_given_non_symmetric_key).
    requireRotatable(key, '');
    svc.requireEnabled(key);
    requireNotReplica(key);
    const materials = key.origin === 'EXTERNAL' ? undefined : await svc.store.listMaterials(key);
    const done = materials ? materials.filter((m) => m.rotationType === 'ON_DEMAND').length : importedRotations(key);
    if (done >= MAX_ON_DEMAND_ROTATIONS) throw kmsError('LimitExceededException', messages.onDemandRotationLimit(key.arn));
    if (!materials) await svc.store.putKey(planRotation(key, await materialsOf(svc, key), svc.clock()));
    else await svc.rotate(key, 'ON_DEMAND');
    return { KeyId: key.arn };
  },
};
