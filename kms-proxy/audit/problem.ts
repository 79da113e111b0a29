// What is wrong with an audit log: the problem codes `verifyAuditLog` reports (and
// `kms audit verify` prints), and the error that carries one when the KMS refuses a log or a
// reader meets a line that is not a record.
import { KmsError } from '../errors.ts';

export type AuditProblemCode =
  /** No audit log in the directory (a KMS creates one when it starts). */
  | 'ERR_AUDIT_MISSING'
  /** An unkeyed `audit.log` of an earlier version: set it aside with `kms audit recover`. */
  | 'ERR_AUDIT_LEGACY'
  /** No public key given and no readable master.key to derive it from. */
  | 'ERR_AUDIT_NO_KEY'
  /** A line, or the head, is not a record: not JSON, too long, cut short. */
  | 'ERR_AUDIT_MALFORMED'
  /** A record is missing, inserted or out of order. */
  | 'ERR_AUDIT_SEQUENCE'
  /** A line no longer matches the hash its successor links to. */
  | 'ERR_AUDIT_EDITED'
  /** The chain's first record does not start a chain. */
  | 'ERR_AUDIT_CHAIN'
  /** The chain's last record carries no signature. */
  | 'ERR_AUDIT_UNSIGNED'
  /** A signature (last record or head) does not verify: rewritten. */
  | 'ERR_AUDIT_SIGNATURE'
  /** A segment was written under another key than the trusted one. */
  | 'ERR_AUDIT_KEY'
  /** Segments missing, renamed, moved between replicas, or not starting with SegmentStart. */
  | 'ERR_AUDIT_SEGMENT'
  /** The head names a record past the end of the log: records were cut off. */
  | 'ERR_AUDIT_TRUNCATED'
  /** Records but no head.json: the head was deleted. */
  | 'ERR_AUDIT_HEAD_MISSING'
  /** The head names a record the log holds with another hash, or another replica. */
  | 'ERR_AUDIT_HEAD'
  /** A file a recovery set aside is missing or changed. */
  | 'ERR_AUDIT_EVIDENCE'
  /** The log does not hold the record a head saved earlier names: an older copy was put back. */
  | 'ERR_AUDIT_ROLLED_BACK';

export interface AuditProblem {
  readonly code: AuditProblemCode;
  readonly replica?: string;
  /** Segment number; 0 for the head file and the folder itself. */
  readonly segment: number;
  /** 1-based line in the segment; 0 for the head file and the folder itself. */
  readonly line: number;
  readonly message: string;
}

/** A KMS error (ERR_KMS_INTERNAL) carrying the audit problem behind it. */
export class AuditLogError extends KmsError {
  readonly problem: AuditProblem;
  constructor(message: string, problem: AuditProblem) {
    super('KMSInternalException', message, { detail: problem.code });
    this.problem = problem;
  }
}

/** The KMS's refusal to start on a log that fails verification, with the way out. */
export function refusal(dataDir: string, problem: AuditProblem): AuditLogError {
  const where = problem.segment > 0 ? ` (replica ${problem.replica ?? '?'}, segment ${problem.segment}, line ${problem.line})` : '';
  return new AuditLogError(
    `The audit log in ${dataDir} fails verification: ${problem.code}${where}: ${problem.message}. ` +
      `The KMS does not start on it. Inspect it with 'nitro-sandbox kms audit verify --data-dir ${dataDir}'; then ` +
      `'nitro-sandbox kms audit recover --data-dir ${dataDir} --reason "…"' sets it aside (kept, its digests recorded) and starts a new segment that records why.`,
    problem,
  );
}
