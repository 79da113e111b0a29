// Who is calling and which account a resource lives in, and what follows from that as AWS decides
// it (KMS Developer Guide, "Allowing users in other accounts to use a KMS key"; IAM User Guide,
// "Policy evaluation logic", "Cross-account policy evaluation logic"):
//
// - A principal acts in its own account: keys and aliases it creates and lists are its account's.
// - A key of another account is reachable only by its key ARN (or alias ARN where the operation
//   takes aliases), and only for the operations AWS lets cross accounts (CROSS_ACCOUNT_ACTIONS);
//   any other operation on it is denied whatever its key policy says.
// - The key policy and the caller's own identity policy decide together. Here the identity policy
//   is the credential's `allowedActions` (IAM actions with `*`/`?` wildcards; absent: every
//   action). A key-policy statement naming the caller itself (its user, role or session ARN, as
//   policy/principals.ts matches them, or `*`) in the key's own account is enough alone; one that allows through the account (`…:root`, the default policy)
//   delegates to the identity policy; across accounts both must allow. A grant whose grantee is the
//   caller itself is enough alone, one to the caller's account delegates too.
// - Operations on no key (CreateKey, ListKeys, ListAliases, GenerateRandom, ListRetirableGrants)
//   are decided by the identity policy alone.
import { AccessDeniedError } from './errors.ts';
import { wildcardMatch } from './policy/conditions.ts';
import type { PolicyDocument } from './policy/document.ts';
import type { Decider, Decision } from './policy/evaluate.ts';
import { identityOf, isAwsPrincipal, principalNamed, type Identity } from './policy/principals.ts';
import type { GrantRecord } from './model.ts';

export interface Caller {
  readonly principalArn: string;
  readonly account: string;
  readonly accessKeyId?: string;
  readonly sourceIp?: string;
  /** The identity policy: IAM actions this principal's own account allows it (absent: all). */
  readonly allowedActions?: readonly string[];
  /** The request's User-Agent header (`aws:UserAgent`). */
  readonly userAgent?: string;
  /**
   * The Region the request is for: its SigV4 credential scope (regions.ts). Keys and aliases are
   * found and made there. Absent: the KMS's default Region.
   */
  readonly region?: string;
}

/**
 * The account of an IAM or STS principal ARN (`…:root`, `…:user/…`, `…:role/…`,
 * `arn:aws:sts::…:assumed-role/…/…`, `…:federated-user/…`; policy/principals.ts's grammar);
 * undefined when it is not one.
 */
export function principalAccountOf(arn: string): string | undefined {
  return arn.startsWith('arn:') && isAwsPrincipal(arn) ? arn.split(':')[4] : undefined;
}

const ACCOUNT_ENTRY = /^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$/;

/** Whether `entries` name the caller itself (user, role, session), not only its account. */
function namesItself(entries: readonly string[], id: Identity): boolean {
  return entries.some((e) => !ACCOUNT_ENTRY.test(e) && principalNamed([e], id));
}

/**
 * Actions whose permission is effective across accounts (the "Cross-account use" column of the AWS
 * KMS permissions reference): the cryptographic operations, DescribeKey, GetPublicKey,
 * GetKeyRotationStatus and the grant operations. Any other action on another account's key fails.
 */
export const CROSS_ACCOUNT_ACTIONS: ReadonlySet<string> = new Set([
  'kms:Decrypt', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo',
  'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:Sign', 'kms:Verify', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:DeriveSharedSecret',
  'kms:DescribeKey', 'kms:GetPublicKey', 'kms:GetKeyRotationStatus',
  'kms:CreateGrant', 'kms:ListGrants', 'kms:RetireGrant', 'kms:RevokeGrant',
]);

/** Whether the caller's identity policy allows `action` (IAM action names match case-insensitively). */
export function identityAllows(caller: Caller, action: string): boolean {
  return caller.allowedActions === undefined || caller.allowedActions.some((p) => wildcardMatch(p, action, true));
}

/** Why a request was denied, when it was: each has AWS's wording in `denialMessage`. */
export type Denial = 'explicit-deny' | 'no-resource-policy' | 'no-identity-policy' | 'cross-account';

export interface Authorization {
  /** The key policy's decision with the identity policy applied: `allowed` is the final answer. */
  readonly decision: Decision;
  readonly denial?: Denial;
  /** For the audit log: why, when the key policy alone would have decided otherwise. */
  readonly detail?: string;
}

export interface AuthorizationInput {
  /** The key policy and grants' decision (policy/evaluate.ts). */
  readonly decision: Decision;
  readonly policy: PolicyDocument;
  readonly grants: readonly GrantRecord[];
  readonly caller: Caller;
  readonly resourceAccount: string;
  readonly action: string;
}

/** Applies the account rules and the identity policy to the key policy's decision (header above). */
export function authorizeWithIdentity(i: AuthorizationInput): Authorization {
  const { decision: d, caller, action } = i;
  const deny = (denial: Denial, detail?: string): Authorization => {
    const { decidedBy: _d, ...rest } = d;
    return { decision: { ...rest, allowed: false, effect: 'ImplicitDeny' }, denial, ...(detail !== undefined ? { detail } : {}) };
  };
  if (d.effect === 'ExplicitDeny') return { decision: d, denial: 'explicit-deny' };
  const crossAccount = caller.account !== i.resourceAccount;
  if (crossAccount && !CROSS_ACCOUNT_ACTIONS.has(action)) {
    return deny('cross-account', `${action} cannot be used on a KMS key of another account (caller ${caller.account}, key ${i.resourceAccount})`);
  }
  // Every source that allows, and whether it names the caller itself (enough without IAM).
  const id = identityOf(caller.principalArn, caller.account);
  const sources: { readonly by: Decider; readonly direct: boolean }[] = [];
  for (const t of d.statements) {
    if (!t.applies || t.effect !== 'Allow') continue;
    const p = i.policy.statements[t.index]?.principal;
    const direct = !crossAccount && p !== undefined && (p.any || namesItself(p.aws, id));
    sources.push({ by: { kind: 'statement', index: t.index, ...(t.sid !== undefined ? { sid: t.sid } : {}) }, direct });
  }
  const applying = d.grants.filter((t) => t.applies);
  if (applying.length > 0) {
    // Built only when a grant applies: a key may have 50,000 grants, and most calls use none.
    const granteeOf = new Map(i.grants.map((g) => [g.grantId, g.granteePrincipal]));
    for (const t of applying) sources.push({ by: { kind: 'grant', grantId: t.grantId }, direct: namesItself([granteeOf.get(t.grantId) ?? ''], id) });
  }
  if (sources.length === 0) return { decision: d, denial: 'no-resource-policy' };
  const chosen = sources.find((s) => s.direct) ?? (identityAllows(caller, action) ? sources[0] : undefined);
  if (!chosen) return deny('no-identity-policy', `the key policy allows ${action} only through the account, and the identity policy of ${caller.principalArn} does not allow it`);
  return { decision: { ...d, allowed: true, effect: 'Allow', decidedBy: chosen.by } };
}

/** AccessDeniedException for a call no key policy was evaluated for (IAM-only, another account's resource). */
export function accessDenied(caller: Caller, action: string, resource: string, denial: Denial, detail?: string): AccessDeniedError {
  return new AccessDeniedError(denialMessage(caller, action, resource, denial), { allowed: false, effect: 'ImplicitDeny', statements: [], grants: [], context: new Map() }, detail);
}

/** AWS's AccessDeniedException text for a denial. */
export function denialMessage(caller: Caller, action: string, resource: string, denial: Denial): string {
  const why =
    denial === 'explicit-deny'
      ? 'with an explicit deny in a resource-based policy'
      : denial === 'no-identity-policy'
        ? `because no identity-based policy allows the ${action} action`
        : `because no resource-based policy allows the ${action} action`;
  return `User: ${caller.principalArn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}
