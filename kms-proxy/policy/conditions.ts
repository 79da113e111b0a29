// IAM condition operators, implemented generically (IAM User Guide, "IAM JSON policy elements:
// Condition operators" and "Multivalued context keys"): one comparison per operator family, the
// `ForAnyValue:`/`ForAllValues:` set prefixes and the `…IfExists` suffix applied on top, so a new
// condition key (e.g. `kms:RecipientAttestation:PCR0`) needs only a value in the request context.
import { BlockList, isIP } from 'node:net';

type Compare = (policyValue: string, requestValue: string) => boolean;

interface Operator {
  readonly compare: Compare;
  /** Negated operators ("…Not…") match when no policy value matches, and a missing key passes. */
  readonly negated: boolean;
}

/**
 * `*` matches any run of characters, `?` any single character (StringLike, ArnLike, Action and
 * Resource patterns). Greedy matching with one backtrack point: O(pattern × value) at worst, so a
 * key policy cannot make evaluation exponential the way a translated regular expression could.
 */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern === '*') return true;
  const p = [...(ignoreCase ? pattern.toLowerCase() : pattern)];
  const v = [...(ignoreCase ? value.toLowerCase() : value)];
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < v.length) {
    const c = p[i];
    if (c === '*') {
      star = i++;
      mark = j;
    } else if (c !== undefined && (c === '?' || c === v[j])) {
      i++;
      j++;
    } else if (star !== -1) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (p[i] === '*') i++;
  return i === p.length;
}

function num(s: string): number | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(s.trim())) return undefined;
  return Number(s);
}

function date(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

function numeric(cmp: (p: number, r: number) => boolean): Compare {
  return (p, r) => {
    const a = num(p);
    const b = num(r);
    return a !== undefined && b !== undefined && cmp(a, b);
  };
}

function dated(cmp: (p: number, r: number) => boolean): Compare {
  return (p, r) => {
    const a = date(p);
    const b = date(r);
    return a !== undefined && b !== undefined && cmp(a, b);
  };
}

function ipMatch(p: string, r: string): boolean {
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

const eq: Compare = (p, r) => p === r;
const eqi: Compare = (p, r) => p.toLowerCase() === r.toLowerCase();
const like: Compare = (p, r) => wildcardMatch(p, r);
const bool: Compare = (p, r) => p.toLowerCase() === r.toLowerCase();

export const OPERATORS: Readonly<Record<string, Operator>> = Object.freeze({
  StringEquals: { compare: eq, negated: false },
  StringNotEquals: { compare: eq, negated: true },
  StringEqualsIgnoreCase: { compare: eqi, negated: false },
  StringNotEqualsIgnoreCase: { compare: eqi, negated: true },
  StringLike: { compare: like, negated: false },
  StringNotLike: { compare: like, negated: true },
  NumericEquals: { compare: numeric((a, b) => a === b), negated: false },
  NumericNotEquals: { compare: numeric((a, b) => a === b), negated: true },
  NumericLessThan: { compare: numeric((p, r) => r < p), negated: false },
  NumericLessThanEquals: { compare: numeric((p, r) => r <= p), negated: false },
  NumericGreaterThan: { compare: numeric((p, r) => r > p), negated: false },
  NumericGreaterThanEquals: { compare: numeric((p, r) => r >= p), negated: false },
  DateEquals: { compare: dated((a, b) => a === b), negated: false },
  DateNotEquals: { compare: dated((a, b) => a === b), negated: true },
  DateLessThan: { compare: dated((p, r) => r < p), negated: false },
  DateLessThanEquals: { compare: dated((p, r) => r <= p), negated: false },
  DateGreaterThan: { compare: dated((p, r) => r > p), negated: false },
  DateGreaterThanEquals: { compare: dated((p, r) => r >= p), negated: false },
  Bool: { compare: bool, negated: false },
  BinaryEquals: { compare: eq, negated: false },
  IpAddress: { compare: ipMatch, negated: false },
  NotIpAddress: { compare: ipMatch, negated: true },
  ArnEquals: { compare: like, negated: false },
  ArnLike: { compare: like, negated: false },
  ArnNotEquals: { compare: like, negated: true },
  ArnNotLike: { compare: like, negated: true },
});

export interface ParsedOperator {
  readonly name: string;
  readonly base: string;
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
  readonly ifExists: boolean;
}

/** Splits `ForAllValues:StringLikeIfExists` into its parts; undefined when not an IAM operator. */
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
  if (rest === 'Null') return set || ifExists ? undefined : { name, base: rest, set, ifExists };
  if (!Object.hasOwn(OPERATORS, rest)) return undefined;
  return { name, base: rest, set, ifExists };
}

/**
 * One condition clause: `operator` applied to the request's values for one key against the policy's
 * values (any policy value may match: OR). `request` undefined or empty means the key is absent.
 */
export function evaluateClause(op: ParsedOperator, policyValues: readonly string[], request: readonly string[] | undefined): boolean {
  const present = request !== undefined && request.length > 0;
  if (op.base === 'Null') {
    // "true": the key must be absent; "false": it must be present.
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
  const matches = (r: string) => policyValues.some((p) => o.compare(p, r));
  if (op.set === 'ForAllValues') return o.negated ? request.every((r) => !matches(r)) : request.every(matches);
  if (op.set === 'ForAnyValue') return o.negated ? request.some((r) => !matches(r)) : request.some(matches);
  return o.negated ? !request.some(matches) : request.some(matches);
}
