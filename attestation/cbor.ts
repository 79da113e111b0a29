// CBOR for the attestation domain, on cbor-x. Decoding is wrapped so that any failure of cbor-x
// (truncation, bad headers, stack exhaustion on deep nesting) becomes a MalformedDocumentError,
// and the result is then checked to be plain data: cbor-x turns some tags into Dates, Sets,
// RegExps, typed arrays or shared references, none of which any Nitro message contains.
import { Decoder, Encoder, Tag } from 'cbor-x';
import { MalformedDocumentError } from './errors.ts';

/** A decoded CBOR value restricted to what Nitro messages use. */
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | CborValue[]
  | Map<CborValue, CborValue>
  | CborTagged;

export interface CborTagged {
  readonly tag: number;
  readonly value: CborValue;
}

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  tagUint8Array: false,
  // Smallest map header for each map, as AWS's encoder (serde_cbor) writes them.
  variableMapSize: true,
  largeBigIntToFloat: false,
});

const decoder = new Decoder({
  useRecords: false,
  mapsAsObjects: false,
  // Decoded byte strings are copies, never views into the caller's buffer.
  copyBuffers: true,
});

const MAX_DEPTH = 16;

export function encodeCbor(value: unknown): Uint8Array {
  const out = encoder.encode(value);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decodes exactly one CBOR item filling all of `bytes`. Tags are kept as `CborTagged` only when
 * `allowTags` names them; everything else that is not plain data is refused.
 */
export function decodeCbor(bytes: Uint8Array, what: string, allowTags: readonly number[] = []): CborValue {
  let raw: unknown;
  try {
    raw = decoder.decode(bytes);
  } catch (cause) {
    throw new MalformedDocumentError(`${what}: invalid CBOR`, { cause, detail: cause instanceof Error ? cause.message : String(cause) });
  }
  return plain(raw, what, allowTags, 0);
}

function plain(x: unknown, what: string, allowTags: readonly number[], depth: number): CborValue {
  if (depth > MAX_DEPTH) throw new MalformedDocumentError(`${what}: nesting deeper than ${MAX_DEPTH}`);
  if (x === null || typeof x === 'string' || typeof x === 'boolean' || typeof x === 'bigint') return x;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new MalformedDocumentError(`${what}: non-finite number`);
    return x;
  }
  if (x instanceof Uint8Array) {
    // Buffer is a Uint8Array subclass; hand out plain Uint8Arrays.
    return x.constructor === Uint8Array ? x : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  }
  if (Array.isArray(x)) return x.map((v) => plain(v, what, allowTags, depth + 1));
  if (x instanceof Map) {
    const m = new Map<CborValue, CborValue>();
    for (const [k, v] of x) m.set(plain(k, what, allowTags, depth + 1), plain(v, what, allowTags, depth + 1));
    return m;
  }
  if (x instanceof Tag && allowTags.includes(x.tag)) {
    return { tag: x.tag, value: plain(x.value, what, allowTags, depth + 1) };
  }
  const kind = x === undefined ? 'undefined' : x instanceof Tag ? `tag ${x.tag}` : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;
  throw new MalformedDocumentError(`${what}: unexpected CBOR item (${kind})`);
}

export function isCborMap(x: CborValue): x is Map<CborValue, CborValue> {
  return x instanceof Map;
}

export function isTagged(x: CborValue): x is CborTagged {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array) && !Array.isArray(x) && !(x instanceof Map);
}
