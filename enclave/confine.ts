// Build confinement: what the bundler may read. An app (or any dependency it pulls in) decides
// what esbuild opens, by absolute or `../` paths, symlinks, `file:` URLs or import attributes that
// pick a text/JSON loader, and whatever esbuild opens is inlined into the image. So every import
// esbuild resolves, of every kind, is checked here before esbuild may load it (an `onResolve`
// plugin for all paths and namespaces), and every input the bundle reports is checked again after:
//
// - the file's real path (symlinks followed) lies inside the project root;
// - it lies in no sandbox data directory: neither the one named (the PKI, the KMS store) nor any
//   directory carrying the data-dir marker (DATA_DIR_MARKER), so a data directory inside the
//   project is refused even when the build was told of another;
// - a file under a `node_modules` directory belongs to a package the project's npm lockfile lists
//   (package-lock.json or npm-shrinkwrap.json, lockfileVersion 2 or 3, `packages` keyed by the
//   install path), with the version the lockfile records: "dependencies come from the lockfile's
//   tree only". A package that npm did not install from the lockfile (copied in, extraneous,
//   another version) is refused; without a lockfile no dependency is bundled at all;
// - anything that is not a file (a namespace other than `file`) is refused, and the only external
//   imports left are Node's built-in modules (which the enclave's permission model confines).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'esbuild';
import { DATA_DIR_MARKER } from '../attestation/index.ts';
import { BuildImportRefusedError, BuildInvalidOptionError } from './errors.ts';

const LOCKFILES = ['npm-shrinkwrap.json', 'package-lock.json'];

export interface Confinement {
  /** Real path of the project root. */
  readonly root: string;
  /** Real (or, when absent, resolved) paths of the sandbox data directories no build may read. */
  readonly dataDirs: readonly string[];
}

/** True when `path` is `dir` or lies below it (both absolute and normalized). */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** The nearest directory at or above `from` holding a package.json, or undefined. */
export function nearestPackageDir(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The confinement for a build of `entry` (a real path): the project root is `projectRoot` when
 * given, else the nearest package.json directory of the entry, else the entry's own directory.
 */
export function confinementFor(entry: string, projectRoot: string | undefined, dataDirs: readonly string[]): Confinement {
  let root: string;
  if (projectRoot !== undefined) {
    try {
      root = realpathSync(projectRoot);
    } catch (cause) {
      throw new BuildInvalidOptionError(`project root '${projectRoot}' is not a readable directory`, { cause });
    }
  } else root = nearestPackageDir(dirname(entry)) ?? dirname(entry);
  if (!isInside(entry, root)) throw new BuildInvalidOptionError(`entry '${entry}' lies outside the project root '${root}'`);
  return { root, dataDirs: dataDirs.map(realOrResolved) };
}

interface LockedPackage {
  readonly version: string | undefined;
}

/** Reads the package map of the project's lockfile; null when the project has none. */
function readLockfile(root: string): { file: string; packages: ReadonlyMap<string, LockedPackage> } | null {
  for (const name of LOCKFILES) {
    const file = join(root, name);
    if (!existsSync(file)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new BuildInvalidOptionError(`${name} in the project root is not valid JSON`, { cause });
    }
    const packages = (parsed as { packages?: unknown } | null)?.packages;
    if (typeof packages !== 'object' || packages === null || Array.isArray(packages)) {
      throw new BuildInvalidOptionError(`${name} has no "packages" map (lockfileVersion 2 or 3, written by npm 7 or later, is required)`);
    }
    const out = new Map<string, LockedPackage>();
    for (const [key, value] of Object.entries(packages as Record<string, unknown>)) {
      const version = (value as { version?: unknown } | null)?.version;
      out.set(key, { version: typeof version === 'string' ? version : undefined });
    }
    return { file: name, packages: out };
  }
  return null;
}

/**
 * The install path of the package a file under node_modules belongs to, as npm's lockfile keys it
 * (`node_modules/a`, `node_modules/@s/b/node_modules/c`, `packages/w/node_modules/d`): everything
 * up to the package name after the last `node_modules` segment. Undefined when the file is not
 * inside a package (`node_modules/x.js`, `node_modules/.bin/…`).
 */
export function packageKey(relPath: string): string | undefined {
  const parts = relPath.split(sep);
  const i = parts.lastIndexOf('node_modules');
  if (i < 0) return undefined;
  const name = parts[i + 1];
  if (name === undefined || name.startsWith('.')) return undefined;
  const scoped = name.startsWith('@');
  const end = scoped ? i + 3 : i + 2;
  // The package directory must be followed by a file in it.
  if (parts.length <= end || (scoped && (parts[i + 2] ?? '').length === 0)) return undefined;
  return parts.slice(0, end).join('/');
}

/** One refusal: the import as written, who wrote it (relative to the root) and why. */
export interface Refusal {
  readonly specifier: string;
  readonly importer: string;
  readonly reason: string;
}

/**
 * The checks, with the caches one build shares (lockfile, marker lookups per directory, package
 * versions). `check` returns the reason a real path may not be read, or undefined.
 */
export class ConfinementCheck {
  readonly confinement: Confinement;
  #lockfile: ReturnType<typeof readLockfile> | undefined;
  readonly #marked = new Map<string, boolean>();
  readonly #versions = new Map<string, string | undefined>();

  constructor(confinement: Confinement) {
    this.confinement = confinement;
  }

  /** `path` relative to the root, with `/` separators (what the file list records). */
  relative(path: string): string {
    return relative(this.confinement.root, path).split(sep).join('/');
  }

  #insideMarkedDir(dir: string): boolean {
    const known = this.#marked.get(dir);
    if (known !== undefined) return known;
    const parent = dirname(dir);
    const marked = existsSync(join(dir, DATA_DIR_MARKER)) || (parent !== dir && this.#insideMarkedDir(parent));
    this.#marked.set(dir, marked);
    return marked;
  }

  #installedVersion(pkgDir: string): string | undefined {
    if (this.#versions.has(pkgDir)) return this.#versions.get(pkgDir);
    let version: string | undefined;
    try {
      const v = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version?: unknown } | null)?.version;
      version = typeof v === 'string' ? v : undefined;
    } catch {
      version = undefined;
    }
    this.#versions.set(pkgDir, version);
    return version;
  }

  check(real: string): string | undefined {
    const { root, dataDirs } = this.confinement;
    if (!isInside(real, root)) return `it resolves to ${real}, outside the project root ${root}`;
    for (const d of dataDirs) if (isInside(real, d)) return `it lies in the sandbox data directory ${d}`;
    if (this.#insideMarkedDir(dirname(real))) return `it lies in a sandbox data directory (a folder holding ${DATA_DIR_MARKER})`;
    const rel = relative(root, real);
    const key = packageKey(rel);
    if (key === undefined) {
      return rel.split(sep).includes('node_modules') ? 'it lies in node_modules but in no package directory' : undefined;
    }
    this.#lockfile ??= readLockfile(root);
    if (this.#lockfile === null) return `it belongs to the dependency ${key}, and the project has no package-lock.json: dependencies are bundled from the lockfile's tree only`;
    const locked = this.#lockfile.packages.get(key);
    if (!locked) return `its package ${key} is not in ${this.#lockfile.file}: dependencies are bundled from the lockfile's tree only`;
    const installed = this.#installedVersion(join(root, ...key.split('/')));
    if (locked.version !== undefined && installed !== locked.version) {
      return `its package ${key} is version ${installed ?? '(none)'}, but ${this.#lockfile.file} records ${locked.version}`;
    }
    return undefined;
  }
}

const SKIP = Symbol('confined');

/**
 * The esbuild plugin: resolves every import as esbuild would (build.resolve), then lets it
 * through only if `check` accepts the real path. Refusals are collected in `refusals` (and fail the
 * build), so the caller can report them as one typed error.
 */
export function confinePlugin(check: ConfinementCheck, refusals: Refusal[]): Plugin {
  return {
    name: 'nitro-sandbox-confine',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if ((args.pluginData as { [SKIP]?: boolean } | undefined)?.[SKIP]) return undefined;
        const importer = args.importer === '' ? '(entry point)' : check.relative(args.importer);
        const refuse = (reason: string) => {
          refusals.push({ specifier: args.path, importer, reason });
          return { errors: [{ text: `import '${args.path}' refused: ${reason}` }] };
        };
        if (args.namespace !== 'file') return refuse(`its importer is in the '${args.namespace}' namespace, not a file`);
        // esbuild does not resolve file: URLs today; refusing them here keeps that so if it starts to.
        if (/^file:/i.test(args.path)) return refuse('file: URLs are not resolved in enclave builds');
        const r = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          with: args.with,
          pluginData: { [SKIP]: true },
        });
        if (r.errors.length > 0) return { errors: r.errors, warnings: r.warnings };
        if (r.external) {
          if (isBuiltin(r.path)) return { path: r.path, external: true, sideEffects: r.sideEffects };
          return refuse('only Node built-in modules may stay external');
        }
        if (r.namespace !== 'file') return refuse(`it resolves into the '${r.namespace}' namespace, not to a file`);
        let real: string;
        try {
          real = realpathSync(r.path);
        } catch {
          return refuse(`${r.path} cannot be read`);
        }
        const why = check.check(real);
        if (why !== undefined) return refuse(why);
        return { path: real, namespace: 'file', sideEffects: r.sideEffects, suffix: r.suffix, pluginData: r.pluginData as unknown };
      });
    },
  };
}

/** The typed error for a build whose imports were refused (the first one named, all listed). */
export function refusedError(refusals: readonly Refusal[]): BuildImportRefusedError {
  const first = refusals[0] as Refusal;
  const lines = refusals.map((r) => `  import '${r.specifier}' in ${r.importer}: ${r.reason}`);
  return new BuildImportRefusedError(`the build may read only the project and its locked dependencies; refused:\n${lines.join('\n')}`, first);
}
