// Reads audit records in order, streaming (constant memory, lines.ts), for display: the web
// console's audit trail, `jq`-style tooling, tests. It does not verify; `verifyAuditLog` does.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_LINE_BYTES, parsePrefix, type RecordType } from './format.ts';
import { DEFAULT_REPLICA, listSegments, replicaDir, segmentFile } from './layout.ts';
import { lineBatches, type ReadLimits } from './lines.ts';
import { AuditLogError } from './problem.ts';

export interface AuditEntry {
  readonly replica: string;
  readonly segment: number;
  /** 1-based line in the segment (0 where unknown: recentAuditRecords of a segment read in part). */
  readonly line: number;
  readonly sequence: number;
  readonly recordType: RecordType;
  /** Whether the line carries a batch signature (the member itself is left out of `record`). */
  readonly signed: boolean;
  /** The record's members: for AwsApiCall the CloudTrail event, with `sequence`, `previousHash`, `recordType`. */
  readonly record: Readonly<Record<string, unknown>>;
}

export interface ReadOptions extends ReadLimits {
  /** The replica whose chain is read; default `local`. */
  readonly replica?: string;
  /** Only records of these types. */
  readonly types?: readonly RecordType[];
}

/**
 * The records of one replica's chain, oldest first. A line that is not a record ends the
 * iteration with an error naming it (ERR_AUDIT_MALFORMED); run verifyAuditLog for the whole story.
 */
export async function* readAuditRecords(dataDir: string, options: ReadOptions = {}): AsyncGenerator<AuditEntry, void, undefined> {
  const replica = options.replica ?? DEFAULT_REPLICA;
  const dir = replicaDir(dataDir, replica);
  const types = options.types ? new Set<string>(options.types) : undefined;
  for (const segment of listSegments(dir)) {
    for await (const batch of lineBatches(join(dir, segmentFile(segment)), options)) {
      const entries: AuditEntry[] = [];
      for (const ev of batch) {
        const p = 'tooLong' in ev ? undefined : parsePrefix(ev.bytes);
        let record: Record<string, unknown> | undefined;
        if (p && 'bytes' in ev && ev.complete) {
          if (types && !types.has(p.recordType)) continue;
          try {
            record = JSON.parse(ev.bytes.toString('utf8')) as Record<string, unknown>;
          } catch {
            record = undefined;
          }
        }
        if (!p || !record) {
          const message = `${join(dir, segmentFile(segment))} line ${ev.number} is not an audit record`;
          throw new AuditLogError(message, { code: 'ERR_AUDIT_MALFORMED', replica, segment, line: ev.number, message });
        }
        const { signature, ...rest } = record;
        entries.push({ replica, segment, line: ev.number, sequence: p.sequence, recordType: p.recordType, signed: typeof signature === 'string', record: rest });
      }
      // Parsed copies, not views: safe to hold after the next read.
      yield* entries;
    }
  }
}

export interface RecentOptions {
  /** At most this many records, the newest. */
  readonly limit: number;
  readonly replica?: string;
  readonly types?: readonly RecordType[];
  /** At most this much is read from the end of each segment looked at; default 1 MiB. */
  readonly maxBytes?: number;
}

/**
 * The newest `limit` records of a replica's chain, oldest first, read from the end of its last
 * segments (at most `maxBytes` of each; a web console's live trail). Lines that are not records —
 * a batch being written — are left out. Like readAuditRecords, it does not verify.
 */
export function recentAuditRecords(dataDir: string, options: RecentOptions): AuditEntry[] {
  const replica = options.replica ?? DEFAULT_REPLICA;
  const dir = replicaDir(dataDir, replica);
  const types = options.types ? new Set<string>(options.types) : undefined;
  const maxBytes = options.maxBytes ?? MAX_LINE_BYTES;
  const out: AuditEntry[] = [];
  const segments = listSegments(dir);
  for (let i = segments.length - 1; i >= 0 && out.length < options.limit; i--) {
    const segment = segments[i] ?? 0;
    const fd = openSync(join(dir, segmentFile(segment)), 'r');
    let text: string;
    let whole: boolean;
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      text = buf.toString('utf8');
      whole = len === size;
    } finally {
      closeSync(fd);
    }
    const lines = text.split('\n');
    lines.pop(); // after the last "\n": empty, or a line being written
    if (!whole) lines.shift(); // begins mid-line
    const found: AuditEntry[] = [];
    for (const l of lines) {
      const bytes = Buffer.from(l, 'utf8');
      const p = parsePrefix(bytes);
      if (!p || (types && !types.has(p.recordType))) continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(l) as Record<string, unknown>;
      } catch {
        continue;
      }
      const { signature, ...rest } = record;
      // Line numbers are known only when the segment was read whole.
      found.push({ replica, segment, line: 0, sequence: p.sequence, recordType: p.recordType, signed: typeof signature === 'string', record: rest });
    }
    out.unshift(...found.slice(-(options.limit - out.length)));
    if (!whole) break;
  }
  return out;
}

/** A token that changes whenever a replica's log is written to (its last segment's name, size and time). */
export function auditLogVersion(dataDir: string, replica: string = DEFAULT_REPLICA): string {
  const dir = replicaDir(dataDir, replica);
  const last = listSegments(dir).at(-1);
  if (last === undefined) return 'none';
  try {
    const st = statSync(join(dir, segmentFile(last)));
    return `${last}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'none';
  }
}
