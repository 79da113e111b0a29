// When a key next needs maintenance (service.ts runs it): the end of its deletion window, the expiry
// of imported material (ValidTo), its next automatic rotation, or the end of a transient state
// (a replica Creating, keys Updating their primary Region). A key store indexes this date, so a
// maintenance run reads only the keys that are due, never every key.
import type { KeyRecord } from './model.ts';

/** The earliest date (epoch ms) at which maintenance has something to do for `key`, if any. */
export function maintenanceDue(key: KeyRecord): number | undefined {
  // A key waiting to be deleted only waits for its deletion date (no expiry, no rotation).
  if (key.state === 'PendingDeletion') return key.deletionDate;
  let due: number | undefined;
  const consider = (t: number | undefined) => {
    if (t !== undefined && (due === undefined || t < due)) due = t;
  };
  consider(key.settles?.at);
  if (key.expirationModel === 'KEY_MATERIAL_EXPIRES' && key.state !== 'PendingImport') consider(key.validTo);
  // Disabled keys do not rotate; enabling one writes its record again, which makes it due. A
  // multi-Region key rotates from its primary, which gives its replicas the new material.
  if (key.rotationEnabled && key.state === 'Enabled' && key.multiRegionKeyType !== 'REPLICA') consider(key.nextRotationDate);
  return due;
}
