// ARNs compared part by part. The ARN condition operators check "each of the six colon-delimited
// components of the ARN … separately" (IAM User Guide, "Amazon Resource Name (ARN) condition
// operators"): `arn:*:role/x` is three components and matches no ARN, where a StringLike would let its
// `*` run over `aws:iam::999999999999`. The sixth component is the rest, colons included
// (`arn:aws:kms:us-east-1:111122223333:key/…`). The Resource element is the same except that "if the
// `*` wildcard is the last character of a resource ARN segment, it can expand to match beyond the
// colon boundaries" (IAM User Guide, "IAM JSON policy elements: Resource"), so `arn:aws:kms:*` is
// every KMS resource.
import { ANY, compilePattern, matchPattern, ONE, type Pattern, type Token } from './patterns.ts';

const PARTS = 6;

function splitPattern(p: Pattern): Token[][] | undefined {
  const parts: Token[][] = [[]];
  for (const t of p) {
    if (t === ':' && parts.length < PARTS) parts.push([]);
    else (parts.at(-1) as Token[]).push(t);
  }
  return parts.length === PARTS ? parts : undefined;
}

/** The six components of an ARN, or undefined when `value` has fewer. */
export function splitArn(value: string): string[] | undefined {
  const parts = value.split(':');
  if (parts.length < PARTS) return undefined;
  return [...parts.slice(0, PARTS - 1), parts.slice(PARTS - 1).join(':')];
}

export function arnMatch(pattern: Pattern | string, value: string): boolean {
  const p = typeof pattern === 'string' ? compilePattern(pattern) : pattern;
  // A lone `*` stands for every resource ("Resource": "*").
  if (p.length === 1 && p[0] === ANY) return true;
  const ps = splitPattern(p);
  const vs = splitArn(value);
  if (!ps || !vs) return false;
  return ps.every((seg, i) => matchPattern(seg, vs[i] ?? ''));
}

/**
 * The Resource element's match: components one by one, but a `*` that ends a component (or the
 * pattern) may run over colons. Dynamic programming over (pattern, value): O(pattern × value).
 */
export function resourceArnMatch(pattern: string, value: string): boolean {
  const p = compilePattern(pattern);
  if (p.length === 1 && p[0] === ANY) return true;
  // Per token: whether it may match a colon (a `*` ending its component, anything in the sixth).
  const free: boolean[] = [];
  let colons = 0;
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    free.push(colons >= PARTS - 1 || (t === ANY && (p[i + 1] === ':' || p[i + 1] === undefined)));
    if (t === ':') colons++;
  }
  const v = [...value];
  let row: boolean[] = Array.from({ length: v.length + 1 }, (_, j) => j === 0);
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    const next: boolean[] = new Array<boolean>(v.length + 1).fill(false);
    next[0] = t === ANY && (row[0] ?? false);
    for (let j = 1; j <= v.length; j++) {
      const c = v[j - 1];
      const colonOk = free[i] === true || c !== ':';
      if (t === ANY) next[j] = (row[j] ?? false) || ((next[j - 1] ?? false) && colonOk);
      else if (t === ONE) next[j] = (row[j - 1] ?? false) && colonOk;
      else next[j] = (row[j - 1] ?? false) && t === c;
    }
    row = next;
  }
  return row[v.length] ?? false;
}
