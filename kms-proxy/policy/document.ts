// Key policy documents: parsed and validated once into a normalized form. Anything that is not a
// well-formed key policy is MalformedPolicyDocumentException, as AWS answers PutKeyPolicy/CreateKey.
import { kmsError } from '../errors.ts';
import { parseOperator, takesVariables, type ParsedOperator } from './conditions.ts';
import { isAwsPrincipal } from './principals.ts';
import { hasVariables, parseVariables } from './variables.ts';

export interface PrincipalSet {
  /** `"*"` or `{"AWS":"*"}`: anyone. */
  readonly any: boolean;
  /** IAM ARNs and account ids from `"AWS"`. */
  readonly aws: readonly string[];
  readonly service: readonly string[];
}

export interface Clause {
  readonly operator: ParsedOperator;
  readonly key: string;
  readonly values: readonly string[];
  /** Whether `${…}` in the values are policy variables (Version 2012-10-17 and an operator that takes them). */
  readonly variables: boolean;
}

export interface Statement {
  readonly index: number;
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  readonly principal?: PrincipalSet;
  readonly notPrincipal?: PrincipalSet;
  readonly action?: readonly string[];
  readonly notAction?: readonly string[];
  readonly resource?: readonly string[];
  readonly notResource?: readonly string[];
  readonly conditions: readonly Clause[];
}

export interface PolicyDocument {
  readonly version: string;
  readonly statements: readonly Statement[];
}

function malformed(message: string): never {
  throw kmsError('MalformedPolicyDocumentException', message);
}

function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) malformed(`Policy contains a statement with an empty ${what}.`);
  return list.map((x) => {
    if (typeof x !== 'string' || x === '') malformed(`Policy contains a statement with an invalid ${what}.`);
    return x;
  });
}

const INVALID_PRINCIPALS = 'Policy contains a statement with one or more invalid principals.';

/**
 * The Principal element (IAM User Guide, "AWS JSON policy elements: Principal"): `"*"` or
 * `{"AWS": "*"}` for everyone; otherwise accounts and IAM/STS principal ARNs under `AWS`, and
 * service, federated or canonical-user principals under their keys. A wildcard anywhere else is
 * refused ("You cannot use a wildcard to match part of a principal name or ARN"; Access Analyzer
 * error "Unsupported wildcard in principal"), as is any other shape: accepting `…:user/*` would make
 * a statement that silently matches nobody.
 */
function principals(v: unknown): PrincipalSet {
  if (v === '*') return { any: true, aws: [], service: [] };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) malformed(INVALID_PRINCIPALS);
  let any = false;
  const aws: string[] = [];
  const service: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'AWS') {
      for (const p of strings(val, 'principal')) {
        if (p === '*') any = true;
        else if (isAwsPrincipal(p)) aws.push(p);
        else malformed(INVALID_PRINCIPALS);
      }
    } else if (k === 'Service' || k === 'Federated' || k === 'CanonicalUser') {
      for (const p of strings(val, 'principal')) {
        if (/[*?\s]/.test(p)) malformed(INVALID_PRINCIPALS);
        service.push(p);
      }
    } else {
      malformed(INVALID_PRINCIPALS);
    }
  }
  return { any, aws, service };
}

function conditionValues(v: unknown): string[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    return malformed('Policy contains a condition with an invalid value.');
  });
}

const CONDITION_KEY = /^[A-Za-z0-9-]+:.+$/;

/**
 * A condition key as IAM accepts it: `prefix:name` (Access Analyzer error "Invalid condition key
 * format"), at most once per operator block whatever its case ("Duplicate keys with different case":
 * key names are not case-sensitive, so two spellings would be one key with two conflicting clauses),
 * and never `ForAllValues` on the single-valued `kms:EncryptionContext:*` or `aws:RequestTag/*`: KMS
 * refuses that as OverlyPermissiveCondition (KMS Developer Guide, "AWS KMS condition keys", "Using
 * set operators with condition keys"): it matches requests without the pair, or with other pairs.
 */
function checkConditionKey(key: string, operator: ParsedOperator, seen: Map<string, string>): void {
  if (!CONDITION_KEY.test(key)) malformed(`Policy contains a condition with an invalid condition key '${key}'.`);
  const lower = key.toLowerCase();
  const before = seen.get(lower);
  if (before !== undefined) malformed(`The condition key ${key} appears more than once with different capitalization in the same condition block.`);
  seen.set(lower, key);
  if (operator.set === 'ForAllValues') {
    if (lower.startsWith('kms:encryptioncontext:')) {
      malformed('OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified encryption context or with an unspecified encryption context. To fix, remove ForAllValues.');
    }
    if (lower.startsWith('aws:requesttag/')) {
      malformed('OverlyPermissiveCondition:RequestTag: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified tag or with an unspecified tag. To fix, remove ForAllValues.');
    }
  }
}

/**
 * The IAM policy grammar lets a statement name its principals, actions and resources either way
 * (`Principal` or `NotPrincipal`, …) but not both ways at once; each fault gets its own message.
 */
function exactlyOne(st: Record<string, unknown>, element: string, notElement: string, missing: string): void {
  const has = st[element] !== undefined;
  const hasNot = st[notElement] !== undefined;
  if (has && hasNot) malformed(`Policy contains a statement with both ${element} and ${notElement}.`);
  if (!has && !hasNot) malformed(missing);
}

const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);

/** Parses and validates a key policy; throws MalformedPolicyDocumentException. */
export function parsePolicy(text: string): PolicyDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    malformed('The policy is not valid JSON.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) malformed('The policy must be a JSON object.');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!['Version', 'Id', 'Statement'].includes(k)) malformed(`Policy document contains an unknown element '${k}'.`);
  const version = d.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17') malformed('The policy document contains an invalid Version.');
  if (d.Statement === undefined) malformed('Policy document is missing a Statement.');
  const raw = Array.isArray(d.Statement) ? d.Statement : [d.Statement];
  if (raw.length === 0) malformed('Policy document has no statements.');
  const sids = new Set<string>();
  const statements = raw.map((s, index): Statement => {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) malformed('Policy contains a statement that is not a JSON object.');
    const st = s as Record<string, unknown>;
    for (const k of Object.keys(st)) if (!STATEMENT_FIELDS.has(k)) malformed(`Policy contains a statement with an unknown element '${k}'.`);
    if (st.Sid !== undefined) {
      if (typeof st.Sid !== 'string') malformed('Policy contains a statement with an invalid Sid.');
      if (sids.has(st.Sid)) malformed('Statement IDs (SID) in a single policy must be unique.');
      sids.add(st.Sid);
    }
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') malformed('Policy contains a statement with an invalid Effect.');
    exactlyOne(st, 'Principal', 'NotPrincipal', 'Policy contains a statement with no principal.');
    // "Most resource-based policy types do not allow the use of NotPrincipal with "Effect": "Allow""
    // (IAM User Guide, "NotPrincipal"): it would allow everyone else, anonymous callers included.
    if (st.NotPrincipal !== undefined && st.Effect === 'Allow') malformed('Policy contains a statement with NotPrincipal and "Effect": "Allow", which is not supported.');
    exactlyOne(st, 'Action', 'NotAction', 'Policy contains a statement with no Action.');
    exactlyOne(st, 'Resource', 'NotResource', 'Policy contains a statement with no Resource.');
    const conditions: Clause[] = [];
    if (st.Condition !== undefined) {
      if (st.Condition === null || typeof st.Condition !== 'object' || Array.isArray(st.Condition)) malformed('Policy contains an invalid Condition.');
      for (const [opName, block] of Object.entries(st.Condition as Record<string, unknown>)) {
        const operator = parseOperator(opName);
        if (!operator) malformed(`Policy contains a condition with an unsupported operator '${opName}'.`);
        if (block === null || typeof block !== 'object' || Array.isArray(block)) malformed('Policy contains an invalid Condition.');
        const seen = new Map<string, string>();
        for (const [key, vals] of Object.entries(block as Record<string, unknown>)) {
          checkConditionKey(key, operator, seen);
          const values = conditionValues(vals);
          const variables = version === '2012-10-17' && takesVariables(operator) && values.some(hasVariables);
          if (variables) {
            for (const v of values) {
              const parsed = parseVariables(v);
              if (typeof parsed === 'string') malformed(`Policy contains a condition with an invalid policy variable. ${parsed}`);
            }
          }
          conditions.push({ operator, key, values, variables });
        }
      }
    }
    return {
      index,
      ...(typeof st.Sid === 'string' ? { sid: st.Sid } : {}),
      effect: st.Effect,
      ...(st.Principal !== undefined ? { principal: principals(st.Principal) } : {}),
      ...(st.NotPrincipal !== undefined ? { notPrincipal: principals(st.NotPrincipal) } : {}),
      ...(st.Action !== undefined ? { action: strings(st.Action, 'Action') } : {}),
      ...(st.NotAction !== undefined ? { notAction: strings(st.NotAction, 'NotAction') } : {}),
      ...(st.Resource !== undefined ? { resource: strings(st.Resource, 'Resource') } : {}),
      ...(st.NotResource !== undefined ? { notResource: strings(st.NotResource, 'NotResource') } : {}),
      conditions,
    };
  });
  return { version: String(version), statements };
}

/** The policy AWS attaches when CreateKey gets none: the account root may do everything. */
export function defaultKeyPolicy(account: string, partition = 'aws'): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:${partition}:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );
}
