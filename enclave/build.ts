// buildImage: bundle the app, bundle the bootstrap, describe the runtime, write the manifest, lay
// the sections out, measure, and sign when asked. Everything that goes into the image is a
// function of the sources, the options and the pinned toolchain: no clock, no randomness, no
// absolute path (the signature section aside, since ECDSA signatures are randomized; it is outside
// PCR0–2 and PCR8 is a function of the certificate alone).
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyObject } from 'node:crypto';
import pkg from '../package.json' with { type: 'json' };
import { BUNDLER, bundleModule } from './bundle.ts';
import { canonicalJson, CanonicalJsonError, type JsonValue } from './canonical-json.ts';
import { BuildInvalidOptionError } from './errors.ts';
import { SECTION, parseLayout, writeImage } from './image/format.ts';
import { measureLayout, type Measurements } from './image/measure.ts';
import { pcr8, signatureSection } from './image/signature.ts';
import { checkManifest, type Manifest } from './manifest.ts';
import { runtimeDescriptor, type IsolationPolicy } from './runtime.ts';

export interface SigningOptions {
  /** PEM text or DER bytes of the signing certificate (ECDSA P-384 key). */
  readonly certificate: string | Uint8Array;
  /** PEM text, PKCS#8 DER bytes or a KeyObject: the certificate's private key. */
  readonly privateKey: string | Uint8Array | KeyObject;
}

export interface BuildOptions {
  /** The app's entry module, .ts/.mts/.js/.mjs; must `export default async function main(ctx)`. */
  readonly entry: string;
  /** Defaults to the entry's file name, or its folder's name for `main.*` / `index.*`. */
  readonly name?: string;
  /** Defaults to "1.0". */
  readonly version?: string;
  /** Custom JSON object reported by describe-eif under Metadata. */
  readonly metadata?: Readonly<Record<string, JsonValue>>;
  readonly memoryMiB?: number;
  readonly cpuCount?: number;
  readonly vsockPorts?: readonly number[];
  /** Overrides DEFAULT_ISOLATION (moves PCR1 and PCR0). */
  readonly isolation?: IsolationPolicy;
  readonly signing?: SigningOptions;
}

export interface BuildResult {
  readonly image: Uint8Array;
  readonly measurements: Measurements;
  readonly manifest: Manifest;
}

export const BUILD_DEFAULTS = Object.freeze({ version: '1.0', memoryMiB: 512, cpuCount: 2 });

const ENTRY_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..');

let bootstrapBundle: Promise<Uint8Array> | undefined;

/**
 * The bootstrap, bundled once per process. Paths in it are relative to the repository root
 * (`enclave/boot.ts`, the process entry, with `bootstrap.ts` and the channel), so every checkout of the same commit yields the same bytes and PCR1.
 */
export function bundledBootstrap(): Promise<Uint8Array> {
  bootstrapBundle ??= bundleModule(join(here, 'boot.ts'), repoRoot).catch((e: unknown) => {
    bootstrapBundle = undefined;
    throw e;
  });
  return bootstrapBundle;
}

function defaultName(entry: string): string {
  const stem = basename(entry, extname(entry));
  return stem === 'main' || stem === 'index' ? basename(dirname(entry)) : stem;
}

function invalid(m: string): BuildInvalidOptionError {
  return new BuildInvalidOptionError(m);
}

function jsonBytes(value: unknown, what: string): Uint8Array {
  try {
    return new TextEncoder().encode(canonicalJson(value));
  } catch (cause) {
    if (cause instanceof CanonicalJsonError) throw new BuildInvalidOptionError(`${what}: ${cause.message}`, { cause });
    throw cause;
  }
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  if (typeof opts !== 'object' || opts === null || typeof opts.entry !== 'string') throw invalid('entry must be a path');
  const given = resolve(opts.entry);
  if (!ENTRY_EXTENSIONS.includes(extname(given))) throw invalid(`entry must be one of ${ENTRY_EXTENSIONS.join(' ')}, got '${opts.entry}'`);
  if (!existsSync(given) || !statSync(given).isFile()) throw invalid(`entry '${opts.entry}' is not a file`);
  // Real path: a symlinked folder must not change the paths esbuild writes into the bundle.
  const entry = realpathSync(given);
  const runtime = runtimeDescriptor(opts.isolation);
  // Validate everything cheap before bundling, so a bad option never costs a build.
  const metadata = opts.metadata ?? {};
  const manifest = checkManifest(
    {
      name: opts.name ?? defaultName(given),
      version: opts.version ?? BUILD_DEFAULTS.version,
      metadata: JSON.parse(new TextDecoder().decode(jsonBytes(metadata, 'metadata'))) as unknown,
      memoryMiB: opts.memoryMiB ?? BUILD_DEFAULTS.memoryMiB,
      cpuCount: opts.cpuCount ?? BUILD_DEFAULTS.cpuCount,
      vsockPorts: [...new Set(opts.vsockPorts ?? [])].sort((a, b) => a - b),
      build: { tool: pkg.name, toolVersion: pkg.version, bundler: BUNDLER },
    },
    invalid,
  );
  if (opts.signing !== undefined) pcr8(opts.signing.certificate); // fail early on an unreadable certificate
  const [bootstrap, app] = await Promise.all([bundledBootstrap(), bundleModule(entry, dirname(entry))]);
  const sections = [
    { type: SECTION.RUNTIME, data: jsonBytes(runtime, 'runtime') },
    { type: SECTION.BOOTSTRAP, data: bootstrap },
    { type: SECTION.APPLICATION, data: app },
    { type: SECTION.MANIFEST, data: jsonBytes(manifest, 'manifest') },
  ];
  let image = writeImage(sections);
  // The PCRs are those of the section data (IMAGE_FORMAT.md, "Measurements"), measured from the
  // written image as every reader will.
  const m = measureLayout(parseLayout(image));
  let measurements: Measurements = m;
  if (opts.signing) {
    const sig = signatureSection(m.pcr0, opts.signing.certificate, opts.signing.privateKey);
    image = writeImage([...sections, { type: SECTION.SIGNATURE, data: sig }]);
    measurements = { ...m, pcr8: pcr8(opts.signing.certificate) };
  }
  return { image, measurements, manifest };
}

