// Strict input validation for awsJson1_1 request bodies, after the kms-2014-11-01 Smithy shapes.
// Two kinds of failure, as AWS reports them:
// - the JSON does not deserialize into the operation's input shape (unknown member, wrong JSON
//   type, bad base64) → SerializationException;
// - it deserializes but breaks a constraint (@required, @length, @range, @enum, @pattern) →
//   ValidationException with AWS's "N validation error(s) detected: Value '…' at 'member' failed to
//   satisfy constraint: Member must …" message, all violations joined with "; ".
import { kmsError } from './errors.ts';

export type Field =
  | { readonly t: 'string'; readonly min?: number; readonly max?: number; readonly enum?: readonly string[]; readonly pattern?: string; readonly required?: boolean }
  | { readonly t: 'int'; readonly min?: number; readonly max?: number; readonly required?: boolean }
  | { readonly t: 'bool'; readonly required?: boolean }
  | { readonly t: 'blob'; readonly min?: number; readonly max?: number; readonly sensitive?: boolean; readonly required?: boolean }
  | { readonly t: 'strings'; readonly min?: number; readonly max?: number; readonly itemMin?: number; readonly itemMax?: number; readonly enum?: readonly string[]; readonly required?: boolean }
  | { readonly t: 'context'; readonly required?: boolean }
  | { readonly t: 'tags'; readonly required?: boolean }
  | { readonly t: 'constraints'; readonly required?: boolean }
  | { readonly t: 'timestamp'; readonly required?: boolean }
  | { readonly t: 'recipient'; readonly required?: boolean };

export type Shape = Readonly<Record<string, Field>>;

/** A validated input: blobs decoded to bytes, everything else as JSON gave it. */
export type Input = Readonly<Record<string, unknown>>;

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const patterns = new Map<string, RegExp>();
function patternOf(p: string): RegExp {
  let re = patterns.get(p);
  if (!re) {
    // Whole-value match, as AWS applies the model's @pattern (Java Pattern.matches).
    re = new RegExp(`^(?:${p})$`, 'u');
    patterns.set(p, re);
  }
  return re;
}

function jsonKind(v: unknown): string {
  if (typeof v === 'string') return 'STRING_VALUE';
  if (typeof v === 'number') return 'NUMBER_VALUE';
  if (typeof v === 'boolean') return v ? 'TRUE_VALUE' : 'FALSE_VALUE';
  if (Array.isArray(v)) return 'START_ARRAY';
  return 'START_OBJECT';
}

function serialization(v: unknown, target: string): never {
  const kind = jsonKind(v);
  if (kind === 'START_OBJECT') throw kmsError('SerializationException', 'Start of structure or map found where not expected.');
  if (kind === 'START_ARRAY') throw kmsError('SerializationException', 'Start of list found where not expected');
  throw kmsError('SerializationException', `${kind} can not be converted to ${target}`);
}

function member(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function quote(v: string): string {
  return `'${v}'`;
}

/** Java's String.hashCode, as an unsigned 32-bit number. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h >>> 0;
}

const enumOrders = new WeakMap<readonly string[], string>();

/**
 * An enum's values as AWS KMS lists them in "Member must satisfy enum value set: […]": neither
 * the model's order nor sorted, but an order every KMS message on record fits (localstack's
 * test_kms.snapshot.json: keySpec's 12 values, keyUsage's 3, macAlgorithm's 4; local-kms: keySpec's
 * 8; GenerateDataKey's [AES_256, AES_128]): by Java's String.hashCode modulo the smallest power of
 * two above twice the count, then by the whole hash. Deriving it, rather than copying the recorded
 * lists, gives today's enums (the model has since added SM2, ML_DSA_*, KEY_AGREEMENT, …) the order
 * AWS would print them in. test/kms-proxy/aws-answers.test.ts checks the 8- and 12-value keySpec lists.
 */
export function awsEnumOrder(values: readonly string[]): string {
  let text = enumOrders.get(values);
  if (text === undefined) {
    let size = 1;
    while (size <= 2 * values.length) size *= 2;
    const bucket = (v: string) => javaHash(v) & (size - 1);
    text = [...values].sort((a, b) => bucket(a) - bucket(b) || javaHash(a) - javaHash(b)).join(', ');
    enumOrders.set(values, text);
  }
  return text;
}

export function decodeBase64(s: string): Uint8Array {
  if (!B64.test(s)) throw kmsError('SerializationException', 'Base64 encoded value is not valid.');
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/**
 * Validates `body` (already JSON-parsed) against `shape`; throws SerializationException or
 * ValidationException exactly as AWS would, else returns the input with blobs decoded.
 */
export function validate(shape: Shape, body: unknown): Input {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) serialization(body, 'a structure');
  const out: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    // Own members only: `constructor`, `toString` or `__proto__` would otherwise find Object.prototype's.
    const f = Object.hasOwn(shape, k) ? shape[k] : undefined;
    if (!f) throw kmsError('SerializationException', `Unrecognized field '${k}'`);
    if (v === null) continue; // Coral treats an explicit null as an absent member
    out[k] = convert(k, f, v, errors);
  }
  for (const [k, f] of Object.entries(shape)) {
    if (f.required && out[k] === undefined) errors.push(`Value null at '${member(k)}' failed to satisfy constraint: Member must not be null`);
  }
  if (errors.length > 0) {
    const n = errors.length;
    throw kmsError('ValidationException', `${n} validation error${n === 1 ? '' : 's'} detected: ${errors.join('; ')}`);
  }
  return out;
}

function lengthCheck(errors: string[], at: string, shown: string, len: number, min?: number, max?: number): void {
  const prefix = shown === '' ? `Value at '${at}'` : `Value ${shown} at '${at}'`;
  if (min !== undefined && len < min) errors.push(`${prefix} failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
  if (max !== undefined && len > max) errors.push(`${prefix} failed to satisfy constraint: Member must have length less than or equal to ${max}`);
}

function convert(k: string, f: Field, v: unknown, errors: string[]): unknown {
  const at = member(k);
  switch (f.t) {
    case 'string': {
      if (typeof v !== 'string') serialization(v, 'a String');
      lengthCheck(errors, at, quote(v), [...v].length, f.min, f.max);
      if (f.enum && !f.enum.includes(v)) errors.push(`Value ${quote(v)} at '${at}' failed to satisfy constraint: Member must satisfy enum value set: [${awsEnumOrder(f.enum)}]`);
      if (f.pattern && !patternOf(f.pattern).test(v)) errors.push(`Value ${quote(v)} at '${at}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${f.pattern}`);
      return v;
    }
    case 'int': {
      if (typeof v !== 'number' || !Number.isInteger(v)) serialization(v, 'an Integer');
      if (f.min !== undefined && v < f.min) errors.push(`Value ${quote(String(v))} at '${at}' failed to satisfy constraint: Member must have value greater than or equal to ${f.min}`);
      if (f.max !== undefined && v > f.max) errors.push(`Value ${quote(String(v))} at '${at}' failed to satisfy constraint: Member must have value less than or equal to ${f.max}`);
      return v;
    }
    case 'bool':
      if (typeof v !== 'boolean') serialization(v, 'a Boolean');
      return v;
    case 'timestamp':
      if (typeof v !== 'number' || !Number.isFinite(v)) serialization(v, 'a Timestamp');
      return v;
    case 'blob': {
      if (typeof v !== 'string') serialization(v, 'a Blob');
      const bytes = decodeBase64(v);
      lengthCheck(errors, at, f.sensitive ? '' : quote(`java.nio.HeapByteBuffer[pos=0 lim=${bytes.length} cap=${bytes.length}]`), bytes.length, f.min, f.max);
      return bytes;
    }
    case 'strings': {
      if (!Array.isArray(v)) serialization(v, 'a List');
      const list: string[] = [];
      for (const item of v) {
        if (typeof item !== 'string') serialization(item, 'a String');
        list.push(item);
      }
      lengthCheck(errors, at, quote(`[${list.join(', ')}]`), list.length, f.min, f.max);
      list.forEach((item, i) => {
        lengthCheck(errors, `${at}.${i + 1}.member`, quote(item), item.length, f.itemMin, f.itemMax);
        if (f.enum && !f.enum.includes(item)) errors.push(`Value ${quote(item)} at '${at}.${i + 1}.member' failed to satisfy constraint: Member must satisfy enum value set: [${awsEnumOrder(f.enum)}]`);
      });
      return list;
    }
    case 'context': {
      if (typeof v !== 'object' || Array.isArray(v)) serialization(v, 'a Map');
      // No prototype: a `__proto__` key is an ordinary entry (an object literal would drop it,
      // leaving that context entry unauthenticated).
      const map: Record<string, string> = Object.create(null) as Record<string, string>;
      const folded = new Map<string, string>();
      for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) {
        if (typeof cv !== 'string') serialization(cv, 'a String');
        map[ck] = cv;
        // The encryption context is bytes: a lone UTF-16 surrogate (JSON "\ud800" parses to one) has
        // no UTF-8 form and would become U+FFFD, so two different contexts would authenticate the
        // same ciphertext. Condition keys are case-insensitive, so keys that differ only in case
        // would be one kms:EncryptionContext:<key> with two values, which a Deny cannot pin down.
        // Both are refused, with ValidationException as AWS answers invalid parameters.
        if (!ck.isWellFormed() || !cv.isWellFormed()) errors.push(`Value at '${at}' failed to satisfy constraint: Encryption context keys and values must be valid Unicode (a lone UTF-16 surrogate is not)`);
        const before = folded.get(ck.toLowerCase());
        if (before !== undefined) errors.push(`Value at '${at}' failed to satisfy constraint: Encryption context keys must differ in more than case ('${before}' and '${ck}')`);
        folded.set(ck.toLowerCase(), ck);
      }
      return map;
    }
    case 'tags': {
      if (!Array.isArray(v)) serialization(v, 'a List');
      return v.map((t, i) => {
        if (t === null || typeof t !== 'object' || Array.isArray(t)) serialization(t, 'a structure');
        const tag: Record<string, string> = {};
        for (const [tk, tv] of Object.entries(t as Record<string, unknown>)) {
          if (tk !== 'TagKey' && tk !== 'TagValue') throw kmsError('SerializationException', `Unrecognized field '${tk}'`);
          if (typeof tv !== 'string') serialization(tv, 'a String');
          tag[tk] = tv;
        }
        const base = `${at}.${i + 1}.member`;
        if (tag.TagKey === undefined) errors.push(`Value null at '${base}.tagKey' failed to satisfy constraint: Member must not be null`);
        else lengthCheck(errors, `${base}.tagKey`, quote(tag.TagKey), tag.TagKey.length, 1, 128);
        if (tag.TagValue === undefined) errors.push(`Value null at '${base}.tagValue' failed to satisfy constraint: Member must not be null`);
        else lengthCheck(errors, `${base}.tagValue`, quote(tag.TagValue), tag.TagValue.length, 0, 256);
        return { TagKey: tag.TagKey ?? '', TagValue: tag.TagValue ?? '' };
      });
    }
    case 'recipient': {
      // RecipientInfo (attestation-gated release, issue 7): KeyEncryptionAlgorithm + document.
      if (typeof v !== 'object' || Array.isArray(v)) serialization(v, 'a structure');
      const out: Record<string, unknown> = {};
      for (const [rk, rv] of Object.entries(v as Record<string, unknown>)) {
        if (rv === null) continue;
        if (rk === 'KeyEncryptionAlgorithm') out[rk] = convert('keyEncryptionAlgorithm', { t: 'string', enum: ['RSAES_OAEP_SHA_256'] }, rv, errors);
        else if (rk === 'AttestationDocument') out[rk] = convert('attestationDocument', { t: 'blob', min: 1, max: 262144 }, rv, errors);
        else throw kmsError('SerializationException', `Unrecognized field '${rk}'`);
      }
      return out;
    }
    case 'constraints': {
      if (typeof v !== 'object' || Array.isArray(v)) serialization(v, 'a structure');
      const c: Record<string, unknown> = {};
      for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) {
        if (cv === null) continue;
        // GrantConstraints.SourceArn (kms-2014-11-01) is an ARN string; CreateGrant refuses it as unsupported.
        if (ck === 'SourceArn') c[ck] = convert(ck, { t: 'string', min: 1, max: 2048 }, cv, errors);
        else if (ck === 'EncryptionContextSubset' || ck === 'EncryptionContextEquals') c[ck] = convert(ck, { t: 'context' }, cv, errors);
        else throw kmsError('SerializationException', `Unrecognized field '${ck}'`);
      }
      return c;
    }
  }
}

// Shared field definitions (kms-2014-11-01 shapes).
export const KeyIdField = { t: 'string', min: 1, max: 2048, required: true } as const satisfies Field;
export const OptKeyIdField = { t: 'string', min: 1, max: 2048 } as const satisfies Field;
export const GrantTokensField = { t: 'strings', min: 0, max: 10, itemMin: 1, itemMax: 8192 } as const satisfies Field;
export const ContextField = { t: 'context' } as const satisfies Field;
export const LimitField = { t: 'int', min: 1, max: 1000 } as const satisfies Field;
export const MarkerField = { t: 'string', min: 1, max: 1024, pattern: '[\\u0020-\\u00FF]*' } as const satisfies Field;
export const DryRunField = { t: 'bool' } as const satisfies Field;
export const RecipientField = { t: 'recipient' } as const satisfies Field;
