// ScheduleKeyDeletion (KMS API Reference, "ScheduleKeyDeletion").
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
    const deletionDate = svc.clock() + days * DAY_MS;
    await svc.store.putKey({ ...r.key, state: 'PendingDeletion', deletionDate, pendingWindowInDays: days });
    svc.schedule(deletionDate);
    return { KeyId: r.key.arn, DeletionDate: deletionDate / 1000, KeyState: 'PendingDeletion', PendingWindowInDays: days };
  },
};
