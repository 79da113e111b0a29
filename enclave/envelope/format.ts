// The envelope wire format, version 1 (docs/envelope-format.md is the normative description; the
// tests decrypt a frame from that description with plain node:crypto). Built field by field.
//
//   header  = magic "NSEV" · version 0x01 · suite u16 · frameSize u32 · messageId[32]
//             · contextLength u16 · context · edkCount u8 · edk* · commitment[32] · headerTag[16]
//   edk     = u16 len · providerId · u16 len · keyId · u16 len · encryptedKey
//   regular = seq u32 · iv[12] · ciphertext[frameSize] · tag[16]
//   final   = 0xFFFFFFFF · seq u32 · iv[12] · length u32 · ciphertext[length] · tag[16]
//
// Key schedule as the AWS Encryption SDK's committing suite (ALG_AES256_GCM_HKDF_SHA512_COMMIT_KEY,
// message format v2): HKDF-SHA512 with the message id as salt derives a per-message content key
// (info = suite id ‖ "DERIVEKEY") and a key commitment (info = "COMMITKEY"), so one data key can
// safely encrypt many messages (the cache relies on this) and a header can only be opened with the
// one data key it commits to.
import { createCipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EncryptionContext } from './context.ts';
import { parseContext } from './context.ts';
import { EnvelopeBadHeaderError, EnvelopeInvalidArgumentError, EnvelopeLimitError, EnvelopeTamperedError } from './errors.ts';

export const MAGIC = Object.freeze([0x4e, 0x53, 0x45, 0x56]); // "NSEV"
export const FORMAT_VERSION = 1;
/** AES-256-GCM, 12-byte IV, 16-byte tag, HKDF-SHA512 key derivation with key commitment. */
export const SUITE_AES256_GCM_HKDF_SHA512_COMMIT = 0x0001;
export const DATA_KEY_LENGTH = 32;
export const MESSAGE_ID_LENGTH = 32;
export const COMMITMENT_LENGTH = 32;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const MIN_FRAME_SIZE = 1;
/** Upper bound of the format; a decryptor may impose a lower one (`maxFrameSize`). */
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;
export const DEFAULT_FRAME_SIZE = 1024 * 1024;
/** Sequence numbers run 1 … 0xFFFFFFFE; 0xFFFFFFFF marks the final frame (as in the ESDK). */
export const FINAL_FRAME_MARKER = 0xffffffff;
export const MAX_FRAMES = 0xfffffffe;
export const MAX_ENCRYPTED_DATA_KEYS = 255;
export const AAD_LENGTH = 32 + MESSAGE_ID_LENGTH + 4 + 1 + 4;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const DERIVE_LABEL = utf8.encode('DERIVEKEY');
const COMMIT_LABEL = utf8.encode('COMMITKEY');
const ZERO_IV = new Uint8Array(IV_LENGTH);

export interface EncryptedDataKey {
  /** Which kind of provider made it, e.g. "aws-kms" (the ESDK's provider id). */
  readonly providerId: string;
  /** The provider's key reference, e.g. the KMS key ARN (the ESDK's provider info). */
  readonly keyId: string;
  /** The data key encrypted under that key: GenerateDataKey's CiphertextBlob for KMS. */
  readonly encryptedKey: Uint8Array;
}

export interface EnvelopeHeader {
  readonly version: number;
  readonly suiteId: number;
  readonly frameSize: number;
  readonly messageId: Uint8Array;
  readonly context: EncryptionContext;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly commitment: Uint8Array;
  readonly tag: Uint8Array;
  /** The authenticated header bytes (magic through commitment): what the tag and digest cover. */
  readonly body: Uint8Array;
  /** Total header length on the wire, tag included. */
  readonly length: number;
}

export interface ContentKeys {
  readonly contentKey: Buffer;
  readonly commitment: Buffer;
}

export function checkFrameSize(frameSize: number, what = 'frameSize'): number {
  if (!Number.isSafeInteger(frameSize) || frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) {
    throw new EnvelopeInvalidArgumentError(`${what} must be an integer from ${MIN_FRAME_SIZE} to ${MAX_FRAME_SIZE}`);
  }
  return frameSize;
}

/** HKDF-SHA512(dataKey, salt = messageId): the content key and the key commitment. */
export function deriveKeys(dataKey: Uint8Array, messageId: Uint8Array, suiteId = SUITE_AES256_GCM_HKDF_SHA512_COMMIT): ContentKeys {
  const info = new Uint8Array(2 + DERIVE_LABEL.length);
  info[0] = suiteId >>> 8;
  info[1] = suiteId & 0xff;
  info.set(DERIVE_LABEL, 2);
  return {
    contentKey: Buffer.from(hkdfSync('sha512', dataKey, messageId, info, DATA_KEY_LENGTH)),
    commitment: Buffer.from(hkdfSync('sha512', dataKey, messageId, COMMIT_LABEL, COMMITMENT_LENGTH)),
  };
}

/** IV of frame `seq`: eight zero bytes then the big-endian sequence number; the header uses seq 0. */
export function frameIv(seq: number): Buffer {
  const iv = Buffer.alloc(IV_LENGTH);
  iv.writeUInt32BE(seq, 8);
  return iv;
}

export function headerDigest(body: Uint8Array): Buffer {
  return createHash('sha256').update(body).digest();
}

/** AAD of a frame: header digest ‖ message id ‖ seq u32 ‖ final u8 ‖ plaintext length u32. */
export function frameAad(digest: Uint8Array, messageId: Uint8Array, seq: number, final: boolean, length: number): Buffer {
  const aad = Buffer.allocUnsafe(AAD_LENGTH);
  aad.set(digest, 0);
  aad.set(messageId, 32);
  aad.writeUInt32BE(seq, 64);
  aad[68] = final ? 1 : 0;
  aad.writeUInt32BE(length, 69);
  return aad;
}

/** The header tag: AES-256-GCM under the content key, IV all zero, empty plaintext, AAD = body. */
export function headerTag(contentKey: Uint8Array, body: Uint8Array): Buffer {
  const c = createCipheriv('aes-256-gcm', contentKey, ZERO_IV, { authTagLength: TAG_LENGTH });
  c.setAAD(body);
  c.final();
  return c.getAuthTag();
}

function u16String(s: string, what: string, allowEmpty: boolean): Uint8Array {
  if (typeof s !== 'string' || !s.isWellFormed()) throw new EnvelopeInvalidArgumentError(`${what} must be a well-formed string`);
  const b = utf8.encode(s);
  if ((!allowEmpty && b.length === 0) || b.length > 0xffff) throw new EnvelopeInvalidArgumentError(`${what} must be ${allowEmpty ? '0' : '1'}–65535 bytes`);
  return b;
}

export interface HeaderFields {
  readonly frameSize: number;
  readonly messageId: Uint8Array;
  readonly contextBytes: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly commitment: Uint8Array;
}

/** Serializes the authenticated part of a header (everything before the tag). */
export function serializeHeaderBody(f: HeaderFields): Buffer {
  checkFrameSize(f.frameSize);
  if (f.messageId.length !== MESSAGE_ID_LENGTH) throw new EnvelopeInvalidArgumentError('messageId must be 32 bytes');
  if (f.commitment.length !== COMMITMENT_LENGTH) throw new EnvelopeInvalidArgumentError('commitment must be 32 bytes');
  if (f.contextBytes.length > 0xffff) throw new EnvelopeInvalidArgumentError('serialized encryption context exceeds 65535 bytes');
  const n = f.encryptedDataKeys.length;
  if (n < 1 || n > MAX_ENCRYPTED_DATA_KEYS) throw new EnvelopeInvalidArgumentError('an envelope holds 1–255 encrypted data keys');
  const edks = f.encryptedDataKeys.map((k) => {
    const p = u16String(k.providerId, 'providerId', false);
    const id = u16String(k.keyId, 'keyId', true);
    if (!(k.encryptedKey instanceof Uint8Array) || k.encryptedKey.length < 1 || k.encryptedKey.length > 0xffff) {
      throw new EnvelopeInvalidArgumentError('encryptedKey must be 1–65535 bytes');
    }
    return [p, id, k.encryptedKey] as const;
  });
  let size = 4 + 1 + 2 + 4 + MESSAGE_ID_LENGTH + 2 + f.contextBytes.length + 1 + COMMITMENT_LENGTH;
  for (const e of edks) size += 6 + e[0].length + e[1].length + e[2].length;
  const out = Buffer.alloc(size);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  out.writeUInt16BE(SUITE_AES256_GCM_HKDF_SHA512_COMMIT, 5);
  out.writeUInt32BE(f.frameSize, 7);
  out.set(f.messageId, 11);
  out.writeUInt16BE(f.contextBytes.length, 43);
  out.set(f.contextBytes, 45);
  let o = 45 + f.contextBytes.length;
  out[o++] = n;
  for (const e of edks) {
    for (const part of e) {
      out.writeUInt16BE(part.length, o);
      out.set(part, o + 2);
      o += 2 + part.length;
    }
  }
  out.set(f.commitment, o);
  return out;
}

export function newMessageId(): Buffer {
  return randomBytes(MESSAGE_ID_LENGTH);
}

export interface HeaderLimits {
  /** Refuse headers longer than this many bytes (default 1 MiB: a full context plus many KMS keys). */
  readonly maxHeaderBytes: number;
  /** Refuse frame sizes above this (default MAX_FRAME_SIZE); bounds the decryptor's memory. */
  readonly maxFrameSize: number;
  /** Refuse more encrypted data keys than this (default 255, the format's maximum). */
  readonly maxEncryptedDataKeys: number;
}

export const DEFAULT_HEADER_LIMITS: HeaderLimits = Object.freeze({
  maxHeaderBytes: 1024 * 1024,
  maxFrameSize: MAX_FRAME_SIZE,
  maxEncryptedDataKeys: MAX_ENCRYPTED_DATA_KEYS,
});

function checkContextLengths(view: DataView, start: number, length: number): void {
  if (length === 0) return;
  const bad = (why: string) => new EnvelopeBadHeaderError(`encryption context: ${why}`);
  if (length < 2) throw bad('too short');
  const count = view.getUint16(start);
  if (count === 0) throw bad('a non-empty field holds zero entries');
  const end = start + length;
  let o = start + 2;
  for (let i = 0; i < 2 * count; i++) {
    if (o + 2 > end) throw bad('entry runs past the field');
    o += 2 + view.getUint16(o);
    if (o > end) throw bad('entry runs past the field');
  }
  if (o !== end) throw bad('bytes follow the last entry');
}

/**
 * Walks the header's fixed fields and length prefixes without decoding anything: returns the total
 * header length, or how many bytes it needs before it can say more. Checks what it can as soon as
 * the bytes are there (magic after 4 bytes, and so on), so a non-envelope input is refused without
 * waiting for more of it. At most 4 + 1 + 3 × 255 steps, so a stream may call it on every chunk.
 */
export function scanHeader(bytes: Uint8Array, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): { readonly length: number } | { readonly need: number } {
  const n = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new EnvelopeBadHeaderError(why);
  const need = (total: number) => {
    if (total > limits.maxHeaderBytes) throw new EnvelopeLimitError(`header exceeds maxHeaderBytes (${limits.maxHeaderBytes})`);
    return { need: total };
  };
  for (let i = 0; i < 4; i++) {
    if (i >= n) return need(4);
    if (bytes[i] !== MAGIC[i]) throw bad('not an envelope (bad magic)');
  }
  if (n < 5) return need(5);
  if (bytes[4] !== FORMAT_VERSION) throw bad(`unsupported envelope version ${bytes[4]}`);
  if (n < 7) return need(7);
  const suiteId = view.getUint16(5);
  if (suiteId !== SUITE_AES256_GCM_HKDF_SHA512_COMMIT) throw bad(`unsupported algorithm suite 0x${suiteId.toString(16).padStart(4, '0')}`);
  if (n < 11) return need(11);
  const frameSize = view.getUint32(7);
  if (frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) throw bad(`frame size ${frameSize} out of range`);
  if (frameSize > limits.maxFrameSize) throw new EnvelopeLimitError(`frame size ${frameSize} exceeds maxFrameSize (${limits.maxFrameSize})`);
  let o = 11 + MESSAGE_ID_LENGTH;
  if (n < o + 2) return need(o + 2);
  const contextLength = view.getUint16(o);
  o += 2;
  if (n < o + contextLength) return need(o + contextLength);
  // The context's entry lengths must fill its field exactly; otherwise every later offset is
  // wrong, and the input would only look truncated.
  checkContextLengths(view, o, contextLength);
  o += contextLength;
  if (n < o + 1) return need(o + 1);
  const edkCount = bytes[o] as number;
  if (edkCount === 0) throw bad('no encrypted data key');
  if (edkCount > limits.maxEncryptedDataKeys) throw new EnvelopeLimitError(`${edkCount} encrypted data keys exceed maxEncryptedDataKeys (${limits.maxEncryptedDataKeys})`);
  o += 1;
  for (let i = 0; i < edkCount * 3; i++) {
    if (n < o + 2) return need(o + 2);
    o += 2 + view.getUint16(o);
  }
  o += COMMITMENT_LENGTH + TAG_LENGTH;
  if (n < o) return need(o);
  if (o > limits.maxHeaderBytes) throw new EnvelopeLimitError(`header exceeds maxHeaderBytes (${limits.maxHeaderBytes})`);
  return { length: o };
}

/**
 * Parses a header from the start of `bytes`: undefined when `bytes` ends before the header does;
 * a typed error as soon as the bytes present are wrong.
 */
export function parseHeader(bytes: Uint8Array, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): EnvelopeHeader | undefined {
  const scan = scanHeader(bytes, limits);
  if ('need' in scan) return undefined;
  return parseHeaderOrThrow(bytes.subarray(0, scan.length));
}

/** Decodes a header whose extent scanHeader has established (so every length fits). */
function parseHeaderOrThrow(bytes: Uint8Array): EnvelopeHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string) => new EnvelopeBadHeaderError(why);
  let o = 0;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new EnvelopeBadHeaderError('header fields overrun the header');
  };
  // Magic, version, suite, frame size range and limits were checked by scanHeader.
  const suiteId = view.getUint16(5);
  const frameSize = view.getUint32(7);
  o = 11;
  need(MESSAGE_ID_LENGTH);
  const messageId = bytes.slice(o, o + MESSAGE_ID_LENGTH);
  o += MESSAGE_ID_LENGTH;
  need(2);
  const contextLength = view.getUint16(o);
  o += 2;
  need(contextLength);
  const context = parseContext(bytes.subarray(o, o + contextLength));
  o += contextLength;
  need(1);
  const edkCount = bytes[o] as number;
  o += 1;
  const field = (): Uint8Array => {
    need(2);
    const len = view.getUint16(o);
    need(2 + len);
    const b = bytes.slice(o + 2, o + 2 + len);
    o += 2 + len;
    return b;
  };
  const text = (b: Uint8Array, what: string): string => {
    try {
      return strictUtf8.decode(b);
    } catch (e) {
      throw new EnvelopeBadHeaderError(`${what}: invalid UTF-8`, { cause: e });
    }
  };
  const encryptedDataKeys: EncryptedDataKey[] = [];
  for (let i = 0; i < edkCount; i++) {
    const providerId = text(field(), 'providerId');
    if (providerId.length === 0) throw bad('empty providerId');
    const keyId = text(field(), 'keyId');
    const encryptedKey = field();
    if (encryptedKey.length === 0) throw bad('empty encrypted data key');
    encryptedDataKeys.push(Object.freeze({ providerId, keyId, encryptedKey }));
  }
  need(COMMITMENT_LENGTH);
  const commitment = bytes.slice(o, o + COMMITMENT_LENGTH);
  o += COMMITMENT_LENGTH;
  const bodyEnd = o;
  need(TAG_LENGTH);
  const tag = bytes.slice(o, o + TAG_LENGTH);
  o += TAG_LENGTH;
  return Object.freeze({
    version: FORMAT_VERSION,
    suiteId,
    frameSize,
    messageId,
    context,
    encryptedDataKeys: Object.freeze(encryptedDataKeys),
    commitment,
    tag,
    body: bytes.slice(0, bodyEnd),
    length: o,
  });
}

/**
 * Checks the key commitment and the header tag with the data key the provider returned. On
 * success returns the content key and the header digest that every frame's AAD carries.
 */
export function openHeader(header: EnvelopeHeader, dataKey: Uint8Array): { contentKey: Buffer; digest: Buffer } {
  const { contentKey, commitment } = deriveKeys(dataKey, header.messageId, header.suiteId);
  if (!timingSafeEqual(commitment, header.commitment)) {
    contentKey.fill(0);
    throw new EnvelopeTamperedError({ cause: new Error('key commitment does not match the data key') });
  }
  const tag = headerTag(contentKey, header.body);
  if (!timingSafeEqual(tag, header.tag)) {
    contentKey.fill(0);
    throw new EnvelopeTamperedError({ cause: new Error('header tag does not verify') });
  }
  return { contentKey, digest: headerDigest(header.body) };
}
