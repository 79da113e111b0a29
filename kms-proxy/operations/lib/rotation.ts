// Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
// ListKeyRotations (KMS Developer Guide, "Rotating AWS KMS keys"). Rotation adds a material
// version; ciphertext names its version, so old ciphertext keeps decrypting.
// Helpers shared by the rotation operations, which live one per file in operations/.
import { kmsError } from '../../errors.ts';
import type { KeyRecord } from '../../model.ts';

export const MAX_ON_DEMAND_ROTATIONS = 25;

export function requireRotatable(key: KeyRecord): void {
  // Only symmetric encryption keys with KMS-generated material rotate automatically.
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' && !key.keySpec.startsWith('HMAC_')) throw kmsError('UnsupportedOperationException', `${key.arn} key spec ${key.keySpec} does not support rotation.`);
  if (key.origin !== 'AWS_KMS') throw kmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
}
