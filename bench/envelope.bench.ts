// Envelope encryption throughput against raw node:crypto AES-256-GCM over the same data in the same
// run, on the host and inside an enclave. Target ≥ 0.85 (issue 8's acceptance figure).
//
// What is measured (bench/envelope-measure.ts): 64 MiB of random bytes as 64 KiB chunks.
// - encryption, the figure: the library's incremental encryptor (`createEncryptor`: header,
//   `update` per chunk, `final`; the same code under encryptStream and encrypt) against one
//   AES-256-GCM cipher updated with the same chunks, the least work that encrypts the same data.
// - the node stream: `encryptStream` between a Readable over the chunks and a null Writable,
//   against node:crypto's own Cipheriv as a stream in the same pipeline (like for like: both pay
//   node's stream machinery). Its ratio to the bare cipher loop is in the notes: the stream
//   machinery alone (node's Cipheriv stream against its own loop) costs 5–25 % on this machine.
// - informational: one-shot `encrypt` of 16 MiB (target 0.6; it returns one contiguous Buffer, a
//   copy the baseline never makes) and `decryptStream` (target 0.75; each frame's plaintext is held
//   until its tag verifies).
//
// Each measurement runs in a fresh process (bench/envelope-child.ts), or, for the in-enclave
// figures, in a fresh enclave whose app bundles only the library and the measurement (both sides
// run inside the enclave, under its isolation, 1 vCPU). Within a process the sides alternate over
// 15 rounds and each keeps its best. Between processes the ratio still moved by ±0.1 (node's own
// Cipheriv stream measured 0.72 of the loop in three fresh processes out of four and 0.99 in the
// fourth): how the allocator happens to place the cipher's output buffers against the input matters
// more than the code. So every figure is measured in PROCESSES fresh processes (or enclaves), and
// the one with the median ratio is reported; the range is in the notes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_FRAME_SIZE } from '../enclave/envelope/index.ts';
import type { Host } from '../host/index.ts';
import { ENVELOPE_BENCH_PORT } from './envelope-enclave-app.ts';
import { CHUNK, TOTAL, type Rates, type Which } from './envelope-measure.ts';
import { result, type Benchmark, type BenchResult } from './harness.ts';

const PROCESSES = 3;
/** Enough for the 64 MiB of chunks, one frame in flight and the runtime. */
const ENCLAVE_MEMORY_MIB = 512;
const data = `${TOTAL / 1024 / 1024} MiB in ${CHUNK / 1024} KiB chunks, ${DEFAULT_FRAME_SIZE / 1024} KiB frames`;

/** Runs one measurement in a fresh `node bench/envelope-child.ts <which>` and returns its rates. */
async function inChild(which: Which): Promise<Rates> {
  const script = fileURLToPath(new URL('./envelope-child.ts', import.meta.url));
  const child = spawn(process.execPath, [script, which], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`envelope bench child (${which}) exited with ${code}`);
  return JSON.parse(out) as Rates;
}

/** Builds bench/envelope-enclave-app.ts, runs it in PROCESSES fresh enclaves one after another. */
async function inEnclaves(): Promise<Rates[]> {
  // Imported here, not at the top, so the bench runner loads the host only when it is needed.
  const [{ buildImage }, { Host }] = await Promise.all([import('../enclave/index.ts'), import('../host/index.ts')]);
  const dir = mkdtempSync(join(tmpdir(), 'envelope-bench-'));
  let host: Host | undefined;
  try {
    const { image } = await buildImage({ entry: fileURLToPath(new URL('./envelope-enclave-app.ts', import.meta.url)) });
    host = await Host.start({ dataDir: join(dir, 'host') });
    const all: Rates[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      const r = await host.runEnclave(image, { memoryMiB: ENCLAVE_MEMORY_MIB, cpuCount: 1 });
      try {
        const parsed = JSON.parse((await host.request(r.EnclaveCID, ENVELOPE_BENCH_PORT, 'go')).toString('utf8')) as Rates & { error?: string };
        if (typeof parsed.error === 'string') throw new Error(`in-enclave measurement failed: ${parsed.error}`);
        all.push(parsed);
      } finally {
        await host.terminate({ id: r.EnclaveID });
      }
    }
    return all;
  } finally {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same measurement in PROCESSES fresh processes. */
async function inChildren(which: Which): Promise<Rates[]> {
  const all: Rates[] = [];
  for (let i = 0; i < PROCESSES; i++) all.push(await inChild(which));
  return all;
}

const side = (r: Rates, name: string) => {
  const s = r[name];
  if (!s) throw new Error(`the measurement has no side '${name}'`);
  return s;
};

/**
 * The result of the run whose figure/baseline ratio is the median of the runs (so figure, baseline
 * and ratio are one run's, consistent), with the range of ratios and the wall-clock ratio in the notes.
 */
function medianResult(name: string, runs: readonly Rates[], figure: string, baseline: string, baselineName: string, target: number, notes: string, extra?: (r: Rates) => string): BenchResult {
  const ratio = (r: Rates) => side(r, figure).cpu / side(r, baseline).cpu;
  const sorted = [...runs].sort((a, b) => ratio(a) - ratio(b));
  const m = sorted[(sorted.length - 1) >> 1] as Rates;
  const range = `ratios of the ${runs.length} runs ${sorted.map((r) => ratio(r).toFixed(3)).join(', ')}`;
  const wall = `wall-clock ratio ${(side(m, figure).wall / side(m, baseline).wall).toFixed(3)}`;
  return result(
    name,
    { rate: side(m, figure).cpu, unit: 'B/CPU-s' },
    { rate: side(m, baseline).cpu, unit: 'B/CPU-s', name: baselineName },
    target,
    [notes, range, wall, extra?.(m)].filter(Boolean).join('; '),
  );
}

/** One host run and one enclave run of `encryption` feed two benchmarks each. */
let hostEncryption: Promise<Rates[]> | undefined;
let enclaveEncryption: Promise<Rates[]> | undefined;
const loopRatio = (r: Rates) =>
  `encryptStream ${(side(r, 'stream').cpu / side(r, 'raw').cpu).toFixed(3)} and node's Cipheriv stream ${(side(r, 'rawStream').cpu / side(r, 'raw').cpu).toFixed(3)} of the bare cipher loop`;

function encryptionBenchmarks(where: 'host' | 'in an enclave', runs: () => Promise<Rates[]>): Benchmark[] {
  const setting = where === 'host' ? data : `${data}, 1 vCPU, ${ENCLAVE_MEMORY_MIB} MiB`;
  const inSame = where === 'host' ? '' : ', in the same enclave';
  return [
    {
      name: `envelope encryption throughput vs raw AES-256-GCM (${where})`,
      async run() {
        return medianResult(
          `envelope encryption throughput vs raw AES-256-GCM (${where})`,
          await runs(),
          'encryptor',
          'raw',
          `one node:crypto AES-256-GCM cipher updated with the same chunks${inSame}`,
          0.85,
          `createEncryptor: header, update per chunk, final; ${setting}`,
        );
      },
    },
    {
      name: `envelope encryptStream vs node:crypto Cipheriv stream (${where})`,
      async run() {
        return medianResult(
          `envelope encryptStream vs node:crypto Cipheriv stream (${where})`,
          await runs(),
          'stream',
          'rawStream',
          `node:crypto's AES-256-GCM Cipheriv as a stream in the same pipeline${inSame}`,
          0.85,
          `Readable over the chunks → stream → null Writable; ${setting}`,
          loopRatio,
        );
      },
    },
  ];
}

export const benchmarks: Benchmark[] = [
  ...encryptionBenchmarks('host', () => (hostEncryption ??= inChildren('encryption'))),
  ...encryptionBenchmarks('in an enclave', () => (enclaveEncryption ??= inEnclaves())),
  {
    name: 'envelope encrypt (one-shot, 16 MiB) vs raw AES-256-GCM (host)',
    async run() {
      return medianResult(
        'envelope encrypt (one-shot, 16 MiB) vs raw AES-256-GCM (host)',
        await inChildren('oneShot'),
        'oneShot',
        'raw',
        'one node:crypto AES-256-GCM update over the same 16 MiB',
        0.6,
        `informational; ${DEFAULT_FRAME_SIZE / 1024} KiB frames; the envelope is returned as one Buffer (one extra copy)`,
      );
    },
  },
  {
    name: 'envelope decryptStream throughput vs raw AES-256-GCM (host)',
    async run() {
      return medianResult(
        'envelope decryptStream throughput vs raw AES-256-GCM (host)',
        await inChildren('decryption'),
        'stream',
        'raw',
        'one node:crypto AES-256-GCM decipher over the same 64 KiB chunks',
        0.75,
        `informational; ${data}, each frame verified before its plaintext is released`,
      );
    },
  },
];
