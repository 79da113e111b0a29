// What a warm-pool process runs while it waits for its image (boot.ts): the image's receive and
// start path, once, on stand-in inputs. V8 compiles a function the first time it runs, and an
// enclave placed on one CPU compiles on the CPU its main thread needs; a pooled process that has
// run this path while idle starts its real image on code that is already compiled.
//
// Measured (bench/host.bench.ts, quiet machine, one CPU per enclave): reading the image's two JSON
// sections (canonical JSON parse and schema checks) took about 10 ms of a 14 ms warm start when
// they ran for the first time on the real image; warmed here they take about 1 ms. The channel's
// stream and the evaluation of a module from memory are warmed too.
import { duplexPair } from 'node:stream';
import { importFromMemory } from './bootstrap.ts';
import { BOOT_PORT } from './boot-protocol.ts';
import { parseCanonicalJson } from './canonical-json.ts';
import { MAX_IMAGE_SIZE } from './image/format.ts';
import { readManifest } from './manifest.ts';
import { readRuntimeDescriptor } from './runtime.ts';
import { Channel, readAll } from './vsock/index.ts';

/**
 * A runtime section and a manifest section as an image carries them (canonical JSON: members in
 * code-point order, no whitespace), with every kind of member the readers check and a file list of
 * a typical length. Valid for readRuntimeDescriptor and readManifest (test/enclave/warm-up.test.ts).
 */
export function sampleSections(node: string = process.version): { runtime: Uint8Array; manifest: Uint8Array } {
  const layers = { cpuAffinity: 'preferred', emptyRoot: 'required', kernelLimits: 'preferred', networkNamespace: 'required', noPrivileges: 'required', syscallFilter: 'required', userNamespace: 'preferred' };
  const runtime = { isolation: { environment: {}, heapPercentOfMemory: 75, layers, nodeFlags: ['--permission', '--no-experimental-sqlite', '--no-concurrent-recompilation'] }, node };
  const file = (i: number) => ({ path: `enclave/sample-${String(i).padStart(2, '0')}.ts`, sha384: `${i % 10}`.repeat(96) });
  const manifest = {
    build: { bundler: 'esbuild', tool: 'nitro-sandbox', toolVersion: '0.0.0' },
    cpuCount: 2,
    files: { application: [file(0)], bootstrap: Array.from({ length: 16 }, (_, i) => file(i + 1)) },
    memoryMiB: 512,
    metadata: { sample: 'warm-up' },
    name: 'warm-up',
    version: '1.0',
    vsockPorts: [5005],
  };
  return { runtime: Buffer.from(JSON.stringify(runtime)), manifest: Buffer.from(JSON.stringify(manifest)) };
}

/**
 * Runs, over an in-process channel pair and stand-in sections: a 96 KiB stream through the channel
 * read to its end, the image's JSON sections read as readImage reads them (three times, so the
 * parser reaches optimized code), and a module evaluated from memory.
 */
export async function warmUp(): Promise<void> {
  const [a, b] = duplexPair();
  const near = new Channel(a, { role: 'host' });
  const far = new Channel(b, { role: 'enclave' });
  try {
    near.listen(BOOT_PORT, (c) => c.end(Buffer.alloc(96 * 1024)));
    await readAll(await far.connect(BOOT_PORT), { maxBytes: MAX_IMAGE_SIZE });
    const { runtime, manifest } = sampleSections();
    for (let i = 0; i < 3; i++) {
      readRuntimeDescriptor(parseCanonicalJson(runtime));
      readManifest(parseCanonicalJson(manifest));
    }
    await importFromMemory(Buffer.from('export default function main() {}'));
  } finally {
    void near.close();
    void far.close();
  }
}
