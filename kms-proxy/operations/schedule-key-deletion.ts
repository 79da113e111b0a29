// ScheduleKeyDeletion (KMS API Reference, "ScheduleKeyDeletion").
import { replicasOf } from '../multi-region.ts';
import { DAY_MS } from '../service.ts';
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const ScheduleKeyDeletion: Operation = {
  name: 'ScheduleKeyDeletion',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, PendingWindowInDays: { t: 'int', min: 7, max: 30 } },
  async run({ svc, caller, input, trail }) {
    const days = (input.PendingWindowInDays as number | undefined) ?? 30;
    // Supplied with its default when omitted (KMS Developer Guide, "AWS KMS condition keys": request conditions "work even when the parameter doesn't appear in the request").
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ScheduleKeyDeletion', { aliases: false, extra: { 'kms:ScheduleKeyDeletionPendingWindowInDays': String(days) } });
    svc.requireNotPendingDeletion(r.key);
    // A replica still Creating may be scheduled; keys Updating their primary Region may not.
    if (r.key.state === 'Updating') svc.requireSettled(r.key);
    const { settles: _s, ...key } = r.key;
    // "KMS will not delete a multi-Region primary key with existing replica keys": it waits in
    // PendingReplicaDeletion, its window starting when the last replica is deleted (service.ts).
    if (key.multiRegionKeyType === 'PRIMARY' && replicasOf(await svc.store.relatedKeys(key.keyId)).length > 0) {
      await svc.store.putKey({ ...key, state: 'PendingReplicaDeletion', pendingWindowInDays: days });
      return { KeyId: key.arn, KeyState: 'PendingReplicaDeletion', PendingWindowInDays: days };
    }
    const deletionDate = svc.clock() + days * DAY_MS;
    await svc.store.putKey({ ...key, state: 'PendingDeletion', deletionDate, pendingWindowInDays: days });
    svc.schedule(deletionDate);
    return { KeyId: key.arn, DeletionDate: deletionDate / 1000, KeyState: 'PendingDeletion', PendingWindowInDays: days };
  },
};
