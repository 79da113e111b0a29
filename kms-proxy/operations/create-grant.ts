// CreateGrant (KMS API Reference, "CreateGrant").
import { createHash, randomBytes } from 'node:crypto';
import { kmsError } from '../errors.ts';
import type { GrantConstraints, GrantRecord } from '../model.ts';
import { DryRunField, GrantTokensField, KeyIdField } from '../shapes.ts';
import { GRANT_OPERATIONS, PrincipalField } from './lib/grants.ts';
import { authorizedKey, dryRun, list, type Operation, reqStr, str } from './types.ts';

export const CreateGrant: Operation = {
  name: 'CreateGrant',
  quota: 'write',
  readOnly: false,
  shape: {
    KeyId: KeyIdField,
    GranteePrincipal: { ...PrincipalField, required: true },
    RetiringPrincipal: PrincipalField,
    Operations: { t: 'strings', required: true, enum: GRANT_OPERATIONS },
    Constraints: { t: 'constraints' },
    GrantTokens: GrantTokensField,
    Name: { t: 'string', min: 1, max: 256, pattern: '^[a-zA-Z0-9:/_-]+$' },
    DryRun: DryRunField,
  },
  async run({ svc, caller, input, trail }) {
    const operations = list(input, 'Operations') ?? [];
    const grantee = reqStr(input, 'GranteePrincipal');
    const retiring = str(input, 'RetiringPrincipal');
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:CreateGrant', {
      aliases: false,
      extra: { 'kms:GrantOperations': operations, 'kms:GranteePrincipal': grantee, 'kms:RetiringPrincipal': retiring, 'kms:GrantIsForAWSResource': 'false' },
    });
    svc.requireNotPendingDeletion(r.key);
    if (operations.length === 0) throw kmsError('ValidationException', "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1");
    const constraints = input.Constraints as GrantConstraints | undefined;
    dryRun(input);
    const name = str(input, 'Name');
    const record = { keyId: r.key.keyId, granteePrincipal: grantee, retiringPrincipal: retiring, operations: [...operations].sort(), constraints, name };
    // CreateGrant is idempotent for a repeated Name with identical parameters (CreateGrant docs).
    if (name !== undefined) {
      for (const g of await svc.store.listGrants(r.key.keyId)) {
        if (g.name === name && JSON.stringify({ ...record, operations: [...g.operations].sort(), constraints: g.constraints, retiringPrincipal: g.retiringPrincipal, granteePrincipal: g.granteePrincipal }) === JSON.stringify(record)) {
          return { GrantToken: g.grantToken, GrantId: g.grantId };
        }
      }
    }
    const grantId = createHash('sha256').update(randomBytes(32)).digest('hex');
    // 64 base64url characters: the shape server.ts accepts in GrantTokens.
    const grantToken = randomBytes(48).toString('base64url');
    const g: GrantRecord = {
      grantId,
      keyId: r.key.keyId,
      ...(name !== undefined ? { name } : {}),
      granteePrincipal: grantee,
      ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
      issuingAccount: svc.account,
      operations,
      ...(constraints && Object.keys(constraints).length > 0 ? { constraints } : {}),
      creationDate: svc.clock(),
      grantToken,
    };
    await svc.store.putGrant(g);
    return { GrantToken: grantToken, GrantId: grantId };
  },
};
