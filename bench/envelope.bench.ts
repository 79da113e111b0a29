// Envelope encryption throughput against raw node:crypto AES-256-GCM over the same data in the same
// run, on the host and inside an enclave. Target ≥ 0.85 for streamed encryption (issue 8's
// acceptance figure).
//
// Data: 64 MiB of random bytes presented as 64 KiB chunks (what fs.createReadStream yields).
// - streamed: the chunks written through `encryptStream` (default 256 KiB frames, header and KMS-
//   free in-memory key provider included), the output consumed by a null Writable; baseline: one
//   AES-256-GCM cipher updated with the same chunks (the least work that encrypts the same data).
// - one-shot (informational, target ≥ 0.6): `encrypt(bytes)` over a 16 MiB buffer vs one cipher's
//   update over the same buffer. The envelope is returned as one contiguous Buffer, which costs one
//   copy of the whole output that the baseline (whose output is the cipher's own buffer) never
//   makes; node:crypto cannot encrypt into a caller's buffer, so that copy is the price of the
//   convenience. Use the stream for large payloads.
// - streamed decryption (informational, target ≥ 0.75): `decryptStream` over the envelope vs one
//   AES-256-GCM decipher over the same ciphertext bytes. Each frame's plaintext is held until its
//   tag verifies (a frame, 1 MiB by default, instead of 64 KiB in flight), which costs some cache
//   locality; measured 0.73–0.94 on the shared 2-core machine.
// Rounds alternate figure and baseline and keep the best of each (as harness.interleaved does);
// rates are bytes per CPU-second of the measuring process, with the wall-clock ratio in the notes.
// Each measurement runs in its own child process (`node bench/envelope.bench.ts measure <which>`)
// that loads only this library, and the in-enclave figure in an enclave whose app bundles only this
// library and the same measurement (both sides run inside the enclave, under its isolation): in
// the runner's process, which has imported every other benchmark
// (the AWS SDK, the KMS, …), the larger heap made each garbage collection dearer and the streamed
// ratio fell from about 0.87 to 0.60–0.75, an artefact of the runner rather than of the library.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { decryptStream, encrypt, encryptStream, InMemoryDataKeyProvider, DEFAULT_FRAME_SIZE } from '../enclave/envelope/index.ts';
import type { Host } from '../host/index.ts';
import { result, type Benchmark } from './harness.ts';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const TOTAL = 64 * MiB;
const ROUNDS = 15;
const provider = new InMemoryDataKeyProvider();
const ENCLAVE_PORT = 5010;
/** Enough for the 64 MiB of chunks, one frame in flight and the runtime. */
const ENCLAVE_MEMORY_MIB = 512;

function makeChunks(total: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < total; o += size) out.push(randomBytes(Math.min(size, total - o)));
  return out;
}

const sink = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
    writev(_c, cb) {
      cb();
    },
  });

interface Rates {
  /** Best bytes per CPU-second of this process (user + system), the figure reported. */
  readonly figure: number;
  readonly baseline: number;
  /** The same by wall-clock time, for the notes. */
  readonly wallFigure: number;
  readonly wallBaseline: number;
  /** node:crypto's own Cipheriv as a stream over the same chunks (CPU-time rate), for context. */
  readonly nodeStream?: number;
}

/**
 * Best rates of figure and baseline over alternating rounds. Both sides are single-threaded work
 * on the main thread, so their cost is the CPU time this process spends; on the shared 2-core
 * machine, where other processes take the CPU at random, wall-clock ratios swung from 0.69 to 1.36
 * between identical runs, CPU-time ratios far less. Both are reported.
 */
async function alternate(bytes: number, figure: () => Promise<void> | void, baseline: () => Promise<void> | void, reference?: () => Promise<void>): Promise<Rates> {
  await figure(); // warm-up
  await baseline();
  const r: { -readonly [K in keyof Rates]: number } = { figure: 0, baseline: 0, wallFigure: 0, wallBaseline: 0 };
  const measure = async (fn: () => Promise<void> | void): Promise<[number, number]> => {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    const wall = (performance.now() - t) / 1000;
    const d = process.cpuUsage(c);
    return [bytes / ((d.user + d.system) / 1e6), bytes / wall];
  };
  for (let i = 0; i < ROUNDS; i++) {
    const [bc, bw] = await measure(baseline);
    const [fc, fw] = await measure(figure);
    r.baseline = Math.max(r.baseline, bc);
    r.wallBaseline = Math.max(r.wallBaseline, bw);
    r.figure = Math.max(r.figure, fc);
    r.wallFigure = Math.max(r.wallFigure, fw);
    if (reference) r.nodeStream = Math.max(r.nodeStream ?? 0, (await measure(reference))[0]);
  }
  return r;
}

const wallNote = (r: Rates) =>
  `wall-clock ratio ${(r.wallFigure / r.wallBaseline).toFixed(3)}` +
  (r.nodeStream ? `; node:crypto's own Cipheriv stream over the same chunks: ${(r.nodeStream / r.baseline).toFixed(3)} of the baseline` : '');

function rawGcm(chunks: readonly Buffer[]): void {
  const c = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  for (const x of chunks) c.update(x);
  c.final();
  c.getAuthTag();
}

/** The three measurements; each runs in a child process (see the header comment). */
const MEASUREMENTS = {
  async encryptStream(): Promise<Rates> {
    const chunks = makeChunks(TOTAL, CHUNK);
    return alternate(
      TOTAL,
      () => pipeline(Readable.from(chunks), encryptStream(provider, { bench: 'envelope' }), sink()),
      () => rawGcm(chunks),
      () => pipeline(Readable.from(chunks), createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12)), sink()),
    );
  },
  async encryptOneShot(): Promise<Rates> {
    const data = randomBytes(16 * MiB);
    return alternate(
      data.length,
      async () => {
        await encrypt(provider, { bench: 'envelope' }, data);
      },
      () => rawGcm([data]),
    );
  },
  async decryptStream(): Promise<Rates> {
    const chunks = makeChunks(TOTAL, CHUNK);
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), encryptStream(provider, { bench: 'envelope' }), async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) out.push(c);
    });
    const envelope = Buffer.concat(out);
    const envChunks: Buffer[] = [];
    for (let o = 0; o < envelope.length; o += CHUNK) envChunks.push(envelope.subarray(o, o + CHUNK));
    const key = randomBytes(32);
    const iv = randomBytes(12);
    return alternate(
      TOTAL,
      () => pipeline(Readable.from(envChunks), decryptStream(provider), sink()),
      () => {
        // Raw GCM decryption of the same bytes (the tag check is skipped: its cost is negligible).
        const d = createDecipheriv('aes-256-gcm', key, iv);
        for (const x of envChunks) d.update(x);
      },
    );
  },
} as const;

type Which = keyof typeof MEASUREMENTS;

/** Runs one measurement in a fresh `node bench/envelope.bench.ts measure <which>` and returns its rates. */
async function inChild(which: Which): Promise<Rates> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'measure', which], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`envelope bench child (${which}) exited with ${code}`);
  return JSON.parse(out) as Rates;
}

if (process.argv[2] === 'measure' && process.argv[1] === fileURLToPath(import.meta.url)) {
  const which = process.argv[3] as Which;
  process.stdout.write(`${JSON.stringify(await MEASUREMENTS[which]())}\n`);
}

/** Builds the app into an image, runs it in an enclave, asks it for the measurement, cleans up. */
async function inEnclave(): Promise<Rates> {
  // Imported here, not at the top, so the measuring child processes load only the library.
  const [{ buildImage }, { Host }] = await Promise.all([import('../enclave/index.ts'), import('../host/index.ts')]);
  const dir = mkdtempSync(join(tmpdir(), 'envelope-bench-'));
  const library = fileURLToPath(new URL('../enclave/envelope/index.ts', import.meta.url));
  let host: Host | undefined;
  try {
    const entry = join(dir, 'main.ts');
    writeFileSync(entry, enclaveAppSource(library));
    const { image } = await buildImage({ entry });
    host = await Host.start({ dataDir: join(dir, 'host') });
    const r = await host.runEnclave(image, { memoryMiB: ENCLAVE_MEMORY_MIB, cpuCount: 1 });
    const conn = await host.connect(r.EnclaveCID, ENCLAVE_PORT);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      conn.on('data', (c: Buffer) => (text += c.toString('utf8')));
      conn.on('end', () => resolve(text));
      conn.on('error', reject);
      conn.write(Buffer.from('go'));
    });
    conn.destroy();
    const parsed = JSON.parse(answer) as Rates & { error?: string };
    if (parsed.error) throw new Error(`in-enclave measurement failed: ${parsed.error}`);
    return parsed;
  } finally {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'envelope encryptStream throughput vs raw AES-256-GCM (host)',
    async run() {
      const r = await inChild('encryptStream');
      return result(
        'envelope encryptStream throughput vs raw AES-256-GCM (host)',
        { rate: r.figure, unit: 'B/CPU-s' },
        { rate: r.baseline, unit: 'B/CPU-s', name: 'one node:crypto AES-256-GCM cipher over the same 64 KiB chunks' },
        0.85,
        `64 MiB in 64 KiB chunks, ${DEFAULT_FRAME_SIZE / 1024} KiB frames; ${wallNote(r)}`,
      );
    },
  },
  {
    name: 'envelope encryptStream throughput vs raw AES-256-GCM (in an enclave)',
    async run() {
      const r = await inEnclave();
      return result(
        'envelope encryptStream throughput vs raw AES-256-GCM (in an enclave)',
        { rate: r.figure, unit: 'B/CPU-s' },
        { rate: r.baseline, unit: 'B/CPU-s', name: 'one node:crypto AES-256-GCM cipher over the same 64 KiB chunks, in the same enclave' },
        0.85,
        `64 MiB in 64 KiB chunks, ${DEFAULT_FRAME_SIZE / 1024} KiB frames, 1 vCPU, ${ENCLAVE_MEMORY_MIB} MiB; ${wallNote(r)}`,
      );
    },
  },
  {
    name: 'envelope encrypt (one-shot, 16 MiB) vs raw AES-256-GCM (host)',
    async run() {
      const r = await inChild('encryptOneShot');
      return result(
        'envelope encrypt (one-shot, 16 MiB) vs raw AES-256-GCM (host)',
        { rate: r.figure, unit: 'B/CPU-s' },
        { rate: r.baseline, unit: 'B/CPU-s', name: 'one node:crypto AES-256-GCM update over the same 16 MiB' },
        0.6,
        `informational; ${DEFAULT_FRAME_SIZE / 1024} KiB frames; the envelope is returned as one Buffer (one extra copy); ${wallNote(r)}`,
      );
    },
  },
  {
    name: 'envelope decryptStream throughput vs raw AES-256-GCM (host)',
    async run() {
      const r = await inChild('decryptStream');
      return result(
        'envelope decryptStream throughput vs raw AES-256-GCM (host)',
        { rate: r.figure, unit: 'B/CPU-s' },
        { rate: r.baseline, unit: 'B/CPU-s', name: 'one node:crypto AES-256-GCM decipher over the same 64 KiB chunks' },
        0.75,
        `informational; ${DEFAULT_FRAME_SIZE / 1024} KiB frames, each verified before its plaintext is released; ${wallNote(r)}`,
      );
    },
  },
];

/**
 * The in-enclave app, written to a temporary directory so that its bundle holds only the envelope
 * library (imported by absolute path) and this measurement: on a vsock connection it runs the
 * streamed measurement inside the enclave and answers with the rates as JSON.
 */
function enclaveAppSource(libraryIndex: string): string {
  return `import { createCipheriv, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encryptStream, InMemoryDataKeyProvider } from ${JSON.stringify(libraryIndex)};
const MiB = 1024 * 1024;
const TOTAL = ${TOTAL};
const CHUNK = ${CHUNK};
const ROUNDS = ${ROUNDS};
async function measure() {
  const provider = new InMemoryDataKeyProvider();
  const chunks = [];
  for (let o = 0; o < TOTAL; o += CHUNK) chunks.push(randomBytes(Math.min(CHUNK, TOTAL - o)));
  const sink = () => new Writable({ write(_c, _e, cb) { cb(); } });
  const figure = () => pipeline(Readable.from(chunks), encryptStream(provider, { bench: 'envelope' }), sink());
  const baseline = () => { const c = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12)); for (const x of chunks) c.update(x); c.final(); c.getAuthTag(); };
  const one = async (fn) => { const c = process.cpuUsage(); const t = performance.now(); await fn(); const wall = (performance.now() - t) / 1000; const d = process.cpuUsage(c); return [TOTAL / ((d.user + d.system) / 1e6), TOTAL / wall]; };
  await figure();
  await baseline();
  const r = { figure: 0, baseline: 0, wallFigure: 0, wallBaseline: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    const [bc, bw] = await one(baseline);
    const [fc, fw] = await one(figure);
    r.baseline = Math.max(r.baseline, bc); r.wallBaseline = Math.max(r.wallBaseline, bw);
    r.figure = Math.max(r.figure, fc); r.wallFigure = Math.max(r.wallFigure, fw);
  }
  return r;
}
export default async function main(ctx) {
  ctx.vsock.listen(${ENCLAVE_PORT}, (conn) => {
    conn.on('error', () => {});
    conn.once('data', () => {
      measure().then((r) => conn.end(JSON.stringify(r)), (e) => conn.end(JSON.stringify({ error: String(e && e.stack || e) })));
    });
  });
}
`;
}
