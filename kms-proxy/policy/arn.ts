// ARNs compared part by part, as IAM compares them for the ARN condition operators and the Resource
// element (IAM User Guide, "Amazon Resource Name (ARN) condition operators": "Each of the six
// colon-delimited components of the ARN is checked separately"; "IAM JSON policy elements: Resource":
// wildcards "within ARN segments"). The sixth component is the rest, colons included
// (`arn:aws:kms:us-east-1:111122223333:key/…`). `arn:*:role/x` is three components and matches no ARN,
// where a StringLike would let its `*` run over `aws:iam::999999999999`.
import { ANY, compilePattern, matchPattern, type Pattern, type Token } from './patterns.ts';

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
