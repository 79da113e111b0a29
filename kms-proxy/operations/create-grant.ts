// CreateGrant (KMS API Reference, "CreateGrant").
import { randomBytes } from 'node:crypto';
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
    // `Constraints: {}` constrains nothing and is not stored.
    const given = input.Constraints as GrantConstraints | undefined;
    const constraints = given && Object.keys(given).length > 0 ? given : undefined;
    dryRun(input);
    const name = str(input, 'Name');
    // CreateGrant is idempotent for a repeated Name with identical parameters (CreateGrant docs:
    // a retry with the same name and parameters returns the existing grant's id and token).
    if (name !== undefined) {
      for (const g of await svc.store.listGrants(r.key.keyId)) {
        if (g.name === name && g.granteePrincipal === grantee && g.retiringPrincipal === retiring && sameSet(g.operations, operations) && sameConstraints(g.constraints, constraints)) {
          return { GrantToken: g.grantToken, GrantId: g.grantId };
        }
      }
    }
    // 64 hex characters (256 random bits), the length of AWS's grant ids.
    const grantId = randomBytes(32).toString('hex');
    // 64 base64url characters: the shape server.ts accepts in GrantTokens.
    const grantToken = randomBytes(48).toString('base64url');
    const g: GrantRecord = {
      grantId,
      keyId: r.key.keyId,
      ...(name !== undefined ? { name } : {}),
      granteePrincipal: grantee,
      ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
      // Grants are issued in the key's account, whoever creates them (cross-account CreateGrant).
      issuingAccount: r.key.account,
      operations,
      ...(constraints ? { constraints } : {}),
      creationDate: svc.clock(),
      grantToken,
    };
    await svc.store.putGrant(g, { maxPerKey: svc.limits.grantsPerKey });
    return { GrantToken: grantToken, GrantId: grantId };
  },
};

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}

function sameContext(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * Same constraints, whatever the order of the context entries. An empty EncryptionContextEquals is
 * not the same as none: it admits only an empty encryption context (policy/evaluate.ts).
 */
function sameConstraints(a: GrantConstraints | undefined, b: GrantConstraints | undefined): boolean {
  return sameContext(a?.EncryptionContextEquals, b?.EncryptionContextEquals) && sameContext(a?.EncryptionContextSubset, b?.EncryptionContextSubset);
}
