// RetireGrant (KMS API Reference, "RetireGrant").
import { kmsError } from '../errors.ts';
import type { GrantRecord } from '../model.ts';
import { identityAllows, namesItself } from '../identity.ts';
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
    // Who may retire, as AWS documents it today (KMS Developer Guide, "Retiring and revoking
    // grants"; API Reference, "RetireGrant"): the grant's retiring principal; its grantee principal
    // "only if … the grant includes the RetireGrant operation"; and, "as a backup, the AWS account in
    // which the grant was created", which "can delegate the kms:RetireGrant permission to an IAM
    // principal in the account". A principal the grant names itself needs no IAM permission
    // ("Principals specified in the grant can retire a grant without the kms:RetireGrant
    // permission"); an account named in the grant, and the issuing account, delegate to their
    // principals through the identity policy (identity.ts). A key policy does not decide it ("not
    // effective in a key policy"). So a grantee without RetireGrant in the grant retires it only as a
    // principal of the issuing account allowed kms:RetireGrant, which is how localstack's recording
    // (test_retire_grant_with_grant_token: an administrator retiring the grant it is grantee of)
    // succeeds against AWS; a grantee of another account does not.
    const id = identityOf(caller.principalArn, caller.account);
    const delegated = identityAllows(caller, 'kms:RetireGrant');
    const names = (p: string) => namesItself([p], id) || (delegated && principalNamed([p], id));
    const may =
      (grant.retiringPrincipal !== undefined && names(grant.retiringPrincipal)) ||
      (grant.operations.includes('RetireGrant') && names(grant.granteePrincipal)) ||
      (caller.account === grant.issuingAccount && (id.type === 'Account' || delegated));
    if (!may) throw kmsError('AccessDeniedException', `User: ${caller.principalArn} is not authorized to perform: kms:RetireGrant on resource: ${keyArn}`);
    dryRun(input);
    await svc.store.deleteGrant(grant.grantId);
    return {};
  },
};
