// GetKeyRotationStatus (KMS API Reference, "GetKeyRotationStatus").
import { KeyIdField } from '../shapes.ts';
import { rotationKey } from './lib/rotation.ts';
import { type Operation, reqStr } from './types.ts';

export const GetKeyRotationStatus: Operation = {
  name: 'GetKeyRotationStatus',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:GetKeyRotationStatus');
    svc.requireNotPendingDeletion(key);
    return {
      KeyRotationEnabled: key.rotationEnabled,
      KeyId: key.arn,
      ...(key.rotationEnabled ? { RotationPeriodInDays: key.rotationPeriodInDays, NextRotationDate: (key.nextRotationDate ?? 0) / 1000 } : {}),
    };
  },
};
