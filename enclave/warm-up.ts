// What a warm-pool process runs while it waits for its run (boot.ts): the image's receive and
// start path, once, on stand-in inputs. V8 compiles a function the first time it runs, and an
// enclave placed on one CPU compiles on the CPU its main thread needs; a pooled process that has
// run this path while idle starts its real image on code that is already compiled.
//
// Measured (bench/host.bench.ts, quiet machine, one CPU per enclave): reading the real image
// (layout and CRC, the two JSON sections parsed and checked) took about 10 ms of a 14–16 ms warm
// start when it ran for the first time; after reading a stand-in image here it takes under 1 ms.
// A pool's own image is now staged and read before the run (boot-protocol.ts), so reading matters
// for a run of another image; the evaluation of a module from memory is on every run's path:
// without this warm-up a warm start took 4.5–5 ms instead of 3.1–3.5.
import { duplexPair } from 'node:stream';
import { importFromMemory } from './bootstrap.ts';
import { BOOT_PORT } from './boot-protocol.ts';
import { canonicalJson } from './canonical-json.ts';
import { MAX_IMAGE_SIZE, SECTION, writeImage } from './image/format.ts';
import { readImage } from './image/read.ts';
import { DEFAULT_ISOLATION } from './runtime.ts';
import { Channel, readAll } from './vsock/index.ts';

const APP = 'export default function main() {}';

/**
 * An image as a build writes one, with stand-in contents: the default runtime section, a manifest
 * with every kind of member the readers check and a file list of a typical length (both canonical
 * JSON, as builds write them), a small bootstrap and the app above. Valid for readImage
 * (test/enclave/warm-up.test.ts).
 */
export function sampleImage(node: string = process.version): Uint8Array {
  const file = (i: number) => ({ path: `enclave/sample-${String(i).padStart(2, '0')}.ts`, sha384: `${i % 10}`.repeat(96) });
  const manifest = {
    name: 'warm-up',
    version: '1.0',
    metadata: { sample: 'warm-up' },
    memoryMiB: 512,
    cpuCount: 2,
    vsockPorts: [5005],
    build: { tool: 'nitro-sandbox', toolVersion: '0.0.0', bundler: 'esbuild' },
    files: { application: [file(0)], bootstrap: Array.from({ length: 16 }, (_, i) => file(i + 1)) },
  };
  const text = (x: unknown) => Buffer.from(canonicalJson(x));
  return writeImage([
    // Not runtimeDescriptor(), which checks the version: readImage is what must check it.
    { type: SECTION.RUNTIME, data: text({ node, isolation: DEFAULT_ISOLATION }) },
    { type: SECTION.BOOTSTRAP, data: Buffer.alloc(32 * 1024, 0x20) },
    { type: SECTION.APPLICATION, data: Buffer.from(APP) },
    { type: SECTION.MANIFEST, data: text(manifest) },
  ]);
}

/**
 * Runs, over an in-process channel pair and a stand-in image: a 96 KiB stream through the channel
 * read to its end, the image read as the bootstrap reads it, three times, and its application
 * evaluated from memory. Not more: with eight reads V8 optimized the readers for the stand-in's
 * shapes, the real image then deoptimized them, and a warm start took 10 ms instead of 5.
 */
export async function warmUp(): Promise<void> {
  const [a, b] = duplexPair();
  const near = new Channel(a, { role: 'host' });
  const far = new Channel(b, { role: 'enclave' });
  try {
    near.listen(BOOT_PORT, (c) => c.end(Buffer.alloc(96 * 1024)));
    await readAll(await far.connect(BOOT_PORT), { maxBytes: MAX_IMAGE_SIZE });
    const image = sampleImage();
    let parsed = readImage(image);
    for (let i = 1; i < 3; i++) parsed = readImage(image);
    await importFromMemory(parsed.layout.application.data);
  } finally {
    void near.close();
    void far.close();
  }
}
