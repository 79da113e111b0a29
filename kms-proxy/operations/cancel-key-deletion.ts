// CancelKeyDeletion (KMS API Reference, "CancelKeyDeletion").
import { kmsError } from '../errors.ts';
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const CancelKeyDeletion: Operation = {
  name: 'CancelKeyDeletion',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:CancelKeyDeletion', { aliases: false });
    if (r.key.state !== 'PendingDeletion' && r.key.state !== 'PendingReplicaDeletion') throw kmsError('KMSInvalidStateException', `${r.key.arn} is not pending deletion.`);
    const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = r.key;
    // AWS leaves a cancelled key Disabled; a key without material goes back to PendingImport.
    const hasMaterial = (await svc.store.currentMaterial(r.key)) !== undefined;
    await svc.store.putKey({ ...rest, state: hasMaterial ? 'Disabled' : 'PendingImport' });
    return { KeyId: r.key.arn };
  },
};
