// IAM condition operators, implemented generically (IAM User Guide, "IAM JSON policy elements:
// Condition operators" and "Multivalued context keys"): one comparison per operator family, the
// `ForAnyValue:`/`ForAllValues:` set prefixes and the `…IfExists` suffix applied on top, so a new
// condition key (e.g. `kms:RecipientAttestation:PCR0`) needs only a value in the request context.
import { BlockList, isIP } from 'node:net';
import { compilePattern, matchPattern, type Pattern } from './patterns.ts';
import { resolveVariables, type VariableLookup } from './variables.ts';
import { arnMatch } from './arn.ts';

export { wildcardMatch } from './patterns.ts';

/** A policy value as a comparison sees it: its text and, for the `…Like` and ARN operators, its wildcard pattern. */
export interface PolicyValue {
  readonly text: string;
  readonly pattern: Pattern;
}

type Compare = (policyValue: PolicyValue, requestValue: string) => boolean;

interface Operator {
  readonly compare: Compare;
  /** Negated operators ("…Not…") match when no policy value matches, and a missing key passes. */
  readonly negated: boolean;
  /**
   * Whether policy variables (`${aws:username}`) are resolved in this operator's values. IAM allows
   * them with the String, ARN and Bool operators only ("Condition operators": "You can use a policy
   * variable with the … condition operator" / "You can not use …").
   */
  readonly variables: boolean;
}

function num(s: string): number | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(s.trim())) return undefined;
  return Number(s);
}

// W3C ISO 8601 profiles (YYYY, YYYY-MM, YYYY-MM-DD, with hh:mm[:ss[.s]] and a zone), or epoch seconds,
// as "Date condition operators" requires. Date.parse alone would accept "March 7 2020" and more.
const W3C_DATE = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

function date(s: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (!W3C_DATE.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

function numeric(cmp: (p: number, r: number) => boolean): Compare {
  return (p, r) => {
    const a = num(p.text);
    const b = num(r);
    return a !== undefined && b !== undefined && cmp(a, b);
  };
}

function dated(cmp: (p: number, r: number) => boolean): Compare {
  return (p, r) => {
    const a = date(p.text);
    const b = date(r);
    return a !== undefined && b !== undefined && cmp(a, b);
  };
}

function ipMatch(pv: PolicyValue, r: string): boolean {
  const p = pv.text;
  const family = isIP(r);
  if (family === 0) return false;
  const [net = '', bits, extra] = p.split('/');
  const fam = isIP(net);
  if (fam === 0 || extra !== undefined) return false;
  const max = fam === 4 ? 32 : 128;
  // A malformed prefix ('/33', '/x', '/') is a value that matches nothing, like a non-IP value:
  // BlockList would throw on it, and Number('') is 0, which would match every address.
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max)) return false;
  const list = new BlockList();
  const type = fam === 4 ? 'ipv4' : 'ipv6';
  list.addSubnet(net, bits === undefined ? max : Number(bits), type);
  return list.check(r, family === 4 ? 'ipv4' : 'ipv6');
}

const eq: Compare = (p, r) => p.text === r;
const eqi: Compare = (p, r) => p.text.toLowerCase() === r.toLowerCase();
const like: Compare = (p, r) => matchPattern(p.pattern, r);
// ArnEquals and ArnLike "behave identically": each of the six colon-delimited components is
// matched on its own, so a wildcard never spans a colon ("Amazon Resource Name (ARN) condition operators").
const arn: Compare = (p, r) => arnMatch(p.pattern, r);
// "Boolean matching" of "true"/"false". A policy value that is neither matches no request value: AWS
// accepts such a policy (IAM Access Analyzer reports only the general warning "Type mismatch Boolean"),
// and the clause is then false, so an Allow with it allows nothing and a Deny with it denies nothing.
const bool: Compare = (p, r) => {
  const v = p.text.toLowerCase();
  return (v === 'true' || v === 'false') && v === r.toLowerCase();
};

const op = (compare: Compare, negated: boolean, variables = false): Operator => ({ compare, negated, variables });

export const OPERATORS: Readonly<Record<string, Operator>> = Object.freeze({
  StringEquals: op(eq, false, true),
  StringNotEquals: op(eq, true, true),
  StringEqualsIgnoreCase: op(eqi, false, true),
  StringNotEqualsIgnoreCase: op(eqi, true, true),
  StringLike: op(like, false, true),
  StringNotLike: op(like, true, true),
  NumericEquals: op(numeric((a, b) => a === b), false),
  NumericNotEquals: op(numeric((a, b) => a === b), true),
  NumericLessThan: op(numeric((p, r) => r < p), false),
  NumericLessThanEquals: op(numeric((p, r) => r <= p), false),
  NumericGreaterThan: op(numeric((p, r) => r > p), false),
  NumericGreaterThanEquals: op(numeric((p, r) => r >= p), false),
  DateEquals: op(dated((a, b) => a === b), false),
  DateNotEquals: op(dated((a, b) => a === b), true),
  DateLessThan: op(dated((p, r) => r < p), false),
  DateLessThanEquals: op(dated((p, r) => r <= p), false),
  DateGreaterThan: op(dated((p, r) => r > p), false),
  DateGreaterThanEquals: op(dated((p, r) => r >= p), false),
  Bool: op(bool, false, true),
  BinaryEquals: op(eq, false),
  IpAddress: op(ipMatch, false),
  NotIpAddress: op(ipMatch, true),
  ArnEquals: op(arn, false, true),
  ArnLike: op(arn, false, true),
  ArnNotEquals: op(arn, true, true),
  ArnNotLike: op(arn, true, true),
});

export interface ParsedOperator {
  readonly name: string;
  readonly base: string;
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
  readonly ifExists: boolean;
}

/**
 * Splits `ForAllValues:StringLikeIfExists` into its parts; undefined when not an IAM operator.
 * `NullIfExists` is not one (Access Analyzer error "Null with if exists"); `ForAllValues:Null` and
 * `ForAnyValue:Null` are (only the suggestion "Null with qualifier": they are always true and
 * always false respectively).
 */
export function parseOperator(name: string): ParsedOperator | undefined {
  let rest = name;
  let set: ParsedOperator['set'];
  const m = /^(ForAnyValue|ForAllValues):(.*)$/.exec(rest);
  if (m) {
    set = m[1] as 'ForAnyValue' | 'ForAllValues';
    rest = m[2] ?? '';
  }
  let ifExists = false;
  if (rest.endsWith('IfExists') && rest !== 'IfExists') {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  if (rest === 'Null') return ifExists ? undefined : { name, base: rest, set, ifExists };
  if (!Object.hasOwn(OPERATORS, rest)) return undefined;
  return { name, base: rest, set, ifExists };
}

/** Whether `${…}` in this operator's values are policy variables (String, ARN and Bool operators). */
export function takesVariables(op: ParsedOperator): boolean {
  return OPERATORS[op.base]?.variables === true;
}

/**
 * One condition clause: `operator` applied to the request's values for one key against the policy's
 * values (any policy value may match: OR). `request` undefined or empty means the key is absent.
 * With `variables` (policies of Version 2012-10-17), `${…}` in the policy values of the operators that
 * take variables are resolved first; a value whose variable has no value in the request matches
 * nothing ("Policy variables with no value").
 */
export function evaluateClause(op: ParsedOperator, policyValues: readonly string[], request: readonly string[] | undefined, variables?: VariableLookup): boolean {
  const present = request !== undefined && request.length > 0;
  if (op.base === 'Null') {
    if (op.set === 'ForAllValues') return true;
    if (op.set === 'ForAnyValue') return false;
    // "true": the key must be absent; "false": it must be present; anything else matches nothing.
    return policyValues.some((p) => (p.toLowerCase() === 'true' ? !present : p.toLowerCase() === 'false' ? present : false));
  }
  const o = OPERATORS[op.base];
  if (!o) return false;
  if (!present) {
    if (op.ifExists) return true;
    if (op.set === 'ForAllValues') return true; // vacuous truth over an empty set, as IAM documents
    if (op.set === 'ForAnyValue') return false;
    return o.negated;
  }
  const values: PolicyValue[] = [];
  for (const p of policyValues) {
    if (variables !== undefined && o.variables) {
      const v = resolveVariables(p, variables);
      if (v !== undefined) values.push(v);
    } else values.push({ text: p, pattern: compilePattern(p) });
  }
  const matches = (r: string) => values.some((p) => o.compare(p, r));
  if (op.set === 'ForAllValues') return o.negated ? request.every((r) => !matches(r)) : request.every(matches);
  if (op.set === 'ForAnyValue') return o.negated ? request.some((r) => !matches(r)) : request.some(matches);
  return o.negated ? !request.some(matches) : request.some(matches);
}
