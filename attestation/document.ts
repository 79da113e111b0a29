// The attestation document payload (reference/nitro.md, "Attestation document"): a CBOR map of nine
// keys in AWS's order. Encoding reproduces AWS's bytes (definite-length map, `1b`-prefixed uint64
// timestamp, PCR map of uint → 48-byte bstr, null for absent optional fields); decoding accepts
// definite and indefinite-length maps, any key order, and applies the syntax checks of
// attestation_process.md §3.2.2.1 before anything else looks at the fields.
import { abytes, copy } from './bytes.ts';
import { decodeCbor, encodeCbor, type CborLimits, type CborValue } from './cbor.ts';
import { MAX_DOCUMENT_BYTES, decodeCoseSign1, signCoseSign1, type CoseSign1 } from './cose.ts';
import { InvalidArgumentError, MalformedDocumentError } from './errors.ts';
import type { KeyObject } from 'node:crypto';

/** Limits of the NSM API for the caller-supplied fields (nsm-api `src/api/mod.rs`). */
export const MAX_OPTIONAL_FIELD = 1024;
export const MAX_PCRS = 32;
export const MAX_CERT_LENGTH = 1024;

export interface AttestationDocument {
  readonly moduleId: string;
  readonly digest: 'SHA384';
  /** Milliseconds since the Unix epoch, as the NSM stamps it. */
  readonly timestamp: number;
  /** PCR index → value (48 bytes for SHA384). Iteration order is ascending index. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** DER of the leaf (signing) certificate. */
  readonly certificate: Uint8Array;
  /** DER certificates, root first, nearest intermediate last. */
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey: Uint8Array | null;
  readonly userData: Uint8Array | null;
  readonly nonce: Uint8Array | null;
}

/**
 * The payload map: nine keys and values, a PCR map of up to 32 entries and the cabundle array,
 * three levels at most; the byte bound is the document's.
 */
const PAYLOAD_LIMITS: CborLimits = { maxBytes: MAX_DOCUMENT_BYTES, maxItems: 256, maxDepth: 2 };

const KEYS = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce'] as const;
const REQUIRED = new Set(['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle']);

function optional(x: Uint8Array | null | undefined, title: string): Uint8Array | null {
  if (x === null || x === undefined) return null;
  return copy(abytes(x, title, { max: MAX_OPTIONAL_FIELD }));
}

/** Checks the fields a producer must get right and returns a frozen, private copy. */
export function makeDocument(fields: {
  moduleId: string;
  timestamp: number;
  pcrs: ReadonlyMap<number, Uint8Array>;
  certificate: Uint8Array;
  cabundle: readonly Uint8Array[];
  publicKey?: Uint8Array | null;
  userData?: Uint8Array | null;
  nonce?: Uint8Array | null;
}): AttestationDocument {
  if (typeof fields.moduleId !== 'string' || fields.moduleId.length === 0) throw new InvalidArgumentError('moduleId must be a non-empty string');
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp <= 0) throw new InvalidArgumentError('timestamp must be a positive integer (ms)');
  if (!(fields.pcrs instanceof Map) || fields.pcrs.size < 1 || fields.pcrs.size > MAX_PCRS) throw new InvalidArgumentError(`pcrs must hold 1–${MAX_PCRS} entries`);
  const pcrs = new Map<number, Uint8Array>();
  for (const i of [...fields.pcrs.keys()].sort((a, b) => a - b)) {
    if (!Number.isInteger(i) || i < 0 || i >= MAX_PCRS) throw new InvalidArgumentError(`PCR index ${i} out of range`);
    pcrs.set(i, copy(abytes(fields.pcrs.get(i), `pcr${i}`, { len: 48 })));
  }
  if (!Array.isArray(fields.cabundle) || fields.cabundle.length === 0) throw new InvalidArgumentError('cabundle must be a non-empty array');
  return Object.freeze({
    moduleId: fields.moduleId,
    digest: 'SHA384',
    timestamp: fields.timestamp,
    pcrs,
    certificate: copy(abytes(fields.certificate, 'certificate', { min: 1 })),
    cabundle: Object.freeze(fields.cabundle.map((c, i) => copy(abytes(c, `cabundle[${i}]`, { min: 1, max: MAX_CERT_LENGTH })))),
    publicKey: optional(fields.publicKey, 'public_key'),
    userData: optional(fields.userData, 'user_data'),
    nonce: optional(fields.nonce, 'nonce'),
  });
}

/** The payload bytes, laid out exactly as the NSM lays them out. */
export function encodePayload(doc: AttestationDocument): Uint8Array {
  return encodeCbor({
    module_id: doc.moduleId,
    digest: doc.digest,
    // A bigint forces the 8-byte uint64 form (`1b`) AWS uses; a JS number would become a float.
    timestamp: BigInt(doc.timestamp),
    pcrs: doc.pcrs,
    certificate: doc.certificate,
    cabundle: doc.cabundle,
    public_key: doc.publicKey,
    user_data: doc.userData,
    nonce: doc.nonce,
  });
}

/** Signs a document with the leaf's P-384 private key: the untagged COSE_Sign1 bytes. */
export function signDocument(doc: AttestationDocument, leafKey: KeyObject): Uint8Array {
  return signCoseSign1(encodePayload(doc), leafKey);
}

function fail(message: string): never {
  throw new MalformedDocumentError(`attestation document: ${message}`);
}

function bstr(v: CborValue | undefined, name: string, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${name} must be a byte string`);
  if (v.length < min || v.length > max) fail(`${name} must be ${min}–${max} bytes, got ${v.length}`);
  return v;
}

function optionalBstr(v: CborValue | undefined, name: string): Uint8Array | null {
  // attestation_process.md: optional fields may be absent or null; treat null as absent.
  if (v === undefined || v === null) return null;
  return bstr(v, name, 0, MAX_OPTIONAL_FIELD);
}

/** Decodes and syntax-checks a payload (no signature or chain checks). */
export function decodePayload(payload: Uint8Array): AttestationDocument {
  const m = decodeCbor(payload, 'attestation document', PAYLOAD_LIMITS);
  if (!(m instanceof Map)) fail('payload must be a map');
  const fields = new Map<string, CborValue>();
  for (const [k, v] of m) {
    if (typeof k !== 'string') fail('payload keys must be text strings');
    if (!(KEYS as readonly string[]).includes(k)) fail(`unknown field '${k}'`);
    fields.set(k, v);
  }
  for (const k of REQUIRED) if (!fields.has(k)) fail(`missing field '${k}'`);

  const moduleId = fields.get('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0) fail('module_id must be a non-empty text string');
  if (fields.get('digest') !== 'SHA384') fail("digest must be 'SHA384'");
  const ts = fields.get('timestamp');
  let timestamp: number;
  if (typeof ts === 'bigint' && ts > 0n && ts <= BigInt(Number.MAX_SAFE_INTEGER)) timestamp = Number(ts);
  else if (typeof ts === 'number' && Number.isSafeInteger(ts) && ts > 0) timestamp = ts;
  else fail('timestamp must be a positive unsigned integer');

  const rawPcrs = fields.get('pcrs');
  if (!(rawPcrs instanceof Map)) fail('pcrs must be a map');
  if (rawPcrs.size < 1 || rawPcrs.size > MAX_PCRS) fail(`pcrs must hold 1–${MAX_PCRS} entries`);
  const entries: [number, Uint8Array][] = [];
  for (const [k, v] of rawPcrs) {
    const index = typeof k === 'bigint' ? Number(k) : k;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_PCRS) fail('PCR index must be an integer below 32');
    if (!(v instanceof Uint8Array) || ![32, 48, 64].includes(v.length)) fail(`pcr${index} must be 32, 48 or 64 bytes`);
    entries.push([index, v]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  const pcrs = new Map(entries);
  if (pcrs.size !== entries.length) fail('duplicate PCR index');

  const certificate = bstr(fields.get('certificate'), 'certificate', 1, MAX_CERT_LENGTH);
  const rawBundle = fields.get('cabundle');
  if (!Array.isArray(rawBundle) || rawBundle.length === 0) fail('cabundle must be a non-empty array');
  const cabundle = rawBundle.map((c, i) => bstr(c, `cabundle[${i}]`, 1, MAX_CERT_LENGTH));

  return Object.freeze({
    moduleId,
    digest: 'SHA384' as const,
    timestamp,
    pcrs,
    certificate,
    cabundle: Object.freeze(cabundle),
    publicKey: optionalBstr(fields.get('public_key'), 'public_key'),
    userData: optionalBstr(fields.get('user_data'), 'user_data'),
    nonce: optionalBstr(fields.get('nonce'), 'nonce'),
  });
}

/**
 * A document as people keep it in files: the raw COSE_Sign1 bytes, or their base64 or base64url
 * text (as the AWS vectors and `nitro-sandbox attest` print it). Raw documents begin 0x84 or 0xd2,
 * never a base64 character, so the two cannot be confused.
 */
export function documentBytesFromFile(contents: Uint8Array): Uint8Array {
  const text = Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength).toString('latin1').trim();
  if (text.length === 0 || !/^[A-Za-z0-9+/=_\s-]+$/.test(text)) return new Uint8Array(contents);
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), /[-_]/.test(text) ? 'base64url' : 'base64'));
}

export interface DecodedDocument {
  readonly cose: CoseSign1;
  readonly document: AttestationDocument;
}

/** Decodes a COSE_Sign1 attestation document; throws MalformedDocumentError on any syntax fault. */
export function decodeDocument(bytes: Uint8Array): DecodedDocument {
  const cose = decodeCoseSign1(bytes);
  return { cose, document: decodePayload(cose.payload) };
}
