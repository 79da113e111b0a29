// Wildcard patterns of IAM policies: `*` matches any run of characters, `?` any single character
// (StringLike, ArnLike, Action and Resource). A pattern is compiled to tokens so that characters a
// policy variable puts in (`${*}`, or a value such as `a*b`) stay literal: only the policy's own
// `*` and `?` are wildcards (IAM User Guide, "Policy variables": "Special characters").

/** `ANY` is `*`, `ONE` is `?`; a string token is one literal code point. */
export const ANY = 0;
export const ONE = 1;
export type Token = string | typeof ANY | typeof ONE;
export type Pattern = readonly Token[];

export function compilePattern(s: string): Token[] {
  return [...s].map((c) => (c === '*' ? ANY : c === '?' ? ONE : c));
}

/** Literal text as tokens: wildcard characters in it match only themselves. */
export function literalTokens(s: string): Token[] {
  return [...s];
}

/**
 * Greedy matching with one backtrack point: O(pattern × value) at worst, so a key policy cannot make
 * evaluation exponential the way a translated regular expression could.
 */
export function matchPattern(p: Pattern, value: string): boolean {
  const v = [...value];
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < v.length) {
    const c = p[i];
    if (c === ANY) {
      star = i++;
      mark = j;
    } else if (c !== undefined && (c === ONE || c === v[j])) {
      i++;
      j++;
    } else if (star !== -1) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (p[i] === ANY) i++;
  return i === p.length;
}

export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern === '*') return true;
  return ignoreCase ? matchPattern(compilePattern(pattern.toLowerCase()), value.toLowerCase()) : matchPattern(compilePattern(pattern), value);
}
