// Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
// ListKeyRotations (KMS Developer Guide, "Rotating AWS KMS keys"). Rotation adds a material
// version; ciphertext names its version, so old ciphertext keeps decrypting.
// Helpers shared by the rotation operations, which live one per file in operations/.
import { kmsError } from '../../errors.ts';
import type { KeyRecord, KeySpec } from '../../model.ts';

export const MAX_ON_DEMAND_ROTATIONS = 25;

/** Only symmetric encryption and HMAC keys rotate (the seed file uses this rule too). */
export function rotatable(spec: KeySpec): boolean {
  return spec === 'SYMMETRIC_DEFAULT' || spec.startsWith('HMAC_');
}

export function requireRotatable(key: KeyRecord): void {
  // Only symmetric encryption keys with KMS-generated material rotate automatically.
  if (!rotatable(key.keySpec)) throw kmsError('UnsupportedOperationException', `${key.arn} key spec ${key.keySpec} does not support rotation.`);
  if (key.origin !== 'AWS_KMS') throw kmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
}
