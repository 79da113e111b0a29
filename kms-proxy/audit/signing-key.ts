// The key that signs the audit log: Ed25519, its 32-byte seed derived from the master key with
// HKDF under its own label (store/master-key.ts `deriveSubkey`), so it is in the master key's
// custody and stable across restarts, and never stored anywhere itself.
//
// Why a signature and not an HMAC: `kms audit verify` is run by operators who may only read the
// log. With an HMAC, whoever can verify holds the key and can forge; with a signature, verifying
// needs only the public key (printed by `kms serve` and `kms audit public-key`), and forging needs
// the master key. Signing is per written batch, not per record (see format.ts), so its cost (about
// 30 µs here) is paid at most once per 10 ms flush, off the request path.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kmsError } from '../errors.ts';
import { deriveSubkey, MASTER_KEY_BYTES } from '../store/master-key.ts';

export const AUDIT_KEY_LABEL = 'nitro-sandbox/kms/audit-signing-key/v1';
/** RFC 8410 PKCS#8 prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
/** RFC 8410 SubjectPublicKeyInfo prefix of an Ed25519 public key; the 32-byte key follows. */
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const KEY_ID = /^ed25519:([A-Za-z0-9_-]{43})$/;

export interface AuditSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** `ed25519:` + the raw public key in base64url: what records name and operators pin. */
  readonly id: string;
}

/** The audit signing key of a master key. */
export function auditSigningKey(masterKey: Uint8Array): AuditSigningKey {
  const seed = deriveSubkey(masterKey, AUDIT_KEY_LABEL, 32);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, id: auditKeyId(publicKey) };
}

/**
 * The signing key of the KMS in `dataDir`, from its master key; undefined when there is none.
 * Read-only: verifying or recovering never creates a master key.
 */
export function auditSigningKeyOf(dataDir: string): AuditSigningKey | undefined {
  const path = join(dataDir, 'master.key');
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (key.length !== MASTER_KEY_BYTES) throw kmsError('KMSInternalException', 'The master key file is corrupt.', `${path}: ${key.length} bytes, want ${MASTER_KEY_BYTES}`);
  return auditSigningKey(new Uint8Array(key));
}

export function auditKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return `ed25519:${der.subarray(SPKI_ED25519.length).toString('base64url')}`;
}

export function auditKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

/**
 * A public key as an operator gives it: the `ed25519:…` id or a PEM SubjectPublicKeyInfo.
 * Anything else, or a key that is not Ed25519, is ValidationException.
 */
export function parseAuditPublicKey(text: string): KeyObject {
  const t = text.trim();
  const id = KEY_ID.exec(t);
  let key: KeyObject;
  try {
    key = id ? createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(id[1] ?? '', 'base64url')]), format: 'der', type: 'spki' }) : createPublicKey({ key: t, format: 'pem' });
  } catch (cause) {
    throw kmsError('ValidationException', 'The audit public key must be ed25519:<base64url> or a PEM public key.', String(cause));
  }
  if (key.asymmetricKeyType !== 'ed25519') throw kmsError('ValidationException', `The audit public key must be an Ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}.`);
  return key;
}
