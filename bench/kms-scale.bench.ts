// KMS at the scale of one busy account (issue 14, "Scale of one account"), each figure a ratio
// against a baseline measured in the same run, on the same server:
//
// 1. ListKeys {Limit: 1} of an account with 30,000 keys vs of an account with 10 keys: the page is
//    read from the store's index, so its cost does not grow with the account. Target ≥ 0.5 (the
//    30k account's call within 2× of the 10-key account's).
// 2. Decrypt p99 latency of one client while another client of the same account floods ListKeys
//    {Limit: 1000} over those 30,000 keys, vs the same client's p99 with no flood. Target ≥ 1/3 (the
//    p99 under the flood at most 3× the idle one). Latencies are reported as rates (1/p99).
//
// The KMS runs in its own process, as `kms serve` does (this file doubles as that child:
// `node bench/kms-scale.bench.ts serve DIR`), and so does the flood (`… flood PORT FILE`), a few
// keep-alive connections replaying one pre-signed request (SigV4 allows reuse within 5 minutes)
// without backoff, as fast as the server answers. The Decrypt client is the unmodified
// @aws-sdk/client-kms in this process, one call at a time.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { createKmsApp, SqliteKeyStore, startKmsServer, type Credential, type KeyRecord } from '../kms-proxy/index.ts';
import { defaultKeyPolicy } from '../kms-proxy/policy/document.ts';
import { signedRequest } from '../test/kms-proxy/sign.ts';
import { result, type Benchmark } from './harness.ts';

const BIG = '111122223333';
const SMALL = '444455556666';
const BIG_KEYS = 30_000;
const SMALL_KEYS = 10;
const REGION = 'us-east-1';
const FLOOD_CONNECTIONS = 8;

const lister: Credential = { accessKeyId: 'AKIABENCHLISTER00001', secretAccessKey: 'bench-lister-secret', principalArn: `arn:aws:iam::${BIG}:user/lister`, account: BIG };
const decrypter: Credential = { accessKeyId: 'AKIABENCHDECRYPT0001', secretAccessKey: 'bench-decrypt-secret', principalArn: `arn:aws:iam::${BIG}:user/app`, account: BIG };
const small: Credential = { accessKeyId: 'AKIABENCHSMALL000001', secretAccessKey: 'bench-small-secret', principalArn: `arn:aws:iam::${SMALL}:user/small`, account: SMALL };

function keyRecord(account: string, keyId: string): KeyRecord {
  return {
    keyId,
    arn: `arn:aws:kms:${REGION}:${account}:key/${keyId}`,
    account,
    region: REGION,
    creationDate: Date.now(),
    description: '',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    origin: 'AWS_KMS',
    state: 'Enabled',
    policy: defaultKeyPolicy(account),
    rotationEnabled: false,
    tags: [],
  };
}

/**
 * The child: opens the KMS once (a data directory whose store exists must have its audit log, so
 * the KMS makes both first), fills the store (one transaction per account), then serves it.
 */
async function serveChild(dir: string): Promise<void> {
  await (await createKmsApp({ dataDir: dir, credentials: [lister, decrypter, small] })).close();
  const store = new SqliteKeyStore({ dataDir: dir });
  const fill = (account: string, n: number) => Array.from({ length: n }, () => ({ key: keyRecord(account, randomUUID()) }));
  await store.createKeys(fill(BIG, BIG_KEYS));
  await store.createKeys(fill(SMALL, SMALL_KEYS));
  await store.close();
  // Generous rates: the benchmark measures the server's work, not the request quotas.
  const kms = await startKmsServer({ port: 0, host: '127.0.0.1', dataDir: dir, credentials: [lister, decrypter, small], quotas: { cryptographic: { rate: 1e9 }, list: { rate: 1e9 } } });
  process.stdout.write(`${JSON.stringify({ port: Number(new URL(kms.endpoint).port) })}\n`);
}

interface Replay {
  readonly port: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The flood child: FLOOD_CONNECTIONS loops replaying one request until killed. */
function floodChild(file: string): void {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Replay;
  const agent = new Agent({ keepAlive: true, maxSockets: FLOOD_CONNECTIONS });
  let sent = 0;
  const loop = () => {
    const req = request({ host: '127.0.0.1', port: r.port, method: 'POST', path: '/', headers: r.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        sent++;
        loop();
      });
    });
    req.on('error', () => setTimeout(loop, 10));
    req.end(r.body);
  };
  for (let i = 0; i < FLOOD_CONNECTIONS; i++) loop();
  // Says it runs once the first responses are back, so the measurement starts under load.
  const ready = setInterval(() => {
    if (sent >= FLOOD_CONNECTIONS) {
      clearInterval(ready);
      process.stdout.write('flooding\n');
    }
  }, 5);
}

async function child(args: string[], wait: string): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    rl.on('line', (l) => {
      if (l.startsWith(wait)) resolve(l);
    });
    proc.once('exit', (c) => reject(new Error(`bench child ${args[0]} exited (${c})`)));
  });
  return { proc, line };
}

async function replay(cred: Credential, port: number, target: string, body: unknown): Promise<Replay> {
  const text = JSON.stringify(body);
  const signed = await signedRequest(cred, text, { target, host: `127.0.0.1:${port}` });
  return { port, headers: { ...(signed.init.headers as Record<string, string>), 'content-length': String(Buffer.byteLength(text)) }, body: text };
}

/** Calls per second of `r` replayed from `connections` keep-alive loops for `ms`. */
async function rate(agent: Agent, r: Replay, ms: number, connections = 4): Promise<number> {
  let done = 0;
  const start = performance.now();
  const end = start + ms;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: r.port, method: 'POST', path: '/', headers: r.headers, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(r.body);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        await one();
        done++;
      }
    }),
  );
  return (done * 1000) / (performance.now() - start);
}

/** The 99th percentile of `n` sequential calls' latencies, in ms. */
async function p99(send: () => Promise<unknown>, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await send();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))] ?? Number.NaN;
}

async function withServer<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-scale-'));
  let server: ChildProcess | undefined;
  try {
    const started = await child(['serve', dir], '{');
    server = started.proc;
    return await fn((JSON.parse(started.line) as { port: number }).port);
  } finally {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: `kms scale: ListKeys {Limit: 1} of an account with ${BIG_KEYS} keys vs one with ${SMALL_KEYS}`,
    async run() {
      return withServer(async (port) => {
        const agent = new Agent({ keepAlive: true, maxSockets: 4 });
        try {
          const big = await replay(lister, port, 'TrentService.ListKeys', { Limit: 1 });
          const few = await replay(small, port, 'TrentService.ListKeys', { Limit: 1 });
          await rate(agent, big, 300);
          await rate(agent, few, 300);
          let f = 0;
          let b = 0;
          for (let i = 0; i < 3; i++) {
            b = Math.max(b, await rate(agent, few, 1000));
            f = Math.max(f, await rate(agent, big, 1000));
          }
          return result(this.name, { rate: f, unit: 'ListKeys/s' }, { rate: b, unit: 'ListKeys/s', name: `the same call for an account with ${SMALL_KEYS} keys, same server` }, 0.5, '4 keep-alive connections replaying one signed request each');
        } finally {
          agent.destroy();
        }
      });
    },
  },
  {
    name: `kms scale: Decrypt p99 of one client while another floods ListKeys {Limit: 1000} over ${BIG_KEYS} keys, vs idle`,
    async run() {
      return withServer(async (port) => {
        const kms = new KMSClient({ endpoint: `http://127.0.0.1:${port}`, region: REGION, credentials: decrypter, maxAttempts: 1 });
        const dir = mkdtempSync(join(tmpdir(), 'kms-scale-flood-'));
        let flood: ChildProcess | undefined;
        try {
          const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
          const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(32) }))).CiphertextBlob;
          const decrypt = () => kms.send(new DecryptCommand({ CiphertextBlob: blob }));
          const file = join(dir, 'replay.json');
          writeFileSync(file, JSON.stringify(await replay(lister, port, 'TrentService.ListKeys', { Limit: 1000 })));
          await p99(decrypt, 300);
          let idle = Number.POSITIVE_INFINITY;
          let flooded = Number.POSITIVE_INFINITY;
          for (let i = 0; i < 3; i++) {
            idle = Math.min(idle, await p99(decrypt, 1000));
            const f = await child(['flood', file], 'flooding');
            flood = f.proc;
            flooded = Math.min(flooded, await p99(decrypt, 1000));
            flood.kill('SIGTERM');
            await new Promise((r) => flood?.once('exit', r));
            flood = undefined;
          }
          return result(
            this.name,
            { rate: 1000 / flooded, unit: '1/p99 (p99 ' + flooded.toFixed(2) + ' ms)' },
            { rate: 1000 / idle, unit: '1/p99 (p99 ' + idle.toFixed(2) + ' ms)', name: 'the same client with no flood' },
            1 / 3,
            `1000 sequential @aws-sdk/client-kms Decrypts per round, best of 3; flood: ${FLOOD_CONNECTIONS} keep-alive connections in another process, no backoff`,
          );
        } finally {
          flood?.kill('SIGTERM');
          kms.destroy();
          rmSync(dir, { recursive: true, force: true });
        }
      });
    },
  },
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'serve') await serveChild(process.argv[3] ?? mkdtempSync(join(tmpdir(), 'kms-scale-')));
  else if (process.argv[2] === 'flood') floodChild(process.argv[3] ?? '');
}
