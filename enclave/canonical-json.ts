// Canonical JSON for the image's descriptors (runtime, manifest, metadata): object keys sorted by
// UTF-16 code units, no insignificant whitespace, numbers and strings as ECMAScript serializes them
// (the RFC 8785 / JCS rules, for the subset used here). One value has exactly one encoding, so a
// descriptor's bytes, and therefore every PCR over them, depend only on its content.

const MAX_DEPTH = 32;

export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
}

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

export function canonicalJson(value: unknown): string {
  return encode(value, 0, '$');
}

function encode(x: unknown, depth: number, at: string): string {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError(`${at}: nesting deeper than ${MAX_DEPTH}`);
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new CanonicalJsonError(`${at}: numbers must be finite`);
    // -0 would serialize as 0 and not round-trip to the same value.
    return JSON.stringify(Object.is(x, -0) ? 0 : x);
  }
  if (Array.isArray(x)) return `[${x.map((v, i) => encode(v, depth + 1, `${at}[${i}]`)).join(',')}]`;
  if (typeof x === 'object' && isPlainObject(x)) {
    const keys = Object.keys(x).sort();
    const parts = keys.map((k) => {
      const v = (x as Record<string, unknown>)[k];
      if (v === undefined) throw new CanonicalJsonError(`${at}.${k}: undefined is not JSON`);
      return `${JSON.stringify(k)}:${encode(v, depth + 1, `${at}.${k}`)}`;
    });
    return `{${parts.join(',')}}`;
  }
  throw new CanonicalJsonError(`${at}: ${typeof x} is not JSON`);
}

function isPlainObject(x: object): boolean {
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The deepest nesting of JSON text, counted on the characters (brackets outside strings) in one
 * linear pass, so that text nested past MAX_DEPTH is refused before JSON.parse builds it.
 */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * Parses bytes that must be the canonical encoding of a JSON value: invalid UTF-8, invalid JSON,
 * duplicate keys, unsorted keys or stray whitespace all fail, because any of them would let two
 * different byte strings describe the same value.
 */
export function parseCanonicalJson(bytes: Uint8Array): JsonValue {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new CanonicalJsonError('not valid UTF-8', { cause });
  }
  // The outermost value is depth 0 for `canonicalJson`, one bracket here.
  if (depthOf(text) > MAX_DEPTH + 1) throw new CanonicalJsonError(`nesting deeper than ${MAX_DEPTH}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new CanonicalJsonError('not valid JSON', { cause });
  }
  if (canonicalJson(value) !== text) throw new CanonicalJsonError('not in canonical form (sorted keys, no whitespace)');
  return value as JsonValue;
}
