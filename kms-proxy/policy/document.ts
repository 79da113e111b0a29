// Key policy documents: parsed and validated once into a normalized form. Anything that is not a
// well-formed key policy is MalformedPolicyDocumentException, as AWS answers PutKeyPolicy/CreateKey.
import { kmsError } from '../errors.ts';
import { parseOperator, type ParsedOperator } from './conditions.ts';

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

const ARN_OR_ACCOUNT = /^(\*|\d{12}|arn:aws[a-z-]*:(iam|sts)::(\d{12}|aws):[^\s]+)$/;

function principals(v: unknown): PrincipalSet {
  if (v === '*') return { any: true, aws: [], service: [] };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) malformed('Policy contains a statement with one or more invalid principals.');
  let any = false;
  const aws: string[] = [];
  const service: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'AWS') {
      for (const p of strings(val, 'principal')) {
        if (!ARN_OR_ACCOUNT.test(p)) malformed('Policy contains a statement with one or more invalid principals.');
        if (p === '*') any = true;
        else aws.push(p);
      }
    } else if (k === 'Service' || k === 'Federated' || k === 'CanonicalUser') {
      service.push(...strings(val, 'principal'));
    } else {
      malformed('Policy contains a statement with one or more invalid principals.');
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
    exactlyOne(st, 'Action', 'NotAction', 'Policy contains a statement with no Action.');
    exactlyOne(st, 'Resource', 'NotResource', 'Policy contains a statement with no Resource.');
    const conditions: Clause[] = [];
    if (st.Condition !== undefined) {
      if (st.Condition === null || typeof st.Condition !== 'object' || Array.isArray(st.Condition)) malformed('Policy contains an invalid Condition.');
      for (const [opName, block] of Object.entries(st.Condition as Record<string, unknown>)) {
        const operator = parseOperator(opName);
        if (!operator) malformed(`Policy contains a condition with an unsupported operator '${opName}'.`);
        if (block === null || typeof block !== 'object' || Array.isArray(block)) malformed('Policy contains an invalid Condition.');
        for (const [key, vals] of Object.entries(block as Record<string, unknown>)) {
          conditions.push({ operator, key, values: conditionValues(vals) });
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
