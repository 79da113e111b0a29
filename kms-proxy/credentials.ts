// The credentials a KMS accepts: who may call it, as which principal of which account, and with
// which identity policy. Sources, all merged at start-up (an access key id defined twice with
// different contents is refused):
// - `credentials.json` in the data directory: a fresh directory gets one generated access key
//   (mode 0600, printed by `kms serve`); the operator may add entries. Replaced by the library's
//   `credentials` option when that is given.
// - `credentials:` in the seed file (seed.ts), and `kms serve --credentials FILE` (same format).
//
// An entry: { accessKeyId, secretAccessKey, principalArn, account?, allowedActions? }. The
// principal is an IAM or STS ARN (`arn:aws:iam::111122223333:user/dev`, `…:root`,
// `arn:aws:sts::…:assumed-role/Role/session`); `account`, when given, must be the ARN's account.
// `allowedActions` is the principal's identity policy (identity.ts): IAM actions, `*` and `?`
// wildcards (`kms:Decrypt`, `kms:Describe*`, `*`); absent, every action is allowed.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigFile } from './config-file.ts';
import { KmsError, kmsError } from './errors.ts';
import { createExclusive } from '../attestation/custody.ts';
import { principalAccountOf } from './identity.ts';
import type { Credential } from './sigv4.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** At most this many credentials from any one source: the list is checked before it is kept. */
export const MAX_CREDENTIALS = 10_000;

export function generateCredential(account: string): Credential {
  const id = [...randomBytes(16)].map((b) => ALNUM[b % 32]).join('');
  return {
    // "AKIA" like a long-term IAM user key; the SDK does not care, humans recognize it.
    accessKeyId: `AKIA${id}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    principalArn: `arn:aws:iam::${account}:user/nitro-sandbox`,
    account,
  };
}

function bad(where: string, message: string): never {
  throw kmsError('ValidationException', `${where}: ${message}`);
}

/** Checks one credential entry completely; ValidationException naming `where` and the field. */
export function parseCredential(v: unknown, where: string): Credential {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(where, 'must be an object { accessKeyId, secretAccessKey, principalArn, account?, allowedActions? }');
  const c = v as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!['accessKeyId', 'secretAccessKey', 'principalArn', 'account', 'allowedActions'].includes(k)) bad(where, `unknown field '${k}'`);
  }
  const { accessKeyId, secretAccessKey, principalArn, account, allowedActions } = c;
  // The shapes SigV4 can carry: an access key id is [A-Z0-9] (AWS: 16–128 characters).
  if (typeof accessKeyId !== 'string' || !/^[A-Za-z0-9]{16,128}$/.test(accessKeyId)) bad(where, 'accessKeyId must be 16–128 letters and digits');
  if (typeof secretAccessKey !== 'string' || secretAccessKey.length < 1 || secretAccessKey.length > 1024) bad(where, 'secretAccessKey must be a string of 1–1024 characters');
  const principalAccount = typeof principalArn === 'string' ? principalAccountOf(principalArn) : undefined;
  if (typeof principalArn !== 'string' || principalAccount === undefined) bad(where, `principalArn must be an IAM or STS principal ARN (…:root, …:user/NAME, …:assumed-role/ROLE/SESSION), got ${JSON.stringify(principalArn)}`);
  if (account !== undefined && account !== principalAccount) bad(where, `account ${JSON.stringify(account)} is not the account of ${principalArn}`);
  let actions: string[] | undefined;
  if (allowedActions !== undefined) {
    if (!Array.isArray(allowedActions) || allowedActions.length > 1000) bad(where, 'allowedActions must be a list of at most 1000 IAM actions');
    actions = allowedActions.map((a) => {
      if (typeof a !== 'string' || !/^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/.test(a)) bad(where, `allowedActions entry ${JSON.stringify(a)} is not an IAM action such as kms:Decrypt or kms:*`);
      return a;
    });
  }
  return { accessKeyId, secretAccessKey, principalArn, account: principalAccount, ...(actions ? { allowedActions: actions } : {}) };
}

/** Checks a list of credential entries (from a file or a seed section). */
export function parseCredentials(v: unknown, where: string): Credential[] {
  if (!Array.isArray(v)) bad(where, 'must be a list of credentials');
  if (v.length > MAX_CREDENTIALS) bad(where, `at most ${MAX_CREDENTIALS} credentials, got ${v.length}`);
  return v.map((c, i) => parseCredential(c, `${where}[${i}]`));
}

/** Reads a credentials file (JSON or YAML, a list of entries); ValidationException when it is not one. */
export function readCredentialsFile(path: string): Credential[] {
  return parseCredentials(readConfigFile(path, 'credentials'), path);
}

/**
 * Merges credential lists: the first occurrence of an access key id wins; the same id again with a
 * different secret, principal or identity policy is refused (ValidationException), since which
 * one a request authenticates as would depend on the order of the sources.
 */
export function mergeCredentials(...lists: readonly (readonly Credential[])[]): Credential[] {
  const byId = new Map<string, Credential>();
  for (const c of lists.flat()) {
    const prior = byId.get(c.accessKeyId);
    if (!prior) byId.set(c.accessKeyId, c);
    else if (JSON.stringify(prior) !== JSON.stringify(c)) throw kmsError('ValidationException', `credentials: access key ${c.accessKeyId} is defined twice with different contents`);
  }
  return [...byId.values()];
}

/** Loads `credentials.json`, creating it (0600) with one generated credential when absent. */
export function loadOrCreateCredentials(dataDir: string, account: string): { credentials: Credential[]; created: boolean } {
  const path = join(dataDir, 'credentials.json');
  // Complete before the name appears (createExclusive): a replica starting at the same moment
  // reads this file or its own, never a partial one.
  const generated = [generateCredential(account)];
  if (createExclusive(path, `${JSON.stringify(generated, null, 2)}\n`, 0o600)) return { credentials: generated, created: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new KmsError('KMSInternalException', `${path} is not valid JSON`, { cause });
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new KmsError('KMSInternalException', `${path} must be a non-empty array of {accessKeyId, secretAccessKey, principalArn, account}`);
  }
  try {
    return { credentials: parseCredentials(parsed, path), created: false };
  } catch (cause) {
    throw new KmsError('KMSInternalException', cause instanceof Error ? cause.message : String(cause), { cause });
  }
}
