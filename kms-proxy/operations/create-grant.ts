// CreateGrant (KMS API Reference, "CreateGrant"; Developer Guide, "Creating grants").
import { randomBytes } from 'node:crypto';
import { kmsError } from '../errors.ts';
import type { GrantConstraints, GrantRecord } from '../model.ts';
import { isAwsPrincipal } from '../policy/principals.ts';
import type { ContextValues } from '../service.ts';
import { DryRunField, GrantTokensField, KeyIdField } from '../shapes.ts';
import { checkGrant, GRANT_OPERATIONS, NOT_FOR_AWS_RESOURCE, PrincipalField } from './lib/grants.ts';
import { authorizedKey, dryRun, list, type Operation, reqStr, str } from './types.ts';

/**
 * The condition keys a CreateGrant request supplies (KMS Developer Guide, "AWS KMS permissions",
 * CreateGrant): the grant's operations, grantee and retiring principals, constraint types, and the
 * encryption context of its constraints as kms:EncryptionContext:* / kms:EncryptionContextKeys.
 */
function grantConditionValues(operations: readonly string[], grantee: string, retiring: string | undefined, constraints: GrantConstraints | undefined): ContextValues {
  const out: Record<string, string | readonly string[]> = { 'kms:GrantOperations': operations, 'kms:GranteePrincipal': grantee, ...NOT_FOR_AWS_RESOURCE };
  if (retiring !== undefined) out['kms:RetiringPrincipal'] = retiring;
  if (constraints) {
    const types = (['EncryptionContextEquals', 'EncryptionContextSubset'] as const).filter((t) => constraints[t] !== undefined);
    if (types.length > 0) out['kms:GrantConstraintType'] = types;
    const pairs = new Map<string, Set<string>>();
    const names = new Set<string>();
    for (const t of types) {
      for (const [k, v] of Object.entries(constraints[t] ?? {})) {
        names.add(k);
        const key = `kms:EncryptionContext:${k}`;
        pairs.set(key, (pairs.get(key) ?? new Set()).add(v));
      }
    }
    for (const [k, vs] of pairs) out[k] = [...vs];
    if (names.size > 0) out['kms:EncryptionContextKeys'] = [...names];
  }
  return out;
}

function checkPrincipal(value: string, member: string): void {
  // An IAM or STS ARN of an account, user, role, role session or federated user ("Grantee principal").
  if (!value.startsWith('arn:') || !isAwsPrincipal(value)) {
    throw kmsError('ValidationException', `${member} ${value} is not a valid principal: specify the ARN of an AWS account, IAM user, IAM role, assumed-role session or federated user.`);
  }
}

export const CreateGrant: Operation = {
  name: 'CreateGrant',
  quota: 'write',
  readOnly: false,
  shape: {
    KeyId: KeyIdField,
    GranteePrincipal: PrincipalField,
    RetiringPrincipal: PrincipalField,
    GranteeServicePrincipal: PrincipalField,
    RetiringServicePrincipal: PrincipalField,
    Operations: { t: 'strings', required: true, enum: GRANT_OPERATIONS },
    Constraints: { t: 'constraints' },
    GrantTokens: GrantTokensField,
    Name: { t: 'string', min: 1, max: 256, pattern: '^[a-zA-Z0-9:/_-]+$' },
    DryRun: DryRunField,
  },
  async run({ svc, caller, input, trail }) {
    // Service principals and SourceArn constraints are for grants that AWS services use on a
    // caller's behalf; no AWS service calls this KMS.
    if (str(input, 'GranteeServicePrincipal') !== undefined || str(input, 'RetiringServicePrincipal') !== undefined || (input.Constraints as GrantConstraints | undefined)?.SourceArn !== undefined) {
      throw kmsError('UnsupportedOperationException', 'Grants to service principals and SourceArn grant constraints are not supported by this KMS: no AWS service calls it.');
    }
    const grantee = str(input, 'GranteePrincipal');
    if (grantee === undefined) throw kmsError('ValidationException', 'You must specify either GranteePrincipal or GranteeServicePrincipal.');
    checkPrincipal(grantee, 'GranteePrincipal');
    const operations = list(input, 'Operations') ?? [];
    const retiring = str(input, 'RetiringPrincipal');
    if (retiring !== undefined) checkPrincipal(retiring, 'RetiringPrincipal');
    // `Constraints: {}` constrains nothing and is not stored.
    const given = input.Constraints as GrantConstraints | undefined;
    const constraints = given && Object.keys(given).length > 0 ? given : undefined;
    // A grant that allows CreateGrant bounds the grant it creates (policy/grants.ts); the key policy does not.
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:CreateGrant', {
      aliases: false,
      extra: grantConditionValues(operations, grantee, retiring, constraints),
      more: { childGrant: { operations, ...(constraints ? { constraints } : {}) } },
    });
    svc.requireNotPendingDeletion(r.key);
    svc.requireSettled(r.key, 'allowed');
    if (operations.length === 0) throw kmsError('ValidationException', "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1");
    checkGrant(r.key, operations, constraints);
    dryRun(input);
    const name = str(input, 'Name');
    // CreateGrant is idempotent for a repeated Name with identical parameters (CreateGrant docs:
    // a retry with the same name and parameters returns the existing grant's id and token).
    if (name !== undefined) {
      for (const g of await svc.store.listGrants(r.key)) {
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
      region: r.key.region,
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
