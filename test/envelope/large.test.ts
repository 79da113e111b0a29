// 100 MiB through encryptStream → decryptStream without ever holding it (large-child.ts): the input
// is generated chunk by chunk, the output is only hashed, and the process's Buffer memory
// (arrayBuffers) and RSS are sampled throughout. Memory must stay far below the payload; the
// SHA-256 of what comes out must equal that of what went in.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect, test } from 'vitest';
import { CachingMaterialsManager, decryptStream, encryptStream, InMemoryDataKeyProvider } from '../../enclave/envelope/index.ts';

const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;

test('100 MiB streamed round trip: SHA-256 matches, memory stays bounded by the frame size, not the payload', async () => {
  // In a child with --expose-gc: vitest's own heap is not measured, and samples see live memory.
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(new URL('./large-child.ts', import.meta.url)), '100', String(256 * 1024)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  expect(code).toBe(0);
  const r = JSON.parse(out) as { total: number; received: number; ciphertext: number; samples: number; inHash: string; outHash: string; peakArrayBuffers: number; peakRss: number };
  expect(r.received).toBe(TOTAL);
  expect(r.outHash).toBe(r.inHash);
  expect(r.samples).toBeGreaterThanOrEqual(50);
  // 400 frames of 256 KiB: 32 bytes of framing each (40 for the final one) plus one header.
  expect(r.ciphertext).toBeGreaterThan(TOTAL + 400 * 32);
  expect(r.ciphertext).toBeLessThan(TOTAL + 400 * 32 + 1024);
  // Bounded: a few frames in flight in each stage, far below the 100 MiB payload.
  // (About 6.5 MB of it is constant start-up allocation, measured at every frame size from 16 KiB to 1 MiB.)
  expect(r.peakArrayBuffers).toBeLessThan(16 * MiB);
  expect(r.peakRss).toBeLessThan(48 * MiB);
});

test('a large message through the cache with a declared length counts its bytes', async () => {
  // The same pipeline, 8 MiB, with plaintextLength declared: the cache accounts 8 MiB to the key.
  const provider = new InMemoryDataKeyProvider();
  let generated = 0;
  const counted = { providerId: provider.providerId, generateDataKey: (c: Record<string, string>) => (generated++, provider.generateDataKey(c)), decryptDataKey: provider.decryptDataKey.bind(provider) };
  const cmm = new CachingMaterialsManager({ provider: counted, maxAge: 60_000, maxBytesEncrypted: 12 * MiB });
  const run = async () => {
    const h = createHash('sha256');
    await pipeline(Readable.from((function* () { for (let i = 0; i < 8; i++) yield randomBytes(MiB); })()), encryptStream(cmm, {}, { plaintextLength: 8 * MiB }), decryptStream(cmm), new Writable({ write(c: Buffer, _e, cb) { h.update(c); cb(); } }));
  };
  await run();
  await run(); // 16 MiB > 12 MiB: a second key
  expect(generated).toBe(2);
});
