// Reads audit records in order, streaming (constant memory, lines.ts), for display: the web
// console's audit trail, `jq`-style tooling, tests. It does not verify; `verifyAuditLog` does.
import { join } from 'node:path';
import { parsePrefix, type RecordType } from './format.ts';
import { DEFAULT_REPLICA, listSegments, replicaDir, segmentFile } from './layout.ts';
import { lineBatches, type ReadLimits } from './lines.ts';
import { AuditLogError } from './problem.ts';

export interface AuditEntry {
  readonly replica: string;
  readonly segment: number;
  /** 1-based line in the segment. */
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
