// The audit log: one CloudTrail-shaped JSON record per call (CloudTrail User Guide, "CloudTrail
// record contents"), appended to `audit.log` in the data directory, hash-chained so that any edit,
// deletion or reordering is detectable (`verifyAuditLog`, `nitro-sandbox kms audit verify`).
//
// Line format: the record serialized as JSON, whose last member is `"hash"`: the SHA-256 (hex) of
// the exact line text before `,"hash":…`, which itself contains `sequence` (1, 2, …) and
// `previousHash` (the previous line's hash; 64 zeros for the first). `audit.head` holds the last
// sequence and hash written, so cutting lines off the end is detected too.
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KmsError } from './errors.ts';

const GENESIS = '0'.repeat(64);
/**
 * Records are written in batches every FLUSH_MS (one write(2) per batch keeps the audit log off
 * the request path); `audit.head` follows every HEAD_MS. A kill -9 can lose the last batch, never
 * corrupt the chain: the head may lag the log, and verification allows that.
 */
const FLUSH_MS = 10;
const HEAD_MS = 200;
const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

/** Members never written to the log: key material, plaintext and ciphertext. */
const SECRET_FIELDS = new Set([
  'Plaintext', 'CiphertextBlob', 'SourceCiphertextBlob', 'PrivateKeyPlaintext', 'PrivateKeyCiphertextBlob',
  'Message', 'Signature', 'Mac', 'SharedSecret', 'EncryptedKeyMaterial', 'ImportToken', 'PublicKey',
  'CiphertextForRecipient', 'Recipient', 'GrantToken', 'GrantTokens',
]);

/** Members that are the caller's own string maps: copied verbatim, keys not re-cased. */
const MAP_FIELDS = new Set(['EncryptionContext', 'SourceEncryptionContext', 'DestinationEncryptionContext', 'EncryptionContextSubset', 'EncryptionContextEquals']);

/** Drops secrets and writes member names in CloudTrail's lowerCamelCase. */
function redact(value: unknown): unknown {
  if (value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_FIELDS.has(k)) continue;
      const r = MAP_FIELDS.has(k) ? v : redact(v);
      if (r !== undefined) out[k.charAt(0).toLowerCase() + k.slice(1)] = r;
    }
    return out;
  }
  return value;
}

export interface AuditEvent {
  readonly eventTime: number;
  readonly eventName: string;
  readonly region: string;
  readonly account: string;
  readonly principalArn?: string;
  readonly accessKeyId?: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
  readonly requestParameters?: unknown;
  readonly responseElements?: unknown;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly keyArn?: string;
  readonly readOnly: boolean;
  readonly additionalEventData?: Readonly<Record<string, unknown>>;
}

function cloudTrailRecord(e: AuditEvent): Record<string, unknown> {
  return {
    eventVersion: '1.08',
    userIdentity: e.principalArn
      ? { type: e.principalArn.endsWith(':root') ? 'Root' : 'IAMUser', principalId: e.accessKeyId ?? e.account, arn: e.principalArn, accountId: e.account, ...(e.accessKeyId ? { accessKeyId: e.accessKeyId } : {}) }
      : { type: 'Anonymous' },
    eventTime: new Date(e.eventTime).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'kms.amazonaws.com',
    eventName: e.eventName,
    awsRegion: e.region,
    sourceIPAddress: e.sourceIp ?? null,
    userAgent: e.userAgent ?? null,
    ...(e.errorCode !== undefined ? { errorCode: e.errorCode, errorMessage: e.errorMessage ?? '' } : {}),
    requestParameters: e.requestParameters === undefined ? null : redact(e.requestParameters),
    responseElements: e.responseElements === undefined || e.errorCode !== undefined ? null : redact(e.responseElements),
    ...(e.additionalEventData ? { additionalEventData: e.additionalEventData } : {}),
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: e.readOnly,
    resources: e.keyArn ? [{ accountId: e.account, type: 'AWS::KMS::Key', ARN: e.keyArn }] : [],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: e.account,
    eventCategory: 'Management',
  };
}

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Appends records; lines are buffered for one event-loop turn and written with one syscall. */
export class AuditLog {
  readonly #dir: string;
  readonly #fd: number;
  #sequence: number;
  #hash: string;
  #pending: string[] = [];
  #scheduled = false;
  #headScheduled = false;
  #closed = false;
  /** Last record handed to the kernel, and the last one the head file names. */
  #written: { sequence: number; hash: string } = { sequence: 0, hash: GENESIS };
  #headWritten: { sequence: number; hash: string } | undefined;

  constructor(dataDir: string) {
    this.#dir = dataDir;
    const path = join(dataDir, 'audit.log');
    const last = lastLine(path);
    const end = last === undefined ? { sequence: 0, hash: GENESIS } : chainEnd(last);
    // Appending after a line that is not a record would write sequence null or hide the break.
    if (end === undefined) throw new KmsError('KMSInternalException', `${path} does not end with an audit record; 'nitro-sandbox kms audit verify' shows where it breaks`);
    this.#sequence = end.sequence;
    this.#hash = end.hash;
    this.#written = end;
    this.#fd = openSync(path, 'a', 0o600);
  }

  append(e: AuditEvent): void {
    if (this.#closed) return;
    this.#sequence += 1;
    const body = JSON.stringify({ sequence: this.#sequence, previousHash: this.#hash, ...cloudTrailRecord(e) });
    this.#hash = sha256(body);
    this.#pending.push(`${body.slice(0, -1)},"hash":"${this.#hash}"}\n`);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.flush(), FLUSH_MS).unref();
    }
  }

  /** Writes buffered records (one syscall); the head file follows at most every HEAD_MS. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    writeSync(this.#fd, text);
    this.#written = { sequence: this.#sequence, hash: this.#hash };
    if (!this.#headScheduled) {
      this.#headScheduled = true;
      setTimeout(() => this.#writeHead(), HEAD_MS).unref();
    }
  }

  #writeHead(): void {
    this.#headScheduled = false;
    if (this.#closed && this.#headWritten === this.#written) return;
    const head = join(this.#dir, 'audit.head');
    writeFileSync(`${head}.tmp`, JSON.stringify({ sequence: this.#written.sequence, hash: this.#written.hash }), { mode: 0o600 });
    renameSync(`${head}.tmp`, head);
    this.#headWritten = this.#written;
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#writeHead();
    closeSync(this.#fd);
  }
}

/** The sequence and hash a record line ends the chain with; undefined when it is not a record. */
function chainEnd(line: string): { sequence: number; hash: string } | undefined {
  const hash = HASH_SUFFIX.exec(line)?.[1];
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return undefined;
  }
  const sequence = rec !== null && typeof rec === 'object' ? (rec as { sequence?: unknown }).sequence : undefined;
  return hash !== undefined && typeof sequence === 'number' && Number.isSafeInteger(sequence) && sequence > 0 ? { sequence, hash } : undefined;
}

function lastLine(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    const len = Math.min(size, 1 << 20);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n').filter((l) => l !== '');
    return lines.at(-1);
  } finally {
    closeSync(fd);
  }
}

export interface AuditProblem {
  /** ERR_AUDIT_MALFORMED | ERR_AUDIT_EDITED | ERR_AUDIT_CHAIN | ERR_AUDIT_SEQUENCE | ERR_AUDIT_TRUNCATED | ERR_AUDIT_MISSING */
  readonly code: string;
  /** 1-based line number in audit.log (0 for the head file). */
  readonly line: number;
  readonly message: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  readonly records: number;
  readonly problem?: AuditProblem;
}

/** Re-derives the chain from the first line; reports the first break. */
export function verifyAuditLog(dataDir: string): AuditVerification {
  const path = join(dataDir, 'audit.log');
  let prev = GENESIS;
  let n = 0;
  const fail = (code: string, line: number, message: string): AuditVerification => ({ ok: false, records: n, problem: { code, line, message } });
  // A KMS creates audit.log when it starts, so its absence is a wrong directory or a deleted log,
  // never an intact one.
  if (!existsSync(path)) return fail('ERR_AUDIT_MISSING', 0, `there is no audit.log in ${dataDir}`);
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const m = HASH_SUFFIX.exec(line);
    let rec: { sequence?: unknown; previousHash?: unknown };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      return fail('ERR_AUDIT_MALFORMED', i + 1, 'line is not JSON');
    }
    if (!m) return fail('ERR_AUDIT_MALFORMED', i + 1, 'line has no trailing hash');
    const body = `${line.slice(0, m.index)}}`;
    if (sha256(body) !== m[1]) return fail('ERR_AUDIT_EDITED', i + 1, 'record does not match its hash (edited)');
    if (rec.sequence !== i + 1) return fail('ERR_AUDIT_SEQUENCE', i + 1, `expected sequence ${i + 1}, found ${String(rec.sequence)} (records deleted or reordered)`);
    if (rec.previousHash !== prev) return fail('ERR_AUDIT_CHAIN', i + 1, 'previousHash does not match the previous record (deleted or reordered)');
    prev = m[1] ?? '';
    n++;
  }
  const headPath = join(dataDir, 'audit.head');
  if (existsSync(headPath)) {
    let head: { sequence?: unknown; hash?: unknown };
    try {
      head = JSON.parse(readFileSync(headPath, 'utf8')) as typeof head;
    } catch {
      return fail('ERR_AUDIT_MALFORMED', 0, 'audit.head is not JSON');
    }
    if (head === null || typeof head !== 'object' || Array.isArray(head)) return fail('ERR_AUDIT_MALFORMED', 0, 'audit.head is not a JSON object');
    // The head may lag the log by one unflushed batch after a crash, never lead it.
    if (typeof head.sequence !== 'number' || head.sequence > n) return fail('ERR_AUDIT_TRUNCATED', 0, `audit.head records ${String(head.sequence)} entries, log has ${n} (records deleted from the end)`);
    const at = lines[head.sequence - 1];
    if (head.sequence > 0 && (at === undefined || HASH_SUFFIX.exec(at)?.[1] !== head.hash)) return fail('ERR_AUDIT_CHAIN', head.sequence, 'audit.head hash does not match the log');
  }
  return { ok: true, records: n };
}
