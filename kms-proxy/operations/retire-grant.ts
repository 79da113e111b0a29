// RetireGrant (KMS API Reference, "RetireGrant").
import { kmsError } from '../errors.ts';
import type { GrantRecord } from '../model.ts';
import { DryRunField } from '../shapes.ts';
import { dryRun, type Operation, str } from './types.ts';

export const RetireGrant: Operation = {
  name: 'RetireGrant',
  quota: 'write',
  readOnly: false,
  shape: { GrantToken: { t: 'string', min: 1, max: 8192 }, KeyId: { t: 'string', min: 1, max: 2048 }, GrantId: { t: 'string', min: 1, max: 128 }, DryRun: DryRunField },
  async run({ svc, caller, input, trail }) {
    const token = str(input, 'GrantToken');
    const keyIdIn = str(input, 'KeyId');
    const grantId = str(input, 'GrantId');
    let grant: GrantRecord | undefined;
    if (token !== undefined) {
      grant = await svc.store.getGrantByToken(token);
      if (!grant) throw kmsError('InvalidGrantTokenException', 'The grant token is not valid.');
    } else {
      if (keyIdIn === undefined || grantId === undefined) throw kmsError('ValidationException', 'Either GrantToken or both KeyId and GrantId must be specified.');
      const r = await svc.resolve(keyIdIn, caller, { aliases: false });
      grant = await svc.store.getGrant(grantId);
      if (!grant || grant.keyId !== r.key.keyId) throw kmsError('InvalidGrantIdException', 'Grant ID not found');
    }
    const keyArn = (await svc.store.getKey(grant.keyId))?.arn ?? grant.keyId;
    trail.keyArn = keyArn;
    // Who may retire (RetireGrant docs): the retiring principal, or the grantee when the grant
    // includes RetireGrant.
    const may = grant.retiringPrincipal === caller.principalArn || (grant.granteePrincipal === caller.principalArn && grant.operations.includes('RetireGrant'));
    if (!may) throw kmsError('AccessDeniedException', `User: ${caller.principalArn} is not authorized to perform: kms:RetireGrant on resource: ${keyArn}`);
    dryRun(input);
    await svc.store.deleteGrant(grant.grantId);
    return {};
  },
};
