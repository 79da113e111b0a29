// esbuild, configured so its output depends only on the sources: no source maps, no legal-comment
// files, and `absWorkingDir` pinned to a directory the caller chooses, because esbuild's
// `// path/to/file.ts` comments are written relative to it. Output is ESM for Node. The metafile
// (which does not change the output) lists the files esbuild read: a confined build checks each
// of them once more, and every build reports them with their SHA-384 (file-list.ts).
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { build, version as esbuildVersion, type Message, type Plugin } from 'esbuild';
import { confinePlugin, refusedError, type ConfinementCheck, type Refusal } from './confine.ts';
import { BuildFailedError, EnclaveInvalidArgumentError } from './errors.ts';
import { sortFiles, type FileEntry } from './file-list.ts';

export const BUNDLER = `esbuild ${esbuildVersion}`;
/** The Node the bundle targets; kept in step with the pinned runtime (package.json `node`). */
export const BUNDLE_TARGET = 'node26';

export interface Bundle {
  readonly code: Uint8Array;
  /** Every file esbuild read, relative to `filesRelativeTo`, sorted by path. */
  readonly files: readonly FileEntry[];
}

export interface BundleOptions {
  /** Paths in the output are relative to this directory (absolute). */
  readonly workingDir: string;
  /** The file list's paths are relative to this directory (absolute); the project root. */
  readonly filesRelativeTo: string;
  /** When given, only what this check accepts may be read (confine.ts). */
  readonly confine?: ConfinementCheck;
}

function formatMessages(kind: string, messages: readonly Message[]): string {
  return messages
    .map((m) => {
      const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
      return `${kind}: ${where}${m.text}`;
    })
    .join('\n');
}

function sha384(path: string): string {
  return createHash('sha384').update(readFileSync(path)).digest('hex');
}

/**
 * Bundles `entry` (absolute, .ts or .js) with all its imports into one ESM module. Paths written
 * into the output are relative to `workingDir`, so two copies of the same sources in different
 * directories bundle to identical bytes.
 */
export async function bundleModule(entry: string, options: BundleOptions): Promise<Bundle> {
  const { workingDir, filesRelativeTo, confine } = options;
  if (!isAbsolute(entry) || !isAbsolute(workingDir) || !isAbsolute(filesRelativeTo)) {
    throw new EnclaveInvalidArgumentError('bundle entry, working directory and file-list root must be absolute paths');
  }
  const refusals: Refusal[] = [];
  const plugins: Plugin[] = confine ? [confinePlugin(confine, refusals)] : [];
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      absWorkingDir: workingDir,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: BUNDLE_TARGET,
      write: false,
      outfile: 'app.js',
      sourcemap: false,
      legalComments: 'none',
      charset: 'utf8',
      metafile: true,
      logLevel: 'silent',
      plugins,
      // An explicit (empty) tsconfig stops esbuild from reading tsconfig.json files: one above the
      // entry's folder (the repository's, for examples/) would otherwise change the output
      // (e.g. useDefineForClassFields) depending on where the sources sit. Checked on esbuild 0.28.
      tsconfigRaw: {},
    });
  } catch (cause) {
    if (refusals.length > 0) throw refusedError(refusals);
    const errors = (cause as { errors?: Message[] }).errors;
    const detail = errors && errors.length > 0 ? formatMessages('error', errors) : cause instanceof Error ? cause.message : String(cause);
    throw new BuildFailedError(`bundling ${entry} failed:\n${detail}`, { cause });
  }
  const file = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (!file || result.outputFiles.length !== 1) throw new BuildFailedError(`bundling ${entry} produced ${result.outputFiles.length} files, expected one module`);
  const files: FileEntry[] = [];
  for (const input of Object.keys(result.metafile.inputs)) {
    // Inputs are paths relative to absWorkingDir (file namespace), or `ns:path` for other
    // namespaces, which a confined build never lets through.
    if (/^[a-z-]+:/i.test(input)) {
      if (confine) throw refusedError([{ specifier: input, importer: '(bundle input)', reason: 'it is not a file' }]);
      continue;
    }
    const path = resolve(workingDir, input);
    let real: string;
    let digest: string;
    try {
      real = realpathSync(path);
      digest = sha384(real);
    } catch (cause) {
      // Removed or replaced since esbuild read it: the list could not say what went in.
      throw new BuildFailedError(`bundling ${entry} failed: ${input} changed during the build`, { cause });
    }
    const why = confine?.check(real);
    if (why !== undefined) throw refusedError([{ specifier: input, importer: '(bundle input)', reason: why }]);
    files.push({ path: relative(filesRelativeTo, path).split(sep).join('/'), sha384: digest });
  }
  return { code: file.contents, files: sortFiles(files) };
}
