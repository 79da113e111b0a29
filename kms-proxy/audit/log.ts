// The audit log writer: one chain per replica, in segments rotated by size and age, each batch
// signed (format.ts), the head following.
//
// Writes are group commits: a call's record is appended to memory when the call has its answer,
// and every record appended in the same turn of the event loop is written at the end of that turn
// (setImmediate) as one batch, in one positional write(2) whose last line carries the batch's
// signature. `append` resolves once its batch is written, and the server sends the answer only
// then: a record is in the kernel's page cache, signed, before its call is acknowledged, so a
// kill -9 of the KMS never loses the record of an answered call. A power loss can lose what the
// kernel had not written to disk: at most HEAD_MS of batches, since the segment is fsynced before
// each head write (the head names only fsynced records). A batch cut short by a crash is set aside
// at the next start (a signed Recovery record says so); the signed chain is never broken, and the
// head may lag the log, never lead it.
//
// When a write fails (disk full, I/O error) nothing is dropped and nothing is written twice: the
// file is cut back to the end of the last complete batch, the batch stays in memory and is written
// whole by a retry every RETRY_MS (each write starts at the same offset, so a partial write is
// overwritten). Meanwhile `available` is false and the server refuses new calls
// (KMSInternalException) rather than answer calls it cannot record; those refusals are counted in a
// RequestSummary record. The failure is reported once to `onError`. Calls already running finish
// and their records wait in memory for the retry. Head writes that fail are reported and retried;
// a head that lags is allowed.
import { randomUUID } from 'node:crypto';
import { closeSync, constants, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KmsError } from '../errors.ts';
import { cloudTrailJson, cloudTrailRecord, type AuditEvent } from './cloudtrail.ts';
import { encodeHead, FORMAT_VERSION, isoTime, lineHash, MAX_RECORD_BYTES, recordLine, signLine, type RecordType } from './format.ts';
import { moveTail } from './files.ts';
import { HEAD_FILE, newRecoveredDir, replicaDir, segmentFile } from './layout.ts';
import { auditSettings, type AuditSettings } from './settings.ts';
import type { AuditSigningKey } from './signing-key.ts';
import { RequestSummary, type CountedCall } from './summary.ts';
import { refusal, type AuditProblem } from './problem.ts';
import { emptyLogProblem, legacyProblem, verifyReplica, type ChainEnd } from './verify.ts';

const HEAD_MS = 200;
const RETRY_MS = 1000;
/** The `detail` of calls refused because the log cannot be written. */
export const AUDIT_UNAVAILABLE = 'ERR_AUDIT_UNAVAILABLE: the audit log cannot be written';

export interface AuditLogOptions extends AuditSettings {
  readonly dataDir: string;
  readonly key: AuditSigningKey;
  /** For RequestSummary records. */
  readonly region?: string;
  readonly account?: string;
  /** Epoch milliseconds for record times and segment age; default Date.now. */
  readonly now?: () => number;
  /** Write failures (once per failure, not per retry); default: to stderr. */
  readonly onError?: (error: unknown) => void;
  /** The positional write(2) (default fs.writeSync): injected by tests to fail as a full disk does. */
  readonly write?: (fd: number, buffer: Buffer, offset: number, length: number, position: number) => number;
  /**
   * The KMS had served from this directory before (its store existed): an empty chain is then a
   * deleted log, refused (ERR_AUDIT_MISSING), not a new one. So is an empty replica folder.
   */
  readonly logExpected?: boolean;
  /** Recovery only (recover.ts): the Recovery record that starts a new chain. */
  readonly recovery?: Readonly<Record<string, unknown>>;
  /** Told each head written (head.json's text): replicas record it in their shared store. */
  readonly onHead?: (head: string) => void;
}

interface Written {
  readonly segment: number;
  readonly sequence: number;
  readonly lineHash: string;
}

type PositionalWrite = NonNullable<AuditLogOptions['write']>;

/** Writes all of `buf` at `position`, looping over short writes (a full disk writes part, then fails). */
function writeAll(write: PositionalWrite, fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = write(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw new Error(`write(2) wrote ${n} bytes`);
    done += n;
  }
}

export class AuditLog {
  readonly #dir: string;
  readonly #key: AuditSigningKey;
  readonly #replica: string;
  readonly #region: string;
  readonly #account: string;
  readonly #now: () => number;
  readonly #report: (error: unknown) => void;
  readonly #write: PositionalWrite;
  readonly #maxBytes: number;
  readonly #maxAge: number;
  readonly #summary = new RequestSummary();
  readonly #summaryTimer: NodeJS.Timeout;
  readonly #onHead: ((head: string) => void) | undefined;

  #fd = -1;
  #segment = 0;
  /** Bytes of complete batches in the current segment: where the next write starts. */
  #offset = 0;
  #segmentStartedAt = Number.NaN;
  #segmentRecords = 0;
  #sequence = 0;
  /** The hash the next record links to: of the last line in memory, or on disk once written. */
  #lastHash: string;
  /** Unsigned lines not yet written, oldest first. */
  #pending: string[] = [];
  /** Told whether the batch holding their record was written (append's promises), oldest first. */
  #waiting: ((written: boolean) => void)[] = [];
  #pendingBytes = 0;
  #written: Written;
  #headWritten: Written | undefined;
  #flushTimer: NodeJS.Immediate | undefined;
  #headTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  /** The write error while writes fail; undefined when the log is writable. */
  #failure: KmsError | undefined;
  /** A failed write may have left bytes past #offset that a truncate could not remove. */
  #dirtyTail = false;
  #headFailing = false;
  #rotateFailing = false;
  #closed = false;

  /** Verifies this replica's chain and opens it for appending; refuses (AuditLogError, `refusal`) a chain that fails. */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const s = auditSettings(options);
    const legacy = legacyProblem(options.dataDir);
    if (legacy) throw refusal(options.dataDir, legacy);
    const now = options.now ?? Date.now;
    const verified = await verifyReplica(options.dataDir, s.replica, options.key.publicKey);
    let end = verified.end;
    let interrupted: Record<string, unknown> | undefined;
    if (!end) {
      const problem = verified.result.problem ?? { code: 'ERR_AUDIT_MALFORMED', segment: 0, line: 0, message: 'unknown' };
      // The one break set right here: bytes after the last signed record of the last segment and
      // nothing else wrong — a batch whose write a kill -9 or a power loss cut short. They are not
      // part of the authenticated log; they are moved aside (kept, digest recorded) and a signed
      // Recovery record says so. Anything else is refused.
      const live = options.recovery ? undefined : await verifyReplica(options.dataDir, s.replica, options.key.publicKey, { live: true });
      if (!live?.end || !((live.result.pendingBytes ?? 0) > 0)) throw refusal(options.dataDir, problem);
      end = live.end;
      interrupted = await setAsideInterruptedWrite(options.dataDir, s.replica, end, problem, live.result.records, now);
    }
    if (options.recovery && end.sequence !== 0) throw new KmsError('KMSInternalException', 'A recovery starts a new chain; this replica still has one.');
    const missing = end.sequence === 0 && !options.recovery ? emptyLogProblem(options.dataDir, s.replica, options.logExpected ?? false) : undefined;
    if (missing) throw refusal(options.dataDir, missing);
    mkdirSync(replicaDir(options.dataDir, s.replica), { recursive: true, mode: 0o700 });
    return new AuditLog(options, s, end, interrupted);
  }

  private constructor(o: AuditLogOptions, s: Required<AuditSettings>, end: ChainEnd, interrupted: Record<string, unknown> | undefined) {
    this.#dir = replicaDir(o.dataDir, s.replica);
    this.#key = o.key;
    this.#replica = s.replica;
    this.#region = o.region ?? '';
    this.#account = o.account ?? '';
    this.#now = o.now ?? Date.now;
    this.#report = o.onError ?? ((e: unknown) => process.stderr.write(`kms: audit log: ${e instanceof Error ? e.message : String(e)}\n`));
    this.#write = o.write ?? ((fd, buffer, offset, length, position) => writeSync(fd, buffer, offset, length, position));
    this.#onHead = o.onHead;
    this.#maxBytes = s.maxSegmentBytes;
    this.#maxAge = s.maxSegmentAgeMs;
    this.#sequence = end.sequence;
    this.#lastHash = end.lineHash;
    this.#written = { segment: end.segment, sequence: end.sequence, lineHash: end.lineHash };
    if (end.head && end.head.sequence === end.sequence) this.#headWritten = this.#written;
    try {
      if (end.segment === 0) {
        this.#startSegment(1, o.recovery ? 'recovery' : 'new');
      } else if (end.segmentBytes === 0) {
        // A rotation that created the file and stopped before writing to it.
        this.#startSegment(end.segment, 'resume');
      } else {
        this.#fd = openSync(join(this.#dir, segmentFile(end.segment)), constants.O_RDWR);
        this.#segment = end.segment;
        this.#offset = end.segmentBytes;
        this.#segmentStartedAt = end.segmentStartedAt;
        this.#segmentRecords = 2; // not a fresh segment: may rotate
      }
      if (o.recovery) this.#push('Recovery', o.recovery);
      if (interrupted) this.#push('Recovery', interrupted);
      // Start-up writes must succeed: a KMS that cannot write its log does not start.
      if (!this.flush()) throw this.#failure;
      if (!this.#syncAndWriteHead()) throw new KmsError('KMSInternalException', `The audit head in ${this.#dir} cannot be written.`);
    } catch (e) {
      if (this.#fd >= 0) closeSync(this.#fd);
      clearTimeout(this.#retryTimer);
      clearTimeout(this.#headTimer);
      throw e;
    }
    this.#summaryTimer = setInterval(() => this.#emitSummary(), s.summaryIntervalMs);
    this.#summaryTimer.unref();
  }

  /** False while the log cannot be written (the server then refuses calls) and after close. */
  get available(): boolean {
    return this.#failure === undefined && !this.#closed;
  }

  /** The error calls are refused with while the log cannot be written (AWS's 500 for an internal failure). */
  get unavailableError(): KmsError {
    return new KmsError('KMSInternalException', 'An internal error occurred.', { detail: AUDIT_UNAVAILABLE });
  }

  /** The signing key's id (`ed25519:…`). */
  get keyId(): string {
    return this.#key.id;
  }

  /**
   * Records one call. Resolves true once the batch holding the record is written (the call may be
   * answered), false when that write failed: the record then waits in memory for the retry and the
   * call should be answered as an internal error. Never rejects.
   */
  append(e: AuditEvent): Promise<boolean> {
    if (this.#closed) {
      this.#report(new KmsError('KMSInternalException', `A ${e.eventName} call finished after the audit log was closed; its record is not written.`));
      return Promise.resolve(false);
    }
    // The record's JSON text, and its object only for a record too large to write whole.
    const eventId = randomUUID();
    this.#pushJson('AwsApiCall', cloudTrailJson(e, eventId), () => cloudTrailRecord(e, eventId));
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Counts one refused call for the next RequestSummary (summary.ts). */
  count(c: CountedCall): void {
    if (!this.#closed) this.#summary.count(c);
  }

  /**
   * Writes the records in memory now, with the counts so far, and the head: for tests and a
   * clean shutdown. Rejects with the write error when the log cannot be written.
   */
  async flushed(): Promise<void> {
    this.#emitSummary();
    if (!this.flush()) throw this.#failure;
    this.#syncAndWriteHead();
  }

  /** Writes the records in memory as one batch; false (and retried later) when the write fails. */
  flush(): boolean {
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    const n = this.#pending.length;
    if (n === 0) return this.#failure === undefined;
    const signed = signLine(this.#pending[n - 1] ?? '', this.#key.privateKey);
    const text = n === 1 ? `${signed}\n` : `${this.#pending.slice(0, -1).join('\n')}\n${signed}\n`;
    const buf = Buffer.from(text, 'utf8');
    try {
      writeAll(this.#write, this.#fd, buf, this.#offset);
      if (this.#dirtyTail) ftruncateSync(this.#fd, this.#offset + buf.length);
      this.#dirtyTail = false;
    } catch (cause) {
      this.#failed(cause);
      this.#tell(false);
      return false;
    }
    this.#offset += buf.length;
    this.#lastHash = lineHash(signed);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#written = { segment: this.#segment, sequence: this.#sequence, lineHash: this.#lastHash };
    this.#failure = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#scheduleHead();
    this.#tell(true);
    return true;
  }

  /** Settles the waiting appends: their records were written, or the write failed (they wait in memory). */
  #tell(written: boolean): void {
    if (this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w(written);
  }

  /** Writes what is in memory and the head, then closes. Records that cannot be written are reported as lost. */
  close(): void {
    if (this.#closed) return;
    clearInterval(this.#summaryTimer);
    this.#emitSummary();
    const ok = this.flush();
    this.#closed = true;
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    for (const t of [this.#headTimer, this.#retryTimer]) clearTimeout(t);
    if (!ok) this.#report(new KmsError('KMSInternalException', `${this.#pending.length} audit records could not be written before the KMS closed and are lost.`, { cause: this.#failure }));
    // After a failed flush the failure is reported already; the head stays on what was written.
    if (ok) this.#syncAndWriteHead();
    closeSync(this.#fd);
  }

  /** Adds a record with these members. */
  #push(type: RecordType, body: Readonly<Record<string, unknown>>): void {
    this.#pushJson(type, JSON.stringify(body), () => body);
  }

  /** Adds a record whose members' JSON is `json`; `body` gives them as an object, for a record too large to keep whole. */
  #pushJson(type: RecordType, json: string, body: () => Readonly<Record<string, unknown>>): void {
    if (type !== 'SegmentStart') this.#maybeRotate();
    this.#sequence += 1;
    let line = recordLine(this.#sequence, this.#lastHash, type, json);
    if (line.length > MAX_RECORD_BYTES / 3 && Buffer.byteLength(line) > MAX_RECORD_BYTES) {
      line = recordLine(this.#sequence, this.#lastHash, type, JSON.stringify(omitLarge(body())));
    }
    this.#lastHash = lineHash(line);
    this.#pending.push(line);
    this.#pendingBytes += line.length + 1;
    this.#segmentRecords += 1;
    if (this.#flushTimer === undefined && this.#failure === undefined) {
      // The end of this turn of the event loop: every record appended in it forms one batch.
      // Referenced: an answer waits for it.
      this.#flushTimer = setImmediate(() => this.flush());
    }
  }

  #startSegment(n: number, cause: 'new' | 'size' | 'age' | 'resume' | 'recovery'): void {
    // O_CREAT without O_EXCL: the file may be an empty one left by an interrupted rotation.
    const fd = openSync(join(this.#dir, segmentFile(n)), constants.O_RDWR | constants.O_CREAT, 0o600);
    if (this.#fd >= 0) {
      try {
        fsyncSync(this.#fd);
      } catch (e) {
        this.#report(e);
      }
      closeSync(this.#fd);
    }
    this.#fd = fd;
    this.#segment = n;
    this.#offset = 0;
    this.#dirtyTail = true; // whatever the file held is cut off at the first write
    this.#segmentStartedAt = this.#now();
    this.#segmentRecords = 0;
    this.#push('SegmentStart', { format: FORMAT_VERSION, replica: this.#replica, segment: n, time: isoTime(this.#segmentStartedAt), cause, publicKey: this.#key.id });
  }

  /** Closes the segment when it is full or old: its records are written first, then the next begins. */
  #maybeRotate(): void {
    if (this.#segmentRecords < 2) return;
    const bySize = this.#offset + this.#pendingBytes >= this.#maxBytes;
    const byAge = this.#now() - this.#segmentStartedAt >= this.#maxAge;
    if ((!bySize && !byAge) || !this.flush()) return;
    try {
      this.#startSegment(this.#segment + 1, bySize ? 'size' : 'age');
      this.#rotateFailing = false;
    } catch (e) {
      // Keep writing to the current segment; rotation is tried again with the next record.
      if (!this.#rotateFailing) this.#report(new KmsError('KMSInternalException', `Could not start audit segment ${this.#segment + 1}; writing on in segment ${this.#segment}.`, { cause: e }));
      this.#rotateFailing = true;
    }
  }

  #failed(cause: unknown): void {
    try {
      ftruncateSync(this.#fd, this.#offset);
      this.#dirtyTail = false;
    } catch {
      this.#dirtyTail = true; // the next write starts at #offset anyway, and truncates after it
    }
    const first = this.#failure === undefined;
    this.#failure = new KmsError('KMSInternalException', `The audit log cannot be written (${(cause as NodeJS.ErrnoException).code ?? String(cause)}); calls are refused until it can. ${this.#pending.length} records wait in memory.`, { cause });
    if (first) this.#report(this.#failure);
    if (this.#retryTimer === undefined && !this.#closed) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.flush();
      }, RETRY_MS);
      this.#retryTimer.unref();
    }
  }

  /**
   * Every HEAD_MS after a write: the segment is fsynced (on the thread pool, off the event loop),
   * then the head written, so that after a power loss the head may lag the log but never name a
   * record the disk lost. Records of closed segments were fsynced when the segment was closed.
   */
  #scheduleHead(): void {
    if (this.#headTimer !== undefined || this.#closed) return;
    this.#headTimer = setTimeout(() => {
      this.#headTimer = undefined;
      const w = this.#written;
      if (this.#headWritten === w) return;
      if (w.segment !== this.#segment) {
        this.#writeHead(w);
        return;
      }
      fsync(this.#fd, (err) => {
        if (this.#closed) return;
        if (err && w.segment === this.#segment) this.#headFailed(err);
        else this.#writeHead(w);
      });
    }, HEAD_MS);
    this.#headTimer.unref();
  }

  /** fsyncs the segment and writes the head now (start-up, `flushed`, close). */
  #syncAndWriteHead(): boolean {
    try {
      fsyncSync(this.#fd);
    } catch (cause) {
      this.#headFailed(cause);
      return false;
    }
    return this.#writeHead(this.#written);
  }

  #headFailed(cause: unknown): void {
    if (!this.#headFailing) this.#report(new KmsError('KMSInternalException', `The audit head in ${this.#dir} cannot be written (${(cause as NodeJS.ErrnoException).code ?? String(cause)})${this.#closed ? '' : '; retrying'}.`, { cause }));
    this.#headFailing = true;
    this.#scheduleHead();
  }

  /** Writes head.json naming `w` (atomically: a temporary file renamed over it). */
  #writeHead(w: Written): boolean {
    if (this.#headWritten === w) return true;
    const path = join(this.#dir, HEAD_FILE);
    const text = encodeHead({ replica: this.#replica, segment: w.segment, sequence: w.sequence, lineHash: w.lineHash, time: isoTime(this.#now()) }, this.#key.privateKey);
    try {
      writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
    } catch (cause) {
      this.#headFailed(cause);
      return false;
    }
    this.#onHead?.(text);
    this.#headFailing = false;
    this.#headWritten = w;
    return true;
  }

  #emitSummary(): void {
    for (const body of this.#summary.take(this.#region, this.#account)) this.#push('RequestSummary', body);
  }
}

/** Moves the unsigned tail of the last segment to `recovered/<time>-interrupted-write/`; the Recovery record's members. */
async function setAsideInterruptedWrite(dataDir: string, replica: string, end: ChainEnd, problem: AuditProblem, verifiedRecords: number, now: () => number): Promise<Record<string, unknown>> {
  const dir = replicaDir(dataDir, replica);
  const rel = newRecoveredDir(dir, now(), '-interrupted-write');
  const name = segmentFile(end.segment);
  const moved = await moveTail(join(dir, name), end.segmentBytes, join(dir, rel, name));
  return {
    time: isoTime(now()),
    automatic: true,
    reason: `interrupted write: the ${moved.bytes} bytes after the last signed record of segment ${end.segment} (a batch whose write was cut short) were set aside at start-up`,
    operator: 'kms',
    problem: { ...problem },
    verifiedRecords,
    setAside: { dir: rel, files: [{ name, ...moved }] },
  };
}

/** A record too large for the log keeps its identity and outcome; its request and response are omitted. */
function omitLarge(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'requestParameters' || k === 'responseElements' || k === 'additionalEventData') out[k] = null;
    else if (typeof v === 'string' && v.length > 1024) out[k] = `${v.slice(0, 1024)}…`;
    else out[k] = v;
  }
  out.omitted = `requestParameters, responseElements and additionalEventData: the record exceeded ${MAX_RECORD_BYTES} bytes`;
  return out;
}
