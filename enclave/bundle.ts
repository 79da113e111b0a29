// esbuild, configured so its output depends only on the sources: no source maps, no legal-comment
// files, no metafile, and `absWorkingDir` pinned to a directory the caller chooses, because
// esbuild's `// path/to/file.ts` comments are written relative to it. Output is ESM for Node.
import { build, version as esbuildVersion, type Message } from 'esbuild';
import { isAbsolute } from 'node:path';
import { BuildFailedError, EnclaveInvalidArgumentError } from './errors.ts';

export const BUNDLER = `esbuild ${esbuildVersion}`;
/** The Node the bundle targets; kept in step with the pinned runtime (package.json `node`). */
export const BUNDLE_TARGET = 'node26';

function formatMessages(kind: string, messages: readonly Message[]): string {
  return messages
    .map((m) => {
      const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
      return `${kind}: ${where}${m.text}`;
    })
    .join('\n');
}

/**
 * Bundles `entry` (absolute, .ts or .js) with all its imports into one ESM module. Paths written
 * into the output are relative to `workingDir`, so two copies of the same sources in different
 * directories bundle to identical bytes.
 */
export async function bundleModule(entry: string, workingDir: string): Promise<Uint8Array> {
  if (!isAbsolute(entry) || !isAbsolute(workingDir)) throw new EnclaveInvalidArgumentError('bundle entry and working directory must be absolute paths');
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
      metafile: false,
      logLevel: 'silent',
      // An explicit (empty) tsconfig stops esbuild from reading tsconfig.json files: one above the
      // entry's folder (the repository's, for examples/) would otherwise change the output
      // (e.g. useDefineForClassFields) depending on where the sources sit. Checked on esbuild 0.28.
      tsconfigRaw: {},
    });
  } catch (cause) {
    const errors = (cause as { errors?: Message[] }).errors;
    const detail = errors && errors.length > 0 ? formatMessages('error', errors) : cause instanceof Error ? cause.message : String(cause);
    throw new BuildFailedError(`bundling ${entry} failed:\n${detail}`, { cause });
  }
  const file = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (!file || result.outputFiles.length !== 1) throw new BuildFailedError(`bundling ${entry} produced ${result.outputFiles.length} files, expected one module`);
  return file.contents;
}
