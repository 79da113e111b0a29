// The audit log's cost.
//
// 1. Writing: Decrypt-shaped records through the KMS's AuditLog in batches of 8 (each batch one
//    positional write whose last line carries an Ed25519 signature; 8 is what a 10 ms flush
//    collects at about 800 Decrypt/s), against in-process Decrypts through the whole request path
//    (`app.request`: SigV4, policy, AES-GCM, and its own audit record), one signed request replayed.
//    Target ≥ 5: writing a record costs at most a fifth of the call it records. Per-record costs
//    for batches of 1 and 64 are in the notes, beside the unsigned chain's per-record work of
//    before (JSON and SHA-256 only).
// 2. Verifying: `verifyAuditLog` over a 64 MiB log (streamed, every line hashed and linked, the
//    last signature and the head checked), against reading the same files and hashing them whole
//    with SHA-256, the floor of any verification. Target ≥ 0.3. That memory stays flat as the log
//    grows (1 GiB) is shown by `node bench/audit-verify-memory.ts`, which measures each
//    verification's peak RSS in a fresh process.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKmsApp, verifyAuditLog } from '../kms-proxy/index.ts';
import { AuditLog } from '../kms-proxy/audit/log.ts';
import { cloudTrailRecord } from '../kms-proxy/audit/cloudtrail.ts';
import { fileDigest } from '../kms-proxy/audit/files.ts';
import { signedRequest } from '../test/kms-proxy/sign.ts';
import { BENCH_AUDIT_KEY, DECRYPT_EVENT, writeAuditLog } from './audit-fixture.ts';
import { interleavedAsync, rate, rateSync, result, type Benchmark } from './harness.ts';

/** Records per second through an AuditLog flushed every `batch` records. */
function appendRate(log: AuditLog, batch: number, ms: number): number {
  return rateSync(() => {
    for (let i = 0; i < batch; i++) log.append(DECRYPT_EVENT);
    log.flush();
  }, ms) * batch;
}

export const benchmarks: Benchmark[] = [
  {
    name: 'audit: writing a record (signed batches of 8) vs a whole in-process Decrypt',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'audit-bench-'));
      try {
        const k = await createKmsApp({ dataDir: join(dir, 'kms'), quotas: { cryptographic: { rate: 1e9 } } });
        const cred = k.credentials[0];
        if (!cred) throw new Error('no credential');
        const call = async (target: string, body: string): Promise<Record<string, unknown>> => {
          const s = await signedRequest(cred, body, { target: `TrentService.${target}` });
          return (await (await k.app.request(s.url, s.init)).json()) as Record<string, unknown>;
        };
        const keyId = ((await call('CreateKey', '{}')).KeyMetadata as { KeyId: string }).KeyId;
        const blob = (await call('GenerateDataKey', JSON.stringify({ KeyId: keyId, NumberOfBytes: 32 }))).CiphertextBlob;
        const decrypt = await signedRequest(cred, JSON.stringify({ CiphertextBlob: blob }), { target: 'TrentService.Decrypt' });
        const log = await AuditLog.open({ dataDir: join(dir, 'log'), key: BENCH_AUDIT_KEY, region: 'us-east-1', account: '111122223333' });
        const decrypts = async () => rate(async () => {
          const r = await k.app.request(decrypt.url, decrypt.init);
          if (r.status !== 200) throw new Error(`Decrypt answered ${r.status}`);
          await r.arrayBuffer();
        }, 1000);
        const { figure: records, baseline: calls } = await interleavedAsync(async () => appendRate(log, 8, 1000), decrypts);
        const perRecord = (batch: number) => (1e6 / appendRate(log, batch, 500)).toFixed(1);
        const old = rateSync(() => createHash('sha256').update(JSON.stringify({ sequence: 1, previousHash: '0'.repeat(64), ...cloudTrailRecord(DECRYPT_EVENT) })).digest('hex'), 500);
        const notes = `µs per record: batches of 1 ${perRecord(1)}, of 8 ${perRecord(8)}, of 64 ${perRecord(64)}; the unsigned chain's per-record work of before ${(1e6 / old).toFixed(1)}`;
        log.close();
        await k.close();
        return result(this.name, { rate: records, unit: 'records/s' }, { rate: calls, unit: 'Decrypt/s', name: 'Decrypt through app.request (SigV4, policy, AES-GCM, audit)' }, 5, notes);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'audit: verifying a 64 MiB log (streamed) vs reading and SHA-256 of its files',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'audit-verify-bench-'));
      try {
        const records = await writeAuditLog(dir, 64 * 1024 * 1024, 64, 16 * 1024 * 1024);
        const segDir = join(dir, 'audit', 'local');
        const files = readdirSync(segDir).filter((f) => f.endsWith('.log')).map((f) => join(segDir, f));
        let bytes = 0;
        const rssBefore = process.memoryUsage().rss;
        let rssAfter = 0;
        const { figure: verifySeconds, baseline: hashSeconds } = await interleavedAsync(
          async () => {
            const t = performance.now();
            const r = await verifyAuditLog(dir, { publicKey: BENCH_AUDIT_KEY.publicKey });
            if (!r.ok) throw new Error(`the benchmark log does not verify: ${r.problem?.code}`);
            bytes = r.replicas[0]?.bytes ?? 0;
            rssAfter = Math.max(rssAfter, process.memoryUsage().rss);
            return 1000 / (performance.now() - t);
          },
          async () => {
            const t = performance.now();
            for (const f of files) await fileDigest(f);
            return 1000 / (performance.now() - t);
          },
          2,
        );
        const mib = bytes / 2 ** 20;
        return result(
          this.name,
          { rate: verifySeconds * mib, unit: 'MiB/s verified' },
          { rate: hashSeconds * mib, unit: 'MiB/s', name: 'read + SHA-256 of the same segment files' },
          0.3,
          `${records} records, ${mib.toFixed(0)} MiB in ${files.length} segments; RSS ${(rssBefore / 2 ** 20).toFixed(0)} MiB before, at most ${(rssAfter / 2 ** 20).toFixed(0)} MiB after verifying (see bench/audit-verify-memory.ts for 1 GiB)`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
