// The first code that runs inside the isolated enclave process. It is bundled (esbuild) into the
// image's BOOTSTRAP section, so PCR1 measures exactly these bytes. It receives the image bytes
// (boot.ts reads them from the channel; a parameter here), verifies checksum and
// structure, refuses to run on another Node than the one the image was built for, evaluates the
// app module from memory and calls its entry point:
//
//     export default async function main(ctx: AppContext): Promise<unknown>
//
// Evaluation from memory: `import()` of a `data:text/javascript;base64,…` URL. Checked under
// `node --permission` with no grants (Node 26): data: URLs need no file-system permission, and a
// data: module may import `node:` builtins (bare and relative specifiers are not resolvable, which
// is fine: the app is one bundled module). `vm.SourceTextModule` would also work but needs
// `--experimental-vm-modules`, which would then have to be measured and kept in every runtime.
// Only image/read.ts is imported (no crypto, no CBOR) so this bundle stays small and PCR1 does not
// move when unrelated library code changes; signatures are the host's business (PCR8), as on Nitro.
import { AppEntryPointError, AppLoadError, RuntimeMismatchError } from './errors.ts';
import type { Manifest } from './manifest.ts';
import { readImage } from './image/read.ts';
import type { JsonValue } from './canonical-json.ts';

/** What the app learns about its own image. */
export interface AppImageInfo {
  readonly name: string;
  readonly version: string;
  readonly metadata: Readonly<Record<string, JsonValue>>;
  readonly vsockPorts: readonly number[];
  readonly memoryMiB: number;
  readonly cpuCount: number;
}

/** The single argument of the app's `main`: its image info plus the services the host wires in. */
export type AppContext<S extends object = Record<never, never>> = { readonly image: AppImageInfo } & Readonly<S>;

export type AppMain<S extends object = Record<never, never>> = (ctx: AppContext<S>) => unknown;

function imageInfo(m: Manifest): AppImageInfo {
  return Object.freeze({
    name: m.name,
    version: m.version,
    metadata: m.metadata,
    vsockPorts: Object.freeze([...m.vsockPorts]),
    memoryMiB: m.memoryMiB,
    cpuCount: m.cpuCount,
  });
}

/** Evaluates an ESM module held in memory and returns its namespace. Never touches the disk. */
export async function importFromMemory(code: Uint8Array): Promise<Record<string, unknown>> {
  const url = `data:text/javascript;base64,${Buffer.from(code.buffer, code.byteOffset, code.byteLength).toString('base64')}`;
  try {
    return (await import(/* @vite-ignore */ url)) as Record<string, unknown>;
  } catch (cause) {
    throw new AppLoadError('the application module failed to evaluate', { cause });
  }
}

/** An image the bootstrap has verified and may run: what `prepareEnclave` returns. */
export interface PreparedEnclave {
  readonly application: Uint8Array;
  readonly info: AppImageInfo;
}

/**
 * Verifies `image` (checksum, structure, descriptors) and that it was built for this Node: the
 * part of a start that needs only the image, which a warm-pool process does while it waits.
 */
export function prepareEnclave(image: Uint8Array, opts: { nodeVersion?: string } = {}): PreparedEnclave {
  const parsed = readImage(image);
  const running = opts.nodeVersion ?? process.version;
  if (parsed.runtime.node !== running) {
    throw new RuntimeMismatchError(`image was built for Node ${parsed.runtime.node}, this runtime is ${running}`);
  }
  return { application: parsed.layout.application.data, info: imageInfo(parsed.manifest) };
}

/** Loads a prepared image's application and runs `main(ctx)`; resolves to what `main` returns. */
export async function runPrepared<S extends object>(prepared: PreparedEnclave, services: S): Promise<unknown> {
  const mod = await importFromMemory(prepared.application);
  const main = mod.default;
  if (typeof main !== 'function') {
    throw new AppEntryPointError('the application must `export default` its entry point: async function main(ctx)');
  }
  const ctx = Object.freeze({ ...services, image: prepared.info }) as AppContext<S>;
  return await (main as AppMain<S>)(ctx);
}

/**
 * Verifies `image`, loads its application and runs `main(ctx)`; resolves to what `main` returns.
 * `services` (vsock, nsm, kms… from the host) are merged into the context next to `image`.
 */
export async function startEnclave<S extends object>(image: Uint8Array, services: S, opts: { nodeVersion?: string } = {}): Promise<unknown> {
  return await runPrepared(prepareEnclave(image, opts), services);
}
