// UpdatePrimaryRegion (KMS API Reference, "UpdatePrimaryRegion"): the replica in PrimaryRegion becomes
// the primary key and the primary a replica, in one store transaction. Both are Updating for
// `transientStateMs` (AWS: "a few more seconds"), usable in cryptographic operations meanwhile, and
// then back in the state each had.
import { kmsError } from '../errors.ts';
import { requirePrimary, settled, transient } from '../multi-region.ts';
import { KeyIdField } from '../shapes.ts';
import { RegionField } from './replicate-key.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const UpdatePrimaryRegion: Operation = {
  name: 'UpdatePrimaryRegion',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, PrimaryRegion: RegionField },
  async run({ svc, caller, input, trail }) {
    const target = reqStr(input, 'PrimaryRegion');
    const extra = { 'kms:PrimaryRegion': target };
    // Required permissions: kms:UpdatePrimaryRegion in the key policies of the primary and of the replica.
    const { key: primary } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:UpdatePrimaryRegion', { aliases: false, extra });
    requirePrimary(primary);
    svc.requireSettled(primary, 'allowed');
    svc.requireEnabled(primary);
    if (target === primary.region) throw kmsError('ValidationException', `${primary.arn} is already the primary key: PrimaryRegion must be the Region of one of its replica keys.`);
    // "There must be an existing replica key in this Region."
    const replica = (await svc.store.relatedKeys(primary.keyId)).find((k) => k.region === target && k.multiRegionKeyType === 'REPLICA');
    if (!replica) throw kmsError('NotFoundException', `Key '${svc.keyArn({ account: primary.account, region: target }, primary.keyId)}' does not exist`);
    await svc.authorize({ key: replica }, caller, 'kms:UpdatePrimaryRegion', extra);
    svc.requireSettled(replica);
    svc.requireNotPendingDeletion(replica);
    const now = svc.clock();
    const at = now + svc.transientStateMs;
    const was = settled(primary);
    const newPrimary = transient({ ...replica, multiRegionKeyType: 'PRIMARY' }, 'Updating', replica.state, at, now);
    const newReplica = transient({ ...was, multiRegionKeyType: 'REPLICA' }, 'Updating', was.state, at, now);
    await svc.store.writeKeys({ put: [newReplica, newPrimary] });
    if (at > now) svc.schedule(at);
    return {};
  },
};
