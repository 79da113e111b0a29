// RetireGrant (KMS API Reference, "RetireGrant").
import { kmsError } from '../errors.ts';
import type { GrantRecord } from '../model.ts';
import { identityOf, principalNamed } from '../policy/principals.ts';
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
      // A grant token is of its key's Region, as the grant is.
      if (!grant || grant.region !== svc.regionOf(caller)) throw kmsError('InvalidGrantTokenException', 'The grant token is not valid.');
    } else {
      if (keyIdIn === undefined || grantId === undefined) throw kmsError('ValidationException', 'Either GrantToken or both KeyId and GrantId must be specified.');
      const r = await svc.resolve(keyIdIn, caller, { aliases: false });
      grant = await svc.store.getGrant(grantId);
      if (!grant || grant.keyId !== r.key.keyId || grant.region !== r.key.region) throw kmsError('InvalidGrantIdException', 'Grant ID not found');
    }
    const keyArn = (await svc.store.getKey(grant))?.arn ?? grant.keyId;
    trail.keyArn = keyArn;
    // Who may retire ("Retiring and revoking grants"): the retiring principal, the grantee when the
    // grant includes RetireGrant, and, as a backup, the account that created the grant (its root
    // here: this KMS has no IAM policies to delegate kms:RetireGrant to its users). A key policy does
    // not decide RetireGrant ("This permission is not effective in a key policy").
    const id = identityOf(caller.principalArn, caller.account);
    const may =
      (grant.retiringPrincipal !== undefined && principalNamed([grant.retiringPrincipal], id)) ||
      (grant.operations.includes('RetireGrant') && principalNamed([grant.granteePrincipal], id)) ||
      (id.type === 'Account' && caller.account === grant.issuingAccount);
    if (!may) throw kmsError('AccessDeniedException', `User: ${caller.principalArn} is not authorized to perform: kms:RetireGrant on resource: ${keyArn}`);
    dryRun(input);
    await svc.store.deleteGrant(grant.grantId);
    return {};
  },
};
