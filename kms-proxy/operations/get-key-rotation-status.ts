// GetKeyRotationStatus (KMS API Reference, "GetKeyRotationStatus").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const GetKeyRotationStatus: Operation = {
  name: 'GetKeyRotationStatus',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const { key } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:GetKeyRotationStatus', { aliases: false });
    svc.requireNotPendingDeletion(key);
    return {
      KeyRotationEnabled: key.rotationEnabled,
      KeyId: key.arn,
      ...(key.rotationEnabled ? { RotationPeriodInDays: key.rotationPeriodInDays, NextRotationDate: (key.nextRotationDate ?? 0) / 1000 } : {}),
    };
  },
};
