// IAM policy variables in condition values (IAM User Guide, "IAM policy elements: Variables and
// tags"): `${aws:username}` is replaced by the request's value for that key, `${key, 'default'}`
// falls back to the default, and `${*}`, `${?}`, `${$}` stand for a literal `*`, `?` and `$`. Only
// policies of Version 2012-10-17 have variables ("earlier versions … treat them as literal strings").
// What a variable puts in is literal text: its `*` is not a wildcard. A variable whose key is absent,
// or has several values, resolves to nothing and the policy value matches nothing ("Policy variables
// with no value").
import { compilePattern, literalTokens, type Token } from './patterns.ts';
import type { PolicyValue } from './conditions.ts';

export type VariableLookup = (key: string) => readonly string[] | undefined;

const SPECIAL: Readonly<Record<string, string>> = { '*': '*', '?': '?', $: '$' };
// A condition key name as a variable: `aws:username`, `aws:PrincipalTag/team`, `kms:EncryptionContext:app`.
const NAME = /^[A-Za-z0-9-]+:[A-Za-z0-9:/_.+=@-]+$/;
const WITH_DEFAULT = /^([^,\s]+), '([^']*)'$/;

type Part = { readonly literal: string } | { readonly key: string; readonly fallback?: string } | { readonly special: string };

/** Splits a value into literal text and variables; a string says why the syntax is not valid. */
export function parseVariables(value: string): Part[] | string {
  const parts: Part[] = [];
  let i = 0;
  while (i < value.length) {
    const open = value.indexOf('${', i);
    if (open === -1) {
      parts.push({ literal: value.slice(i) });
      break;
    }
    if (open > i) parts.push({ literal: value.slice(i, open) });
    const close = value.indexOf('}', open + 2);
    if (close === -1) return `The policy variable in '${value}' is missing its closing brace.`;
    const body = value.slice(open + 2, close);
    const special = SPECIAL[body];
    if (special !== undefined) parts.push({ special });
    else if (body === '') return `The policy variable in '${value}' is empty.`;
    else if (NAME.test(body)) parts.push({ key: body });
    else {
      const m = WITH_DEFAULT.exec(body);
      if (!m || !NAME.test(m[1] ?? '')) return `The policy variable '\${${body}}' is not a condition key name, optionally followed by ", 'default'".`;
      parts.push({ key: m[1] as string, fallback: m[2] as string });
    }
    i = close + 1;
  }
  return parts;
}

/** Whether a value has variables at all (a `${`), so values without them skip the parser. */
export function hasVariables(value: string): boolean {
  return value.includes('${');
}

export function resolveVariables(value: string, lookup: VariableLookup): PolicyValue | undefined {
  if (!hasVariables(value)) return { text: value, pattern: compilePattern(value) };
  const parts = parseVariables(value);
  // The document parser refused malformed variables; a stored policy cannot reach here with one.
  if (typeof parts === 'string') return undefined;
  let text = '';
  const pattern: Token[] = [];
  for (const part of parts) {
    if ('literal' in part) {
      text += part.literal;
      pattern.push(...compilePattern(part.literal));
    } else if ('special' in part) {
      text += part.special;
      pattern.push(part.special);
    } else {
      const v = lookup(part.key);
      const resolved = v !== undefined && v.length === 1 ? v[0] : part.fallback;
      if (resolved === undefined) return undefined;
      text += resolved;
      pattern.push(...literalTokens(resolved));
    }
  }
  return { text, pattern };
}
