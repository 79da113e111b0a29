// The image's file list: every file the bundler read for each code section, by path (relative to
// the app's project root for the application, to the nitro-sandbox package for the bootstrap) and
// SHA-384 of its bytes, so a user can audit what PCR2 (and PCR1) cover (rebuild from the listed
// files and compare). It is its own value with its own reader, carried by the manifest (`files`,
// outside every PCR like EIF's metadata), so the format can move it elsewhere whole.
import type { JsonValue } from './canonical-json.ts';

export interface FileEntry {
  /** Relative path with `/` separators; never absolute, never a `..` segment except leading ones. */
  readonly path: string;
  /** SHA-384 of the file's bytes, lower-case hex. */
  readonly sha384: string;
}

export interface FileList {
  readonly application: readonly FileEntry[];
  readonly bootstrap: readonly FileEntry[];
}

export const FILE_LIST_LIMITS = Object.freeze({
  /** Files per section: a bundle of the AWS SDK reads about a thousand. */
  maxFiles: 20_000,
  maxPathLength: 1024,
});

/** Sorted by path, so the list (and the manifest's bytes) is a function of the files alone. */
export function sortFiles(entries: readonly FileEntry[]): FileEntry[] {
  return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function entries(x: unknown, field: string, fail: (m: string) => Error): FileEntry[] {
  if (!Array.isArray(x) || x.length > FILE_LIST_LIMITS.maxFiles) throw fail(`files.${field} must be an array of at most ${FILE_LIST_LIMITS.maxFiles} entries`);
  let previous = '';
  return x.map((e: unknown, i) => {
    const at = `files.${field}[${i}]`;
    if (!isRecord(e) || Object.keys(e).length !== 2) throw fail(`${at} must be {path, sha384}`);
    const { path, sha384 } = e;
    if (typeof path !== 'string' || path.length === 0 || path.length > FILE_LIST_LIMITS.maxPathLength || /[\u0000-\u001f\u007f\\]/.test(path) || path.startsWith('/')) {
      throw fail(`${at}.path must be a relative path of 1–${FILE_LIST_LIMITS.maxPathLength} printable characters`);
    }
    if (typeof sha384 !== 'string' || !/^[0-9a-f]{96}$/.test(sha384)) throw fail(`${at}.sha384 must be 96 lower-case hex digits`);
    if (i > 0 && !(previous < path)) throw fail(`files.${field} must be sorted by path, without duplicates`);
    previous = path;
    return { path, sha384 };
  });
}

/** Checks a file list of unknown origin (a build's, or an image's manifest). */
export function checkFileList(x: unknown, fail: (message: string) => Error): FileList {
  if (!isRecord(x)) throw fail('files must be an object');
  for (const k of Object.keys(x)) if (k !== 'application' && k !== 'bootstrap') throw fail(`unknown field 'files.${k}'`);
  return { application: entries(x.application, 'application', fail), bootstrap: entries(x.bootstrap, 'bootstrap', fail) };
}

/** describe-eif's `Files`: nitro-cli-style capitalized keys. */
export function describeFileList(files: FileList): Record<string, JsonValue> {
  const out = (list: readonly FileEntry[]): JsonValue[] => list.map((f) => ({ Path: f.path, Sha384: f.sha384 }));
  return { Application: out(files.application), Bootstrap: out(files.bootstrap) };
}
