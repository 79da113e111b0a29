// Where the audit log lives in a data directory:
//
//   audit/<replica>/00000001.log      segments, numbered from 1 with no gaps
//   audit/<replica>/head.json         the signed end of the chain
//   audit/<replica>/recovered/<time>/ files set aside by `kms audit recover`
//
// One chain per replica (a KMS process writing the log): replicas sharing a store each keep their
// own chain, and collecting their `audit/<replica>/` folders under one `audit/` lets
// `kms audit verify` check them together. The default replica is `local`.
import { existsSync, mkdirSync, readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { kmsError } from '../errors.ts';

export const DEFAULT_REPLICA = 'local';
const REPLICA_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const HEAD_FILE = 'head.json';
export const RECOVERED_DIR = 'recovered';
const SEGMENT = /^(\d{8})\.log$/;
/** The unkeyed log of earlier versions, at the top of the data directory. */
export const LEGACY_FILES: readonly string[] = ['audit.log', 'audit.head'];

export function checkReplicaId(id: string): void {
  if (!REPLICA_ID.test(id)) throw kmsError('ValidationException', `An audit replica id is 1 to 63 lower-case letters, digits and '-', starting with a letter or digit; got '${id}'.`);
}

export function auditRoot(dataDir: string): string {
  return join(dataDir, 'audit');
}

export function replicaDir(dataDir: string, replica: string): string {
  return join(auditRoot(dataDir), replica);
}

export function segmentFile(n: number): string {
  return `${String(n).padStart(8, '0')}.log`;
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Segment numbers present in a replica's folder, ascending. */
export function listSegments(dir: string): number[] {
  const out: number[] = [];
  for (const e of entries(dir)) {
    const m = SEGMENT.exec(e.name);
    if (m && e.isFile()) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** Replica folders under `audit/`, by name. */
export function listReplicas(dataDir: string): string[] {
  return entries(auditRoot(dataDir))
    .filter((e) => e.isDirectory() && REPLICA_ID.test(e.name))
    .map((e) => e.name)
    .sort();
}

/** File names a Recovery record may list (and a verifier opens): no separators, no `..`. */
export const SET_ASIDE_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;

/**
 * Makes a new folder `recovered/<UTC time><suffix>[-n]` in a replica's folder (mode 0700) and
 * returns its path relative to that folder, with '/' separators (as Recovery records hold it).
 */
export function newRecoveredDir(replicaFolder: string, time: number, suffix = ''): string {
  const stamp = `${new Date(time).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}${suffix}`;
  let rel = `${RECOVERED_DIR}/${stamp}`;
  for (let i = 2; existsSync(join(replicaFolder, rel)); i++) rel = `${RECOVERED_DIR}/${stamp}-${i}`;
  mkdirSync(join(replicaFolder, rel), { recursive: true, mode: 0o700 });
  return rel;
}

/** Names in a replica's folder other than `recovered/`: what a recovery sets aside. */
export function replicaFiles(dir: string): string[] {
  return entries(dir)
    .filter((e) => e.name !== RECOVERED_DIR)
    .map((e) => e.name)
    .sort();
}
