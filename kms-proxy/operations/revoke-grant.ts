// RevokeGrant (KMS API Reference, "RevokeGrant").
import { kmsError } from '../errors.ts';
import { DryRunField, KeyIdField } from '../shapes.ts';
import { GrantIdField, NOT_FOR_AWS_RESOURCE } from './lib/grants.ts';
import { authorizedKey, dryRun, type Operation, reqStr } from './types.ts';

export const RevokeGrant: Operation = {
  name: 'RevokeGrant',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, GrantId: GrantIdField, DryRun: DryRunField },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:RevokeGrant', { aliases: false, extra: NOT_FOR_AWS_RESOURCE });
    const g = await svc.store.getGrant(reqStr(input, 'GrantId'));
    if (!g || g.keyId !== r.key.keyId || g.region !== r.key.region) throw kmsError('NotFoundException', 'Grant ID not found');
    dryRun(input);
    await svc.store.deleteGrant(g.grantId);
    return {};
  },
};
