// Enclave images: building and measuring an image of a 1 MiB app, and the measuring throughput
// against raw node:crypto SHA-384 over the same bytes, in the same run (acceptance: ≥ 0.8).
//
// What "the same bytes" means: measureImage checks the CRC-32, walks the structure and computes
// PCR0 (runtime+bootstrap+app+manifest), PCR1 (runtime+bootstrap) and PCR2 (app). As on Nitro,
// PCR0 and PCR2 both cover the app, so the app is hashed twice; the baseline hashes exactly the
// byte ranges the three PCRs cover, with createHash('sha384') and nothing else. The ratio is then
// the cost of our format (CRC, parsing, JSON descriptors, PCR extends) on top of the hashing that
// any Nitro-style measurement must do. The notes also give the image bytes per second.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildImage, measureImage } from '../enclave/index.ts';
import { fmt, interleaved, interleavedAsync, rate, rateSync, result, type Benchmark } from './harness.ts';

const MiB = 1024 * 1024;

/** A 1 MiB app: a module exporting 1 MiB of base64 text (incompressible, so esbuild keeps it all). */
function writeApp(dir: string): string {
  const blob = randomBytes((MiB * 3) / 4).toString('base64');
  const entry = join(dir, 'main.ts');
  writeFileSync(entry, `const BLOB = ${JSON.stringify(blob)};\nexport default async function main() { return BLOB.length; }\n`);
  return entry;
}

/** The ranges each PCR covers, read from the header per IMAGE_FORMAT.md (independent of the code under test). */
function pcrRanges(image: Uint8Array): [number, number][] {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const ends: number[] = [];
  const starts: number[] = [];
  let off = 24;
  for (let i = 0; i < v.getUint16(12); i++) {
    starts.push(off);
    off += 8 + v.getUint32(off + 4);
    ends.push(off);
  }
  const s = (i: number): number => starts[i] as number;
  const e = (i: number): number => ends[i] as number;
  return [[s(0), e(3)], [s(0), e(1)], [s(2), e(2)]];
}

export const benchmarks: Benchmark[] = [
  {
    name: 'image: measureImage of a 1 MiB-app image vs raw SHA-384 over the same ranges',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'nsbx-bench-'));
      try {
        const entry = writeApp(dir);
        await buildImage({ entry }); // warm the bootstrap bundle and esbuild's service
        const buildRate = await rate(() => buildImage({ entry }), 3000);
        const { image } = await buildImage({ entry });
        const ranges = pcrRanges(image);
        const hashed = ranges.reduce((n, [a, b]) => n + (b - a), 0);
        const raw = (): void => {
          for (const [a, b] of ranges) {
            const inner = createHash('sha384').update(image.subarray(a, b)).digest();
            createHash('sha384').update(Buffer.alloc(48)).update(inner).digest();
          }
        };
        const { figure, baseline } = interleaved(
          () => rateSync(() => measureImage(image), 1000),
          () => rateSync(raw, 1000),
          3,
        );
        const notes =
          `image ${(image.length / MiB).toFixed(2)} MiB; build+measure ${fmt(buildRate)} images/s ` +
          `(${(1000 / buildRate).toFixed(1)} ms each); measureImage ${fmt(figure * image.length)} B/s of image, ` +
          `${fmt(figure * hashed)} B/s hashed (PCR0 and PCR2 both cover the app)`;
        return result(
          'image: measureImage (1 MiB app) vs node:crypto SHA-384 over the same bytes',
          { rate: figure * hashed, unit: 'B/s hashed' },
          { name: 'createHash("sha384") over the PCR0, PCR1, PCR2 ranges', rate: baseline * hashed, unit: 'B/s' },
          0.8,
          notes,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'image: buildImage + measure of a 1 MiB app vs esbuild bundling the same app alone',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'nsbx-bench-'));
      try {
        const entry = writeApp(dir);
        const bundleOnly = (): Promise<unknown> =>
          build({ entryPoints: [entry], absWorkingDir: dir, bundle: true, format: 'esm', platform: 'node', target: 'node26', write: false, outfile: 'app.js', logLevel: 'silent' });
        const buildAndMeasure = async (): Promise<void> => {
          measureImage((await buildImage({ entry })).image);
        };
        await buildAndMeasure();
        const { figure: f, baseline: b } = await interleavedAsync(
          () => rate(buildAndMeasure, 1000),
          () => rate(bundleOnly, 1000),
        );
        return result(
          'image: build+measure (1 MiB app) vs esbuild alone on the same entry',
          { rate: f, unit: 'images/s' },
          { name: 'esbuild build() of the same entry, in memory', rate: b, unit: 'bundles/s' },
          0.5,
          `build+measure ${(1000 / f).toFixed(1)} ms per image, esbuild alone ${(1000 / b).toFixed(1)} ms`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
