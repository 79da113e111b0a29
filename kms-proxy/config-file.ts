// Operator files the KMS reads at start-up (seed files, credential files): YAML, or JSON when the
// name ends in .json, bounded in size before they are read and parsed whole before anything of
// them is used. A file that is too large, cannot be read or does not parse is ValidationException
// `<what>: …`, and the KMS does not start.
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { KmsError, kmsError } from './errors.ts';

/** Larger files are refused unread (a seed of 100,000 keys is about 20 MiB). */
export const MAX_CONFIG_FILE_BYTES = 64 * 1024 * 1024;

export function readConfigFile(path: string, what: string): unknown {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_FILE_BYTES) throw kmsError('ValidationException', `${what}: ${path} is ${size} bytes, more than ${MAX_CONFIG_FILE_BYTES}`);
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if (cause instanceof KmsError) throw cause;
    throw new KmsError('ValidationException', `${what}: cannot read ${path}`, { cause });
  }
  try {
    // YAML aliases are capped so a small file cannot expand into a huge document.
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (cause) {
    throw new KmsError('ValidationException', `${what}: ${path} does not parse`, { cause });
  }
}
