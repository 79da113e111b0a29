// How the audit log is segmented and summarized (`KmsOptions.audit`), checked before anything is
// opened.
import { KmsError } from '../errors.ts';
import { checkReplicaId, DEFAULT_REPLICA } from './layout.ts';

/** How the log is segmented and summarized; `KmsOptions.audit`. */
export interface AuditSettings {
  /** This KMS's chain, `audit/<replica>/`; default `local`. Replicas sharing a store need distinct ids. */
  readonly replica?: string;
  /** A segment is closed at the first batch after it reaches this size; default 64 MiB. */
  readonly maxSegmentBytes?: number;
  /** … or this age (on the KMS clock); default 24 hours. */
  readonly maxSegmentAgeMs?: number;
  /** How often counted calls are written as a RequestSummary; default 60 s. */
  readonly summaryIntervalMs?: number;
}

export const DEFAULT_AUDIT_SETTINGS = Object.freeze({
  replica: DEFAULT_REPLICA,
  maxSegmentBytes: 64 * 1024 * 1024,
  maxSegmentAgeMs: 24 * 60 * 60 * 1000,
  summaryIntervalMs: 60_000,
});

/** Numeric option check shared by the settings: a whole number in range, else ValidationException. */
function setting(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new KmsError('ValidationException', `audit.${name} must be a whole number ≥ ${min}, got ${String(value)}`);
  return value;
}

/** Checks `AuditSettings` before anything is opened. */
export function auditSettings(s: AuditSettings = {}): Required<AuditSettings> {
  const replica = s.replica ?? DEFAULT_REPLICA;
  checkReplicaId(replica);
  return {
    replica,
    maxSegmentBytes: setting('maxSegmentBytes', s.maxSegmentBytes, DEFAULT_AUDIT_SETTINGS.maxSegmentBytes, 4096),
    maxSegmentAgeMs: setting('maxSegmentAgeMs', s.maxSegmentAgeMs, DEFAULT_AUDIT_SETTINGS.maxSegmentAgeMs, 1000),
    // A timer above 2^31 − 1 ms fires every millisecond in Node.
    summaryIntervalMs: Math.min(setting('summaryIntervalMs', s.summaryIntervalMs, DEFAULT_AUDIT_SETTINGS.summaryIntervalMs, 100), 2 ** 31 - 1),
  };
}
