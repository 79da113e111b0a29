// The master key that encrypts key material at rest: 32 random bytes in their own file (mode 0600),
// separate from the database so a copied database alone reveals no key material.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { KmsError, kmsError } from '../errors.ts';

export const MASTER_KEY_BYTES = 32;

/** Reads the master key at `path`, creating it (0600, fsynced) when the file does not exist. */
export function loadOrCreateMasterKey(path: string): Uint8Array {
  try {
    const fd = openSync(path, 'wx', 0o600);
    const key = randomBytes(MASTER_KEY_BYTES);
    writeSync(fd, key);
    fsyncSync(fd);
    closeSync(fd);
    return new Uint8Array(key);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const key = readFileSync(path);
  if (key.length !== MASTER_KEY_BYTES) {
    throw kmsError('KMSInternalException', 'The master key file is corrupt.', `${path}: ${key.length} bytes, want ${MASTER_KEY_BYTES}`);
  }
  return new Uint8Array(key);
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
    throw new KmsError('KMSInternalException', 'Stored key material failed its integrity check.', { cause });
  }
}

// ---- Labelled subkeys -------------------------------------------------------------------------
// A key for one purpose other than sealing (the audit log's signing key), derived so that it
// lives in the master key's custody without being the master key: HKDF-SHA256 (RFC 5869) with an
// empty salt and the purpose as `info`, so different labels give independent keys.

/** HKDF-SHA256(masterKey, salt = empty, info = label) → `bytes` bytes. */
export function deriveSubkey(masterKey: Uint8Array, label: string, bytes = 32): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', masterKey, new Uint8Array(0), label, bytes));
}
