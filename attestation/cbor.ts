// CBOR for the attestation domain, on cbor-x, with one bounded decoder for every untrusted input
// (NSM requests and responses, attestation documents, COSE headers, the image's signature section,
// KMS Recipient documents through the verifier).
//
// Before cbor-x materializes anything, `scanCbor` walks the item structure once, iteratively, in
// time linear in the input and without decoding a value, and refuses with MalformedDocumentError
// (ERR_ATTESTATION_MALFORMED):
// - input longer than the format's `maxBytes`; more than `maxItems` data items; nesting deeper than
//   `maxDepth` (arrays, maps and tags each count a level);
// - every tag but the format's own (`allowTags`): above all 28/29, the shared references with which
//   4 KB can describe a structure exponentially larger than itself, but also the tags cbor-x would
//   turn into Dates, typed arrays, Sets, RegExps or records;
// - declared lengths and counts the remaining input cannot hold (a string of 2^64 bytes, an array
//   of 2^32 items) before anything is allocated for them, truncation and trailing bytes;
// - reserved or invalid headers, a break outside an indefinite container, indefinite-length
//   strings (cbor-x does not decode them; serde_cbor, AWS's encoder, never writes them);
// - simple values other than false, true, null; text strings that are not valid UTF-8;
// - map keys other than integers and strings, and duplicate keys (cbor-x would keep the
//   last of two `nonce` keys silently).
// The total decoded size is then bounded too: with no shared references each decoded value has
// its own bytes, so a decode holds at most `maxItems` values and `maxBytes` of string data.
// After cbor-x, the result is checked to be plain data (`plain`), as before.
import { isUtf8 } from 'node:buffer';
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

/** The budget of one format: what its largest legitimate message needs, with room to spare. */
export interface CborLimits {
  readonly maxBytes: number;
  readonly maxItems: number;
  readonly maxDepth: number;
  /** Tags the format uses (kept as CborTagged); every other tag is refused. */
  readonly allowTags?: readonly number[];
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

export function encodeCbor(value: unknown): Uint8Array {
  const out = encoder.encode(value);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const MAJOR_UINT = 0;
const MAJOR_NINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;
const BREAK = 0xff;

/**
 * A map key's identity for the duplicate check: integers by value (a number, or a bigint past
 * 2^53: Set compares both by value, and numbers never equal strings), strings as their type letter
 * and bytes. So 0x01 and 0x18 0x01 are the same key, the text "1" and the byte string "1" are not.
 */
type MapKey = number | bigint | string;

/** An open container of the scan: how many items it still expects (-1: indefinite, until a break). */
interface Frame {
  readonly major: number;
  remaining: number;
  /** Maps: items read so far (even: the next is a key) and the keys seen, normalized (MapKey). */
  count: number;
  keys: Set<MapKey> | undefined;
}

/**
 * Checks that `bytes` is exactly one well-formed CBOR item within `limits`, refusing everything
 * listed in the file header. Linear in `bytes.length`; allocates only one frame per open container
 * (≤ maxDepth) and one identity per map key.
 */
export function scanCbor(bytes: Uint8Array, what: string, limits: CborLimits): void {
  function fail(why: string): never {
    throw new MalformedDocumentError(`${what}: ${why}`);
  }
  const n = bytes.length;
  if (n > limits.maxBytes) fail(`${n} bytes, more than the ${limits.maxBytes}-byte limit`);
  if (n === 0) fail('empty input');
  const allowTags = limits.allowTags ?? [];
  const stack: Frame[] = [];
  let pos = 0;
  let items = 0;

  /** Reads the argument of a header with additional information `ai` (< 28). */
  const argument = (ai: number): number => {
    if (ai < 24) return ai;
    const len = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : 8;
    if (pos + len > n) fail('truncated header');
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + (bytes[pos + i] as number);
    pos += len;
    // Above 2^53 the value is imprecise, but every use below only compares it with the remaining
    // input (or the tag list), where any such value is too large anyway.
    return v;
  };

  /** Called once an item is complete: counts it in its parent, checks map keys. */
  const complete = (key: MapKey | undefined): void => {
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) return;
      if (top.major === MAJOR_MAP) {
        if (top.count % 2 === 0) {
          if (key === undefined) fail('map keys must be integers or strings');
          if (top.keys!.has(key)) fail('duplicate map key');
          top.keys!.add(key);
        }
        top.count++;
      }
      if (top.remaining > 0) top.remaining--;
      if (top.remaining !== 0) return;
      // A definite container is full: it is itself a complete (non-key) item of its parent.
      stack.pop();
      key = undefined;
    }
  };

  do {
    if (pos >= n) fail('truncated');
    const ib = bytes[pos++] as number;
    const top = stack[stack.length - 1];
    if (ib === BREAK) {
      if (!top || top.remaining !== -1) fail('break outside an indefinite-length item');
      if (top.major === MAJOR_MAP && top.count % 2 !== 0) fail('indefinite-length map ends after a key');
      stack.pop();
      complete(undefined);
      continue;
    }
    if (++items > limits.maxItems) fail(`more than ${limits.maxItems} items`);
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (ai >= 28 && ai <= 30) fail(`reserved header 0x${ib.toString(16)}`);
    const keyPosition = top?.major === MAJOR_MAP && top.count % 2 === 0;
    if (ai === 31) {
      if (major === MAJOR_BYTES || major === MAJOR_TEXT) fail('indefinite-length strings are not supported');
      if (major !== MAJOR_ARRAY && major !== MAJOR_MAP) fail(`invalid indefinite-length header 0x${ib.toString(16)}`);
      if (keyPosition) fail('map keys must be integers or strings');
      if (stack.length >= limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`);
      stack.push({ major, remaining: -1, count: 0, keys: major === MAJOR_MAP ? new Set() : undefined });
      continue;
    }
    const arg = argument(ai);
    switch (major) {
      case MAJOR_UINT:
      case MAJOR_NINT: {
        if (!keyPosition) complete(undefined);
        else if (ai < 27) complete(major === MAJOR_UINT ? arg : -1 - arg);
        else {
          // 8-byte arguments exactly, and as a number when one holds them (so 5 in any width is 5).
          const v = new DataView(bytes.buffer, bytes.byteOffset + pos - 8, 8).getBigUint64(0);
          const value = major === MAJOR_UINT ? v : -1n - v;
          complete(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        }
        break;
      }
      case MAJOR_BYTES:
      case MAJOR_TEXT: {
        if (arg > n - pos) fail(`a string of ${arg} bytes runs past the end`);
        const s = bytes.subarray(pos, pos + arg);
        pos += arg;
        if (major === MAJOR_TEXT && !isUtf8(s)) fail('text string is not valid UTF-8');
        complete(keyPosition ? keyString(major, s) : undefined);
        break;
      }
      case MAJOR_ARRAY:
      case MAJOR_MAP: {
        if (keyPosition) fail('map keys must be integers or strings');
        // Every item takes at least one byte: a count the rest of the input cannot hold is refused
        // before anything is allocated for it.
        const needed = major === MAJOR_MAP ? arg * 2 : arg;
        if (needed > n - pos) fail(`a ${major === MAJOR_MAP ? 'map' : 'array'} of ${arg} entries runs past the end`);
        if (needed === 0) {
          complete(undefined);
          break;
        }
        if (stack.length >= limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`);
        stack.push({ major, remaining: needed, count: 0, keys: major === MAJOR_MAP ? new Set() : undefined });
        break;
      }
      case MAJOR_TAG: {
        if (!allowTags.includes(arg)) fail(arg === 28 || arg === 29 ? `CBOR shared reference (tag ${arg}) is not allowed` : `CBOR tag ${arg} is not allowed`);
        if (keyPosition) fail('map keys must be integers or strings');
        if (stack.length >= limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`);
        stack.push({ major, remaining: 1, count: 0, keys: undefined });
        break;
      }
      case MAJOR_SIMPLE: {
        // Major type 7: false (20), true (21), null (22) and floats (25–27); never undefined (23),
        // other simple values, or a float as a map key.
        if (ai === 25 || ai === 26 || ai === 27) {
          if (keyPosition) fail('map keys must be integers or strings');
        } else if (ai < 20 || ai > 22) fail(`simple value ${arg} is not allowed`);
        else if (keyPosition) fail('map keys must be integers or strings');
        complete(undefined);
        break;
      }
    }
  } while (stack.length > 0);
  if (pos !== n) fail(`${n - pos} bytes after the item`);
}

/** A string key's identity for the duplicate check (MapKey): its type letter and bytes, one char per byte. */
function keyString(major: number, s: Uint8Array): string {
  const prefix = major === MAJOR_TEXT ? 't' : 'b';
  // Short keys (all of the formats' own) without a Buffer per key; long ones in one native call.
  if (s.length > 32) return prefix + Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('latin1');
  let k = prefix;
  for (let i = 0; i < s.length; i++) k += String.fromCharCode(s[i] as number);
  return k;
}

/**
 * Decodes exactly one CBOR item filling all of `bytes`, within the format's `limits` (checked by
 * `scanCbor` before anything is decoded). Tags are kept as `CborTagged` only when the limits allow
 * them; everything else that is not plain data is refused.
 */
export function decodeCbor(bytes: Uint8Array, what: string, limits: CborLimits): CborValue {
  scanCbor(bytes, what, limits);
  let raw: unknown;
  try {
    raw = decoder.decode(bytes);
  } catch (cause) {
    throw new MalformedDocumentError(`${what}: invalid CBOR`, { cause, detail: cause instanceof Error ? cause.message : String(cause) });
  }
  return plain(raw, what, limits.allowTags ?? []);
}

function plain(x: unknown, what: string, allowTags: readonly number[]): CborValue {
  // Depth is bounded by the scan (maxDepth), so this recursion is too.
  if (x === null || typeof x === 'string' || typeof x === 'boolean' || typeof x === 'bigint') return x;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new MalformedDocumentError(`${what}: non-finite number`);
    return x;
  }
  if (x instanceof Uint8Array) {
    // Buffer is a Uint8Array subclass; hand out plain Uint8Arrays.
    return x.constructor === Uint8Array ? x : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  }
  if (Array.isArray(x)) return x.map((v) => plain(v, what, allowTags));
  if (x instanceof Map) {
    const m = new Map<CborValue, CborValue>();
    for (const [k, v] of x) m.set(plain(k, what, allowTags), plain(v, what, allowTags));
    return m;
  }
  if (x instanceof Tag && allowTags.includes(x.tag)) {
    return { tag: x.tag, value: plain(x.value, what, allowTags) };
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
