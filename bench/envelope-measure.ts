// The envelope measurements, in a module of their own so that the process (or enclave) running them
// loads only the envelope library: in the bench runner's process, which has imported every other
// benchmark (the AWS SDK, the KMS, …), the larger heap made each garbage collection dearer and the
// streamed ratio fell from about 0.87 to 0.60–0.75, an artefact of the runner, not of the library.
// `bench/envelope-child.ts` runs one measurement in a fresh process and prints its rates as JSON;
// `bench/envelope-enclave-app.ts` runs `encryption` inside an enclave.
//
// Data: 64 MiB of random bytes as 64 KiB chunks (what fs.createReadStream yields). The sides of a
// measurement alternate over ROUNDS rounds and each keeps its best round; rates are bytes per
// CPU-second of the measuring process (user + system), with wall-clock rates for the notes. On the
// shared 2-core machine, where other processes take the CPU at random, wall-clock ratios swung from
// 0.69 to 1.36 between identical runs, CPU-time ratios far less.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptor, decryptStream, encrypt, encryptStream, InMemoryDataKeyProvider } from '../enclave/envelope/index.ts';

const MiB = 1024 * 1024;
export const CHUNK = 64 * 1024;
export const TOTAL = 64 * MiB;
export const ROUNDS = 15;
const provider = new InMemoryDataKeyProvider();
const context = { bench: 'envelope' };

/** Best rate of each side: bytes per CPU-second, and per wall-clock second. */
export interface SideRates {
  readonly cpu: number;
  readonly wall: number;
}
export type Rates = Record<string, SideRates>;

type Side = () => Promise<void> | void;

/** Runs every side once to warm up, then `rounds` rounds of all sides in turn; the best of each. */
async function alternate(bytes: number, sides: Record<string, Side>, rounds = ROUNDS): Promise<Rates> {
  for (const fn of Object.values(sides)) await fn();
  const best: Record<string, { cpu: number; wall: number }> = {};
  for (let i = 0; i < rounds; i++) {
    for (const [name, fn] of Object.entries(sides)) {
      const c = process.cpuUsage();
      const t = performance.now();
      await fn();
      const wall = (performance.now() - t) / 1000;
      const d = process.cpuUsage(c);
      const b = (best[name] ??= { cpu: 0, wall: 0 });
      b.cpu = Math.max(b.cpu, bytes / ((d.user + d.system) / 1e6));
      b.wall = Math.max(b.wall, bytes / wall);
    }
  }
  return best;
}

function makeChunks(total: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < total; o += size) out.push(randomBytes(Math.min(size, total - o)));
  return out;
}

/** A Writable that drops what it is given: the consumer costs nothing. */
const sink = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
    writev(_c, cb) {
      cb();
    },
  });

/** The least work that encrypts the same data: one AES-256-GCM cipher updated with every chunk. */
function rawGcm(chunks: readonly Uint8Array[]): void {
  const c = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  for (const x of chunks) c.update(x);
  c.final();
  c.getAuthTag();
}

export const MEASUREMENTS = {
  /**
   * Streamed encryption of the 64 MiB of chunks, four ways: `raw` (rawGcm), `encryptor` (the
   * library's incremental encryptor, header and frames, key from the in-memory provider),
   * `stream` (encryptStream between a Readable over the chunks and a null Writable) and
   * `rawStream` (node:crypto's own Cipheriv as a stream in the same pipeline).
   */
  async encryption(): Promise<Rates> {
    const chunks = makeChunks(TOTAL, CHUNK);
    return alternate(TOTAL, {
      raw: () => rawGcm(chunks),
      encryptor: async () => {
        const e = await createEncryptor(provider, context);
        for (const x of chunks) e.update(x);
        e.final();
      },
      stream: () => pipeline(Readable.from(chunks), encryptStream(provider, context), sink()),
      rawStream: () => pipeline(Readable.from(chunks), createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12)), sink()),
    });
  },
  /**
   * `encrypt(bytes)` over 16 MiB vs one cipher's update over the same buffer. The envelope is
   * returned as one contiguous Buffer, a copy of the whole output that the baseline (whose output is
   * the cipher's own buffer) never makes; node:crypto cannot encrypt into a caller's buffer.
   */
  async oneShot(): Promise<Rates> {
    const data = randomBytes(16 * MiB);
    return alternate(data.length, {
      raw: () => rawGcm([data]),
      oneShot: async () => {
        await encrypt(provider, context, data);
      },
    });
  },
  /** decryptStream over an envelope of the 64 MiB vs one AES-256-GCM decipher over the same bytes. */
  async decryption(): Promise<Rates> {
    const chunks = makeChunks(TOTAL, CHUNK);
    const e = await createEncryptor(provider, context);
    const parts = [e.header];
    for (const x of chunks) parts.push(...e.update(x));
    parts.push(...e.final());
    const envelope = Buffer.concat(parts);
    const envChunks: Buffer[] = [];
    for (let o = 0; o < envelope.length; o += CHUNK) envChunks.push(envelope.subarray(o, o + CHUNK));
    const key = randomBytes(32);
    const iv = randomBytes(12);
    return alternate(TOTAL, {
      // Raw GCM decryption of the same bytes (the tag check is skipped: its cost is negligible).
      raw: () => {
        const d = createDecipheriv('aes-256-gcm', key, iv);
        for (const x of envChunks) d.update(x);
      },
      stream: () => pipeline(Readable.from(envChunks), decryptStream(provider), sink()),
    });
  },
} as const;

export type Which = keyof typeof MEASUREMENTS;
