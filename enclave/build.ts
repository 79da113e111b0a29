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
import { defaultDataDir } from '../attestation/index.ts';
import { BUNDLER, bundleModule, type Bundle } from './bundle.ts';
import { ConfinementCheck, confinementFor } from './confine.ts';
import { canonicalJson, CanonicalJsonError, type JsonValue } from './canonical-json.ts';
import { BuildInvalidOptionError } from './errors.ts';
import { SECTION, parseLayout, writeImage } from './image/format.ts';
import { measureLayout, type Measurements } from './image/measure.ts';
import { MAX_MANIFEST_SECTION } from './image/read.ts';
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
  /**
   * The only directory the build may read (with its node_modules, as the lockfile lists them).
   * Default: the nearest directory at or above the entry holding a package.json, else the entry's.
   */
  readonly projectRoot?: string;
  /** A sandbox data directory the build must never read, besides `defaultDataDir()`. */
  readonly dataDir?: string;
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

let bootstrapBundle: Promise<Bundle> | undefined;

/**
 * The bootstrap, bundled once per process. Paths in it are relative to the repository root
 * (`enclave/boot.ts`, the process entry, with `bootstrap.ts` and the channel), so every checkout of
 * the same commit yields the same bytes and PCR1. It is this package's own code, so it is not
 * confined to a project (installed as a dependency, its imports may lie beside it in node_modules).
 */
function bootstrap(): Promise<Bundle> {
  bootstrapBundle ??= bundleModule(join(here, 'boot.ts'), { workingDir: repoRoot, filesRelativeTo: repoRoot }).catch((e: unknown) => {
    bootstrapBundle = undefined;
    throw e;
  });
  return bootstrapBundle;
}

/** The bundled bootstrap module (the BOOTSTRAP section's bytes). */
export async function bundledBootstrap(): Promise<Uint8Array> {
  return (await bootstrap()).code;
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
  if (opts.projectRoot !== undefined && typeof opts.projectRoot !== 'string') throw invalid('projectRoot must be a path');
  if (opts.dataDir !== undefined && typeof opts.dataDir !== 'string') throw invalid('dataDir must be a path');
  const confinement = confinementFor(entry, opts.projectRoot, [defaultDataDir(), ...(opts.dataDir !== undefined ? [opts.dataDir] : [])]);
  const runtime = runtimeDescriptor(opts.isolation);
  // Validate everything cheap before bundling, so a bad option never costs a build.
  const metadata = opts.metadata ?? {};
  const fields = {
    name: opts.name ?? defaultName(given),
    version: opts.version ?? BUILD_DEFAULTS.version,
    metadata: JSON.parse(new TextDecoder().decode(jsonBytes(metadata, 'metadata'))) as unknown,
    memoryMiB: opts.memoryMiB ?? BUILD_DEFAULTS.memoryMiB,
    cpuCount: opts.cpuCount ?? BUILD_DEFAULTS.cpuCount,
    vsockPorts: [...new Set(opts.vsockPorts ?? [])].sort((a, b) => a - b),
    build: { tool: pkg.name, toolVersion: pkg.version, bundler: BUNDLER },
  };
  checkManifest({ ...fields, files: { application: [], bootstrap: [] } }, invalid);
  if (opts.signing !== undefined) pcr8(opts.signing.certificate); // fail early on an unreadable certificate
  const [boot, app] = await Promise.all([
    bootstrap(),
    bundleModule(entry, { workingDir: dirname(entry), filesRelativeTo: confinement.root, confine: new ConfinementCheck(confinement) }),
  ]);
  const manifest = checkManifest({ ...fields, files: { application: app.files, bootstrap: boot.files } }, invalid);
  const manifestBytes = jsonBytes(manifest, 'manifest');
  if (manifestBytes.length > MAX_MANIFEST_SECTION) throw invalid(`the manifest (metadata and file list) would be ${manifestBytes.length} bytes, more than ${MAX_MANIFEST_SECTION}`);
  const sections = [
    { type: SECTION.RUNTIME, data: jsonBytes(runtime, 'runtime') },
    { type: SECTION.BOOTSTRAP, data: boot.code },
    { type: SECTION.APPLICATION, data: app.code },
    { type: SECTION.MANIFEST, data: manifestBytes },
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

