// Child process of large.test.ts, run with --expose-gc so memory samples show live memory rather
// than garbage the collector has not reached yet: streams `argv[2]` MiB through encryptStream →
// decryptStream and prints one JSON line with the hashes, byte counts and peak memory growth.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decryptStream, encryptStream, InMemoryDataKeyProvider } from '../../enclave/envelope/index.ts';

const MiB = 1024 * 1024;
const TOTAL = Number(process.argv[2] ?? '100') * MiB;
const frameSize = Number(process.argv[3] ?? String(256 * 1024));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const provider = new InMemoryDataKeyProvider();
const inHash = createHash('sha256');
const outHash = createHash('sha256');
let produced = 0;
// Odd-sized chunks so frames never line up with them.
const CHUNK = 64 * 1024 + 123;
const source = new Readable({
  read() {
    if (produced >= TOTAL) {
      this.push(null);
      return;
    }
    const n = Math.min(CHUNK, TOTAL - produced);
    const c = randomBytes(n);
    produced += n;
    inHash.update(c);
    this.push(c);
  },
});
gc();
const base = process.memoryUsage();
let peakArrayBuffers = 0;
let peakRss = 0;
let received = 0;
let ciphertext = 0;
let samples = 0;
const sample = () => {
  gc();
  samples++;
  const m = process.memoryUsage();
  peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers - base.arrayBuffers);
  peakRss = Math.max(peakRss, m.rss - base.rss);
};
const enc = encryptStream(provider, { test: 'large' }, { frameSize });
enc.on('data', (c: Buffer) => {
  ciphertext += c.length;
});
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    outHash.update(chunk);
    const before = received;
    received += chunk.length;
    if (Math.floor(before / (2 * MiB)) !== Math.floor(received / (2 * MiB))) sample();
    cb();
  },
});
await pipeline(source, enc, decryptStream(provider, { expectedContext: { test: 'large' } }), sink);
sample();
process.stdout.write(`${JSON.stringify({ total: TOTAL, received, ciphertext, samples, inHash: inHash.digest('hex'), outHash: outHash.digest('hex'), peakArrayBuffers, peakRss })}\n`);
