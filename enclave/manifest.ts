// The MANIFEST section: who the image is (name, version, the builder's custom metadata), the
// defaults `run-enclave` uses when not told otherwise (memory, CPUs) and the vsock ports the app
// listens on. Like EIF's metadata it is outside every PCR (IMAGE_FORMAT.md, "Why the manifest is
// outside every PCR").
import type { JsonValue } from './canonical-json.ts';
import { ImageMalformedError } from './errors.ts';

export interface Manifest {
  readonly name: string;
  readonly version: string;
  /** The builder's own JSON object (`--metadata`), reported by describe-eif under Metadata. */
  readonly metadata: Readonly<Record<string, JsonValue>>;
  readonly memoryMiB: number;
  readonly cpuCount: number;
  /** Sorted, without duplicates. */
  readonly vsockPorts: readonly number[];
  /** What made the image (a different bundler makes other code, which PCR1/PCR2 measure). */
  readonly build: { readonly tool: string; readonly toolVersion: string; readonly bundler: string };
}

export const MANIFEST_LIMITS = Object.freeze({
  nameLength: 128,
  versionLength: 64,
  metadataBytes: 64 * 1024,
  minMemoryMiB: 64,
  maxMemoryMiB: 1024 * 1024,
  maxCpuCount: 256,
  maxPorts: 64,
});

/**
 * The fields of nitro-cli's `MetadataDescribeInfo` (src/common/json_output.rs) in its order; the
 * custom metadata is flattened in after them, so a custom key may not take one of these names.
 */
export const RESERVED_METADATA_KEYS: readonly string[] = Object.freeze(['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion', 'DockerInfo']);

/**
 * Checks a manifest of unknown origin and returns a normalized copy; every problem is reported
 * through `fail`, so a build option and a parsed image get their own error class.
 */
export function checkManifest(x: unknown, fail: (message: string) => Error): Manifest {
  if (!isRecord(x)) throw fail('must be an object');
  const keys = ['build', 'cpuCount', 'memoryMiB', 'metadata', 'name', 'version', 'vsockPorts'];
  for (const k of Object.keys(x)) if (!keys.includes(k)) throw fail(`unknown field '${k}'`);
  for (const k of keys) if (!(k in x)) throw fail(`missing field '${k}'`);
  const L = MANIFEST_LIMITS;
  const name = text(x.name, 'name', L.nameLength, fail);
  const version = text(x.version, 'version', L.versionLength, fail);
  if (!isRecord(x.metadata)) throw fail('metadata must be a JSON object');
  for (const k of Object.keys(x.metadata)) if (RESERVED_METADATA_KEYS.includes(k)) throw fail(`metadata key '${k}' is reserved`);
  if (new TextEncoder().encode(JSON.stringify(x.metadata)).length > L.metadataBytes) throw fail(`metadata must be at most ${L.metadataBytes} bytes`);
  const memoryMiB = int(x.memoryMiB, 'memoryMiB', L.minMemoryMiB, L.maxMemoryMiB, fail);
  const cpuCount = int(x.cpuCount, 'cpuCount', 1, L.maxCpuCount, fail);
  if (!Array.isArray(x.vsockPorts) || x.vsockPorts.length > L.maxPorts) throw fail(`vsockPorts must be an array of at most ${L.maxPorts} ports`);
  const ports = x.vsockPorts.map((p: unknown) => int(p, 'vsockPorts[]', 1, 0xffffffff - 1, fail));
  for (let i = 1; i < ports.length; i++) {
    if ((ports[i] as number) <= (ports[i - 1] as number)) throw fail('vsockPorts must be sorted and without duplicates');
  }
  const b = x.build;
  if (!isRecord(b)) throw fail('build must be an object');
  for (const k of Object.keys(b)) if (!['bundler', 'tool', 'toolVersion'].includes(k)) throw fail(`unknown field 'build.${k}'`);
  return {
    name,
    version,
    metadata: x.metadata as Record<string, JsonValue>,
    memoryMiB,
    cpuCount,
    vsockPorts: ports,
    build: {
      tool: text(b.tool, 'build.tool', 64, fail),
      toolVersion: text(b.toolVersion, 'build.toolVersion', 64, fail),
      bundler: text(b.bundler, 'build.bundler', 64, fail),
    },
  };
}

export function readManifest(x: JsonValue): Manifest {
  return checkManifest(x, (m) => new ImageMalformedError(`manifest section: ${m}`));
}

function text(x: unknown, field: string, max: number, fail: (m: string) => Error): string {
  // Printable, single-line: these strings end up in JSON output and in logs.
  if (typeof x !== 'string' || x.length === 0 || x.length > max || /[\u0000-\u001f\u007f]/.test(x)) {
    throw fail(`${field} must be 1–${max} printable characters`);
  }
  return x;
}

function int(x: unknown, field: string, min: number, max: number, fail: (m: string) => Error): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw fail(`${field} must be a whole number from ${min} to ${max}`);
  return x;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
