// The audit log's line format (format 1), documented in kms-proxy/README.md, "Audit log".
//
// A segment file is UTF-8 text, one record per line, each line a JSON object ending in "\n" whose
// first members are, in this order and with no whitespace:
//
//   {"sequence":N,"previousHash":"<64 hex>","recordType":"<type>", …record members… [,"signature":"<86 base64url>"]}
//
// - `sequence` counts records of one replica's chain from 1, across segments.
// - `previousHash` is the SHA-256 (hex) of the previous line's complete text (without its "\n"),
//   signature included; 64 zeros on the chain's first line. A change to any byte of a line that
//   has a successor breaks the successor's link.
// - `signature`, on the last line of every batch the KMS writes (so on the last line of the chain
//   whenever the KMS is not mid-write), is Ed25519 over RECORD_DOMAIN followed by the line's text
//   without the signature member (the line up to `,"signature"` and a closing `}`). Verifying the
//   last line's signature therefore authenticates the whole chain: rewriting any record, even with
//   every link recomputed, needs the signing key.
//
// The head file (`head.json`) names the chain's end — replica, segment, sequence and the line's
// hash — signed the same way under HEAD_DOMAIN, so cutting records off the end is detected, and
// so is a rewritten head.
import { hash, sign, verify, type KeyObject } from 'node:crypto';

export const FORMAT_VERSION = 1;
export const GENESIS = '0'.repeat(64);

/**
 * Record types: one CloudTrail event per authenticated call; the first record of every segment;
 * per-interval counts of refused unauthenticated, throttled or unaudited calls; a recovery.
 */
export type RecordType = 'AwsApiCall' | 'SegmentStart' | 'RequestSummary' | 'Recovery';
export const RECORD_TYPES: ReadonlySet<string> = new Set<RecordType>(['AwsApiCall', 'SegmentStart', 'RequestSummary', 'Recovery']);

/** The longest line a reader accepts; the writer keeps records well under it (MAX_RECORD_BYTES). */
export const MAX_LINE_BYTES = 1024 * 1024;
/** A record whose JSON is longer has its request and response members omitted (cloudtrail.ts). */
export const MAX_RECORD_BYTES = 256 * 1024;

const RECORD_DOMAIN = Buffer.from('nitro-sandbox/kms/audit/v1 record\n');
const HEAD_DOMAIN = Buffer.from('nitro-sandbox/kms/audit/v1 head\n');
const SIGNATURE_CHARS = 86;
const SIGNATURE_OPEN = Buffer.from(',"signature":"');
/** `,"signature":"` + 86 characters + `"}`. */
const SIGNED_SUFFIX = SIGNATURE_OPEN.length + SIGNATURE_CHARS + 2;
const CLOSE = Buffer.from('}');

/** The unsigned line of one record: the fixed prefix, then the members of `json` (an object's JSON) in their order. */
export function recordLine(sequence: number, previousHash: string, recordType: RecordType, json: string): string {
  return `{"sequence":${sequence},"previousHash":"${previousHash}","recordType":"${recordType}"${json === '{}' ? '}' : `,${json.slice(1)}`}`;
}

export function lineHash(line: string | Uint8Array): string {
  return hash('sha256', line, 'hex');
}

/** `unsigned` with its signature member appended. */
export function signLine(unsigned: string, privateKey: KeyObject, domain: Buffer = RECORD_DOMAIN): string {
  const signature = sign(null, Buffer.concat([domain, Buffer.from(unsigned, 'utf8')]), privateKey).toString('base64url');
  return `${unsigned.slice(0, -1)}${SIGNATURE_OPEN.toString()}${signature}"}`;
}

/** Whether `line` ends with a signature member (well-formed, not necessarily valid). */
export function isSigned(line: Uint8Array): boolean {
  if (line.length <= SIGNED_SUFFIX) return false;
  const b = Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  const at = b.length - SIGNED_SUFFIX;
  if (!b.subarray(at, at + SIGNATURE_OPEN.length).equals(SIGNATURE_OPEN) || b[b.length - 2] !== 0x22 || b[b.length - 1] !== 0x7d) return false;
  for (let i = at + SIGNATURE_OPEN.length; i < b.length - 2; i++) {
    const c = b[i] ?? 0;
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)) return false;
  }
  return true;
}

/** Checks a signed line's signature; false when it has none or it does not verify. */
export function verifyLine(line: Uint8Array, publicKey: KeyObject, domain: Buffer = RECORD_DOMAIN): boolean {
  if (!isSigned(line)) return false;
  const b = Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  const cut = b.length - SIGNED_SUFFIX;
  const text = b.subarray(cut + SIGNATURE_OPEN.length, b.length - 2).toString('latin1');
  const signature = Buffer.from(text, 'base64url');
  // Only the canonical encoding: the last character's unused low bits could otherwise be changed
  // without changing the bytes, and a changed line must never verify.
  if (signature.toString('base64url') !== text) return false;
  return verify(null, Buffer.concat([domain, b.subarray(0, cut), CLOSE]), publicKey, signature);
}

export interface RecordPrefix {
  readonly sequence: number;
  readonly previousHash: string;
  readonly recordType: RecordType;
}

const PREFIX = /^\{"sequence":([1-9]\d{0,14}),"previousHash":"([0-9a-f]{64})","recordType":"([A-Za-z]{1,32})"[,}]/;

/** The fixed members at the start of a line, read without parsing the rest; undefined when absent. */
export function parsePrefix(line: Uint8Array): RecordPrefix | undefined {
  const head = Buffer.from(line.buffer, line.byteOffset, Math.min(line.byteLength, 160)).toString('latin1');
  const m = PREFIX.exec(head);
  if (!m || !RECORD_TYPES.has(m[3] ?? '')) return undefined;
  return { sequence: Number(m[1]), previousHash: m[2] ?? '', recordType: m[3] as RecordType };
}

/** The end of a replica's chain, as `head.json` names it. */
export interface AuditHead {
  readonly replica: string;
  readonly segment: number;
  readonly sequence: number;
  /** SHA-256 (hex) of the line with this sequence. */
  readonly lineHash: string;
  /** When the head was written (ISO 8601). */
  readonly time: string;
}

export function encodeHead(head: AuditHead, privateKey: KeyObject): string {
  const text = JSON.stringify({ format: FORMAT_VERSION, replica: head.replica, segment: head.segment, sequence: head.sequence, lineHash: head.lineHash, time: head.time });
  return `${signLine(text, privateKey, HEAD_DOMAIN)}\n`;
}

/** The head in `text`, or why it is not one: 'malformed' or 'signature'. */
export function decodeHead(text: Buffer, publicKey: KeyObject): AuditHead | 'malformed' | 'signature' {
  const line = text.at(-1) === 0x0a ? text.subarray(0, -1) : text;
  let h: unknown;
  try {
    h = JSON.parse(line.toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (h === null || typeof h !== 'object' || Array.isArray(h)) return 'malformed';
  const { format, replica, segment, sequence, lineHash: hash, time } = h as Record<string, unknown>;
  if (format !== FORMAT_VERSION || typeof replica !== 'string' || !isCount(segment) || !isCount(sequence) || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash) || typeof time !== 'string') return 'malformed';
  if (!verifyLine(line, publicKey, HEAD_DOMAIN)) return 'signature';
  return { replica, segment, sequence, lineHash: hash, time };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/** Event times in records: ISO 8601 with milliseconds (CloudTrail events keep seconds, cloudtrail.ts). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
