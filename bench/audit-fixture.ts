// Audit logs of a given size for the audit benchmarks (audit.bench.ts, audit-verify-memory.ts):
// Decrypt-shaped CloudTrail records written by the KMS's own AuditLog, in signed batches.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../kms-proxy/audit/log.ts';
import { auditSigningKey, type AuditSigningKey } from '../kms-proxy/audit/signing-key.ts';
import type { AuditEvent } from '../kms-proxy/audit/cloudtrail.ts';

/** The key the generated logs are signed with (a fixed master key). */
export const BENCH_AUDIT_KEY: AuditSigningKey = auditSigningKey(new Uint8Array(32).fill(0x5a));

/** What a Decrypt through the SDK leaves in the log (about 1 KB of JSON). */
export const DECRYPT_EVENT: AuditEvent = {
  eventTime: Date.UTC(2026, 11, 1),
  eventName: 'Decrypt',
  region: 'us-east-1',
  account: '111122223333',
  principalArn: 'arn:aws:iam::111122223333:user/nitro-sandbox',
  accessKeyId: 'AKIAEXAMPLE000000001',
  sourceIp: '127.0.0.1',
  userAgent: 'aws-sdk-js/3.1163.0 ua/2.1 os/linux#6.18 lang/js md/nodejs#26.10.0 api/kms#3.1163.0 m/N,E,e',
  requestParameters: { EncryptionContext: { bench: 'yes' }, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  keyArn: 'arn:aws:kms:us-east-1:111122223333:key/cd71eafc-5157-4c91-8c77-d6094af40d79',
  readOnly: true,
  additionalEventData: { authorization: { effect: 'Allow', decidedBy: { kind: 'statement', index: 0, sid: 'Enable IAM User Permissions' } } },
};

/** Bytes in a data directory's segment files (default replica). */
export function auditLogBytes(dataDir: string): number {
  const dir = join(dataDir, 'audit', 'local');
  return readdirSync(dir).filter((f) => f.endsWith('.log')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/**
 * Writes records into `dataDir` until its log holds at least `bytes`, in batches of `batch`
 * (each batch one signed write, as under load). Resolves with the number of records.
 */
export async function writeAuditLog(dataDir: string, bytes: number, batch = 64, maxSegmentBytes = 64 * 1024 * 1024): Promise<number> {
  const log = await AuditLog.open({ dataDir, key: BENCH_AUDIT_KEY, region: 'us-east-1', account: '111122223333', maxSegmentBytes });
  let n = 0;
  for (let round = 1; ; round++) {
    for (let i = 0; i < batch; i++) log.append({ ...DECRYPT_EVENT, eventTime: DECRYPT_EVENT.eventTime + n + i });
    if (!log.flush()) throw new Error('could not write the benchmark log');
    n += batch;
    if (round % 256 === 0) {
      if (auditLogBytes(dataDir) >= bytes) break;
      // Let the event loop breathe (timers, I/O) on long runs.
      await new Promise((r) => setImmediate(r));
    }
  }
  log.close();
  return n;
}
