// EnableKeyRotation (KMS API Reference, "EnableKeyRotation").
import { DAY_MS } from '../service.ts';
import { requireNotReplica } from '../multi-region.ts';
import { KeyIdField } from '../shapes.ts';
import { requireRotatable } from './lib/rotation.ts';
import { authorizedKey, int, type Operation, reqStr } from './types.ts';

export const EnableKeyRotation: Operation = {
  name: 'EnableKeyRotation',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, RotationPeriodInDays: { t: 'int', min: 90, max: 2560 } },
  async run({ svc, caller, input, trail }) {
    const days = int(input, 'RotationPeriodInDays') ?? 365;
    const { key } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:EnableKeyRotation', { aliases: false, extra: { 'kms:RotationPeriodInDays': String(days) } });
    svc.requireEnabled(key);
    requireRotatable(key);
    requireNotReplica(key);
    const nextRotationDate = svc.clock() + days * DAY_MS;
    await svc.writeShared(key, (k) => ({ ...k, rotationEnabled: true, rotationPeriodInDays: days, nextRotationDate }));
    svc.schedule(nextRotationDate);
    return {};
  },
};
