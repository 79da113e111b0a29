// The master key of a KMS data directory: 32 random bytes in their own file (mode 0600), separate
// from the database so a copied database alone reveals no key material. Everything the store keeps
// is protected under it: key material and import keys are sealed (AES-256-GCM, `seal`), every
// stored record is authenticated (record-mac.ts), and other parts of the KMS derive their own keys
// from it (`deriveSubkey`, one label each, e.g. the audit log's signing key).
//
// Entry points, smallest first:
// - `loadMasterKey(path)`: the existing key or a refusal (absent, unreadable, not 32 bytes). For
//   anything that needs the key of a data directory that is already set up (the audit log).
// - `createMasterKey(path)`: a new key, or undefined when one exists (never replaced).
// - `openMasterKey(dataDir)`: what a key store calls: loads the key, or creates it only when the
//   directory holds no key store yet. A store whose master key is missing refuses to open: a new key
//   could open nothing already sealed, and every request would then fail.
// - `loadOrCreateMasterKey(path)`: the first release's name, now with openMasterKey's rule.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KmsError } from '../errors.ts';
import { createExclusive } from '../../attestation/custody.ts';

export const MASTER_KEY_BYTES = 32;
export const MASTER_KEY_FILE = 'master.key';
/** The files whose presence means a data directory already holds a key store. */
export const STORE_FILES: readonly string[] = Object.freeze(['kms.sqlite']);

/** Reads the master key at `path`; KMSInternalException when it is absent or not 32 bytes. */
export function loadMasterKey(path: string): Uint8Array {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new KmsError('KMSInternalException', missing ? `The master key ${path} is missing.` : `The master key ${path} cannot be read.`, { cause, code: missing ? 'ERR_KMS_MASTER_KEY_MISSING' : 'ERR_KMS_MASTER_KEY_UNREADABLE' });
  }
  if (key.length !== MASTER_KEY_BYTES) {
    throw new KmsError('KMSInternalException', 'The master key file is corrupt.', { detail: `${path}: ${key.length} bytes, want ${MASTER_KEY_BYTES}`, code: 'ERR_KMS_MASTER_KEY_CORRUPT' });
  }
  return new Uint8Array(key);
}

/**
 * Creates a new master key at `path` (0600, file and directory fsynced), or returns undefined when
 * one exists. The name appears with all 32 bytes (createExclusive): a replica starting at the same
 * moment reads either no key or the whole key, never an empty file.
 */
export function createMasterKey(path: string): Uint8Array | undefined {
  const key = randomBytes(MASTER_KEY_BYTES);
  return createExclusive(path, key, 0o600) ? new Uint8Array(key) : undefined;
}

/**
 * The master key of the data directory `dataDir`. Created only when the directory holds no key
 * store (`STORE_FILES`); beside an existing store a missing key is a refusal naming the fix
 * (ERR_KMS_MASTER_KEY_MISSING), never a new key.
 */
export function openMasterKey(dataDir: string): Uint8Array {
  return loadOrCreateMasterKey(join(dataDir, MASTER_KEY_FILE));
}

/**
 * `openMasterKey` for a master key file at `path` (the store files are looked for beside it): loads
 * it, or creates it only when no key store exists there; never a new key beside an existing store.
 */
export function loadOrCreateMasterKey(path: string): Uint8Array {
  const dataDir = dirname(path);
  if (existsSync(path)) return loadMasterKey(path);
  const store = STORE_FILES.find((f) => existsSync(join(dataDir, f)));
  if (store !== undefined) {
    throw new KmsError(
      'KMSInternalException',
      `The key store ${join(dataDir, store)} exists but its master key ${path} is missing. Restore ${MASTER_KEY_FILE} from a backup of this data directory; ` +
        'a new master key is never generated for an existing store, because it could not open the key material sealed under the old one.',
      { code: 'ERR_KMS_MASTER_KEY_MISSING' },
    );
  }
  // Another process may have created it since the check: then theirs is used.
  return createMasterKey(path) ?? loadMasterKey(path);
}

/**
 * A key for one purpose other than sealing, derived so that it lives in the master key's custody
 * without being the master key: HKDF-SHA256 (RFC 5869) with an empty salt and the purpose's label
 * as info (`nitro-sandbox/kms/<purpose>/v1`), so different labels give independent keys.
 */
export function deriveSubkey(masterKey: Uint8Array, label: string, bytes = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', masterKey, new Uint8Array(0), label, bytes));
}

/** The additional data binding a sealed material to its key and version. */
export function materialAad(keyId: string, version: number): string {
  return `nitro-sandbox/kms/material/v1\0${keyId}\0${version}`;
}

/** The additional data binding a sealed import (wrapping) private key to its import token. */
export function importAad(token: string): string {
  return `nitro-sandbox/kms/import/v1\0${token}`;
}

/** AES-256-GCM: iv(12) ‖ ciphertext ‖ tag(16), with `aad` binding the blob to its row. */
export function seal(masterKey: Uint8Array, plaintext: Uint8Array, aad: string): Uint8Array {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', masterKey, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([iv, body, c.getAuthTag()]));
}

export function unseal(masterKey: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array {
  try {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const d = createDecipheriv('aes-256-gcm', masterKey, b.subarray(0, 12));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(b.subarray(b.length - 16));
    return new Uint8Array(Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]));
  } catch (cause) {
    throw new KmsError('KMSInternalException', 'Stored key material failed its integrity check.', { cause, code: 'ERR_KMS_STORE_INTEGRITY', detail: `sealed blob (${aad.replaceAll('\0', ' ')}) does not open under the master key` });
  }
}

