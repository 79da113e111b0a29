// Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
// ListKeyRotations (KMS Developer Guide, "Rotate AWS KMS keys"). Rotation adds a material version;
// ciphertext names its version, so old ciphertext keeps decrypting.
// Helpers shared by the rotation operations, which live one per file in operations/.
import { kmsError, messages } from '../../errors.ts';
import type { KeyRecord, KeySpec } from '../../model.ts';

export const MAX_ON_DEMAND_ROTATIONS = 25;

/**
 * Only symmetric encryption keys rotate: "Automatic key rotation is supported only on symmetric
 * encryption KMS keys" (EnableKeyRotation), "On-demand key rotation is supported only on symmetric
 * encryption KMS keys. You cannot perform on-demand rotation of asymmetric KMS keys, HMAC KMS keys"
 * (RotateKeyOnDemand). The seed file uses this rule too.
 */
export function rotatable(spec: KeySpec): boolean {
  return spec === 'SYMMETRIC_DEFAULT';
}

/** ListKeyRotations and RotateKeyOnDemand: symmetric encryption keys, with KMS-generated or imported material. */
export function requireRotatable(key: KeyRecord, message = `${key.arn} key spec ${key.keySpec} does not support rotation.`): void {
  if (!rotatable(key.keySpec)) throw kmsError('UnsupportedOperationException', message);
}

/**
 * EnableKeyRotation and DisableKeyRotation: automatic rotation, which keys with imported material
 * do not have ("You cannot enable automatic rotation of … KMS keys with imported key material").
 */
export function requireAutomaticRotation(key: KeyRecord): void {
  requireRotatable(key);
  if (key.origin !== 'AWS_KMS') throw kmsError('UnsupportedOperationException', messages.originNotValid(key.arn, key.origin));
}
