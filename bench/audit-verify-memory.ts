// Constant memory, shown: `node bench/audit-verify-memory.ts [MiB …]` writes audit logs of the
// given sizes (default 64 and 1024 MiB) with the KMS's own AuditLog, then verifies each in a fresh
// process and prints that process's peak RSS and heap. A streaming verifier's peak is the same for
// every size; one that reads the log whole grows with it (and fails past 512 MiB, as the verifier
// before the streaming one did). Not part of `npm test` or `npm run bench`: writing 1 GiB takes a
// minute or two.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyAuditLog } from '../kms-proxy/index.ts';
import { auditLogBytes, BENCH_AUDIT_KEY, writeAuditLog } from './audit-fixture.ts';

interface Measured {
  readonly ok: boolean;
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly peakHeapMiB: number;
}

/** The child: verifies DIR, sampling the heap while it runs, and prints one JSON line. */
async function child(dir: string): Promise<void> {
  let peakHeap = 0;
  const sample = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 5);
  const t = performance.now();
  const r = await verifyAuditLog(dir, { publicKey: BENCH_AUDIT_KEY.publicKey });
  const seconds = (performance.now() - t) / 1000;
  clearInterval(sample);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const out: Measured = {
    ok: r.ok,
    records: r.records,
    bytes: r.replicas[0]?.bytes ?? 0,
    seconds,
    // maxRSS is in KiB: the whole process's high-water mark, runtime included.
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    peakHeapMiB: peakHeap / 2 ** 20,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function parent(sizes: number[]): Promise<void> {
  const rows: (Measured & { mib: number })[] = [];
  for (const mib of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'audit-mem-'));
    try {
      const t = performance.now();
      await writeAuditLog(dir, mib * 2 ** 20);
      process.stderr.write(`wrote ${(auditLogBytes(dir) / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
      const line = execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'verify', dir], { encoding: 'utf8' });
      rows.push({ mib, ...(JSON.parse(line) as Measured) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const r of rows) {
    process.stdout.write(
      `${(r.bytes / 2 ** 20).toFixed(0).padStart(6)} MiB  ${String(r.records).padStart(9)} records  ${r.ok ? 'intact' : 'BROKEN'}  ` +
        `${r.seconds.toFixed(1)} s (${(r.bytes / 2 ** 20 / r.seconds).toFixed(0)} MiB/s)  peak RSS ${r.peakRssMiB.toFixed(0)} MiB  peak heap ${r.peakHeapMiB.toFixed(1)} MiB\n`,
    );
  }
  if (rows.some((r) => !r.ok)) process.exitCode = 1;
}

if (process.argv[2] === 'verify') await child(process.argv[3] ?? '');
else await parent(process.argv.length > 2 ? process.argv.slice(2).map(Number) : [64, 1024]);
