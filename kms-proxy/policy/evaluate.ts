// Authorization as AWS KMS decides it (KMS Developer Guide, "Determining access to a KMS key";
// IAM "Policy evaluation logic"): an explicit Deny in the key policy wins; otherwise an Allow from
// the key policy or from a grant; otherwise an implicit deny. A pure function of (policy, grants,
// request), returning a decision that names what decided and which conditions failed, so a
// caller can explain it (issue 7's `kms explain`).
//
// A key-policy principal naming an account (`arn:aws:iam::ACCOUNT:root` or `ACCOUNT`) delegates to
// IAM in AWS: here it names every principal of that account, and identity.ts then applies the
// caller's identity policy (its credential's allowedActions) and the cross-account rules.
// Who the caller is for Principal/NotPrincipal is principals.ts; ARN matching arn.ts; operators and
// policy variables conditions.ts and variables.ts; what a grant allows grants.ts.
import { resourceArnMatch } from './arn.ts';
import { evaluateClause, wildcardMatch } from './conditions.ts';
import type { Clause, PolicyDocument, PrincipalSet, Statement } from './document.ts';
import { traceGrant, type ChildGrant, type GrantTrace } from './grants.ts';
import { everyIdentityNamed, identityOf, principalNamed, type Identity } from './principals.ts';
import type { GrantRecord } from '../model.ts';

export type { GrantTrace } from './grants.ts';

/** Condition key → value(s). Keys are matched case-insensitively, as IAM condition keys are. */
export type RequestContext = ReadonlyMap<string, readonly string[]>;

export interface AuthzRequest {
  readonly principalArn: string;
  readonly principalAccount: string;
  /** `kms:Decrypt` etc. */
  readonly action: string;
  readonly resourceArn: string;
  readonly context: RequestContext;
  /** The call's encryption context, for grant constraints. */
  readonly encryptionContext?: Readonly<Record<string, string>>;
  /** CreateGrant: the grant it would create, which a grant allowing CreateGrant must bound. */
  readonly childGrant?: ChildGrant;
}

export interface ConditionOutcome {
  readonly operator: string;
  readonly key: string;
  readonly expected: readonly string[];
  readonly actual: readonly string[] | undefined;
  readonly passed: boolean;
}

export interface StatementTrace {
  readonly index: number;
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  /** Whether the statement applied to the request (principal, action, resource and conditions). */
  readonly applies: boolean;
  /** The first element that did not match, when it did not apply. */
  readonly mismatch?: 'principal' | 'action' | 'resource' | 'condition';
  readonly conditions: readonly ConditionOutcome[];
}

export type Decider = { readonly kind: 'statement'; readonly index: number; readonly sid?: string } | { readonly kind: 'grant'; readonly grantId: string };

export interface Decision {
  readonly allowed: boolean;
  readonly effect: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';
  readonly decidedBy?: Decider;
  readonly statements: readonly StatementTrace[];
  readonly grants: readonly GrantTrace[];
  /** The request context the statements were evaluated against (empty when no statement has a condition). */
  readonly context: RequestContext;
}

// Service, federated and canonical-user principals never match: no AWS service or identity
// provider calls this KMS.
function principalMatches(set: PrincipalSet, id: Identity): boolean {
  return set.any || principalNamed(set.aws, id);
}

function notPrincipalMatches(set: PrincipalSet, id: Identity): boolean {
  return !set.any && !everyIdentityNamed(set.aws, id);
}

function actionMatches(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => wildcardMatch(p, action, true));
}

function resourceMatches(patterns: readonly string[], arn: string): boolean {
  return patterns.some((p) => resourceArnMatch(p, arn));
}

function lookup(context: RequestContext, key: string): readonly string[] | undefined {
  return context.get(key.toLowerCase());
}

function evaluateConditions(conditions: readonly Clause[], context: RequestContext): ConditionOutcome[] {
  const variables = (key: string) => lookup(context, key);
  return conditions.map((c) => {
    const actual = lookup(context, c.key);
    return { operator: c.operator.name, key: c.key, expected: c.values, actual, passed: evaluateClause(c.operator, c.values, actual, c.variables ? variables : undefined) };
  });
}

function traceStatement(s: Statement, req: AuthzRequest, id: Identity): StatementTrace {
  const base = { index: s.index, ...(s.sid !== undefined ? { sid: s.sid } : {}), effect: s.effect };
  const principalOk = s.principal ? principalMatches(s.principal, id) : s.notPrincipal ? notPrincipalMatches(s.notPrincipal, id) : false;
  if (!principalOk) return { ...base, applies: false, mismatch: 'principal', conditions: [] };
  const actionOk = s.action ? actionMatches(s.action, req.action) : s.notAction ? !actionMatches(s.notAction, req.action) : false;
  if (!actionOk) return { ...base, applies: false, mismatch: 'action', conditions: [] };
  const resourceOk = s.resource ? resourceMatches(s.resource, req.resourceArn) : s.notResource ? !resourceMatches(s.notResource, req.resourceArn) : false;
  if (!resourceOk) return { ...base, applies: false, mismatch: 'resource', conditions: [] };
  const conditions = evaluateConditions(s.conditions, req.context);
  const ok = conditions.every((c) => c.passed);
  return { ...base, applies: ok, ...(ok ? {} : { mismatch: 'condition' as const }), conditions };
}

export function evaluate(policy: PolicyDocument, grants: readonly GrantRecord[], req: AuthzRequest): Decision {
  const id = identityOf(req.principalArn, req.principalAccount);
  const statements = policy.statements.map((s) => traceStatement(s, req, id));
  const deny = statements.find((t) => t.applies && t.effect === 'Deny');
  const grantTraces = grants.map((g) => traceGrant(g, { identity: id, action: req.action, ...(req.encryptionContext ? { encryptionContext: req.encryptionContext } : {}), ...(req.childGrant ? { childGrant: req.childGrant } : {}) }));
  const context = req.context;
  const decider = (t: StatementTrace): Decider => ({ kind: 'statement', index: t.index, ...(t.sid !== undefined ? { sid: t.sid } : {}) });
  if (deny) return { allowed: false, effect: 'ExplicitDeny', decidedBy: decider(deny), statements, grants: grantTraces, context };
  const allow = statements.find((t) => t.applies && t.effect === 'Allow');
  if (allow) return { allowed: true, effect: 'Allow', decidedBy: decider(allow), statements, grants: grantTraces, context };
  const grant = grantTraces.find((g) => g.applies);
  if (grant) return { allowed: true, effect: 'Allow', decidedBy: { kind: 'grant', grantId: grant.grantId }, statements, grants: grantTraces, context };
  return { allowed: false, effect: 'ImplicitDeny', statements, grants: grantTraces, context };
}
