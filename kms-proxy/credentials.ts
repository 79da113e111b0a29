// The credentials a KMS data directory accepts. A fresh directory gets one generated access key,
// written to `credentials.json` with mode 0600 and printed by `kms serve`; the operator may add
// more entries (access key id → secret, principal ARN, account) to that file.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KmsError } from './errors.ts';
import type { Credential } from './sigv4.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

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

function isCredential(v: unknown): v is Credential {
  if (v === null || typeof v !== 'object') return false;
  const c = v as Record<string, unknown>;
  return ['accessKeyId', 'secretAccessKey', 'principalArn', 'account'].every((k) => typeof c[k] === 'string' && c[k] !== '');
}

/** Loads `credentials.json`, creating it (0600) with one generated credential when absent. */
export function loadOrCreateCredentials(dataDir: string, account: string): { credentials: Credential[]; created: boolean } {
  const path = join(dataDir, 'credentials.json');
  try {
    const fd = openSync(path, 'wx', 0o600);
    const credentials = [generateCredential(account)];
    writeSync(fd, `${JSON.stringify(credentials, null, 2)}\n`);
    closeSync(fd);
    return { credentials, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new KmsError('KMSInternalException', `${path} is not valid JSON`, { cause });
  }
  if (!Array.isArray(parsed) || !parsed.every(isCredential) || parsed.length === 0) {
    throw new KmsError('KMSInternalException', `${path} must be a non-empty array of {accessKeyId, secretAccessKey, principalArn, account}`);
  }
  return { credentials: parsed, created: false };
}
