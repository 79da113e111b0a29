// EnableKeyRotation (KMS API Reference, "EnableKeyRotation").
import { DAY_MS } from '../service.ts';
import { KeyIdField } from '../shapes.ts';
import { requireRotatable, rotationKey } from './lib/rotation.ts';
import { int, type Operation, reqStr } from './types.ts';

export const EnableKeyRotation: Operation = {
  name: 'EnableKeyRotation',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, RotationPeriodInDays: { t: 'int', min: 90, max: 2560 } },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:EnableKeyRotation');
    svc.requireEnabled(key);
    requireRotatable(key);
    const days = int(input, 'RotationPeriodInDays') ?? 365;
    const nextRotationDate = svc.clock() + days * DAY_MS;
    await svc.store.putKey({ ...key, rotationEnabled: true, rotationPeriodInDays: days, nextRotationDate });
    svc.schedule(nextRotationDate);
    return {};
  },
};
