// The encryption context: a string → string map, bound to the data key by the key provider (KMS
// authenticates it on GenerateDataKey/Decrypt; reference/kms.md "Encryption context") and to every
// byte of the envelope through the header tag and the frames' AAD.
//
// Serialized exactly as the AWS Encryption SDK serializes it (message-header AAD): uint16 count,
// then per entry uint16 key length, key UTF-8, uint16 value length, value UTF-8, entries sorted by
// the UTF-8 bytes of the key, no duplicates. One context has exactly one encoding, so the bytes in
// the header and the cache key are unambiguous; the parser refuses any other encoding.
import { EnvelopeBadHeaderError, EnvelopeInvalidArgumentError } from './errors.ts';

export type EncryptionContext = Readonly<Record<string, string>>;

const MAX_U16 = 0xffff;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Validates a caller's context and returns its canonical serialization (empty for `{}`). */
export function serializeContext(context: EncryptionContext): Uint8Array {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) {
    throw new EnvelopeInvalidArgumentError('encryption context must be an object of string values');
  }
  const entries: [Uint8Array, Uint8Array][] = [];
  for (const key of Object.keys(context)) {
    const value = context[key];
    if (typeof value !== 'string') throw new EnvelopeInvalidArgumentError(`encryption context value for "${key}" must be a string`);
    // A lone surrogate would be encoded as U+FFFD and decrypt to a different context.
    if (!key.isWellFormed() || !value.isWellFormed()) throw new EnvelopeInvalidArgumentError(`encryption context entry "${key}" is not well-formed Unicode`);
    if (key.length === 0) throw new EnvelopeInvalidArgumentError('encryption context keys must not be empty');
    const k = utf8.encode(key);
    const v = utf8.encode(value);
    if (k.length > MAX_U16 || v.length > MAX_U16) throw new EnvelopeInvalidArgumentError(`encryption context entry "${key}" exceeds 65535 bytes`);
    entries.push([k, v]);
  }
  if (entries.length === 0) return new Uint8Array(0);
  if (entries.length > MAX_U16) throw new EnvelopeInvalidArgumentError('encryption context has more than 65535 entries');
  entries.sort((x, y) => compareBytes(x[0], y[0]));
  let size = 2;
  for (const [k, v] of entries) size += 4 + k.length + v.length;
  if (size > MAX_U16) throw new EnvelopeInvalidArgumentError('serialized encryption context exceeds 65535 bytes');
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, entries.length);
  let o = 2;
  for (const [k, v] of entries) {
    view.setUint16(o, k.length);
    out.set(k, o + 2);
    o += 2 + k.length;
    view.setUint16(o, v.length);
    out.set(v, o + 2);
    o += 2 + v.length;
  }
  return out;
}

/** Parses a canonical serialization (the bytes inside the header's context field). */
export function parseContext(bytes: Uint8Array): EncryptionContext {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (bytes.length === 0) return Object.freeze(out);
  const bad = (why: string) => new EnvelopeBadHeaderError(`encryption context: ${why}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 2) throw bad('too short');
  const count = view.getUint16(0);
  // An empty context is encoded as zero bytes, never as a count of 0.
  if (count === 0) throw bad('a non-empty field holds zero entries');
  let o = 2;
  let previous: Uint8Array | undefined;
  const take = (): Uint8Array => {
    if (o + 2 > bytes.length) throw bad('entry runs past the field');
    const len = view.getUint16(o);
    if (o + 2 + len > bytes.length) throw bad('entry runs past the field');
    const s = bytes.subarray(o + 2, o + 2 + len);
    o += 2 + len;
    return s;
  };
  const text = (b: Uint8Array): string => {
    try {
      return strictUtf8.decode(b);
    } catch (e) {
      throw new EnvelopeBadHeaderError('encryption context: invalid UTF-8', { cause: e });
    }
  };
  for (let i = 0; i < count; i++) {
    const k = take();
    const v = take();
    if (k.length === 0) throw bad('empty key');
    if (previous && compareBytes(previous, k) >= 0) throw bad('keys not in strictly ascending order');
    previous = k;
    out[text(k)] = text(v);
  }
  if (o !== bytes.length) throw bad('bytes follow the last entry');
  return Object.freeze(out);
}

/** True when both contexts hold exactly the same entries. */
export function contextEquals(a: EncryptionContext, b: EncryptionContext): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** True when every entry of `required` is present in `context` with the same value. */
export function contextContains(context: EncryptionContext, required: EncryptionContext): boolean {
  return Object.keys(required).every((k) => Object.hasOwn(context, k) && context[k] === required[k]);
}
