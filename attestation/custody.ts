// Custody of the sandbox CA keys. The private keys of the root and the intermediates are stored
// sealed (AES-256-GCM) under a custody key that lives apart from the certificates: the certificates
// and sealed keys in `<data dir>/pki/`, which tools read (root.pem), the custody key alone in
// `<data dir>/custody/seal.key`, a directory only its owner may enter. Only the process that signs
// (the host's attestation authority: the daemon, or a library user's in-process Host) unseals them.
//
// What this stops: a copy of pki/ (a backup, a tool pointed at it, a build that would inline it)
// carries no usable key, and a sealed key cannot be swapped for another one: the GCM additional
// data binds each to its role and to its certificate's DER. What it does not stop: whoever can
// read the custody key and pki/ (the same user, root) can unseal the keys and mint documents
// (docs/threat-model.md). Builds refuse the whole data directory and enclaves read no file at all.
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fchmodSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PkiError } from './errors.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const AAD_PREFIX = 'nitro-sandbox sealed CA key v1';

/** A private key sealed under the custody key, as stored in the PKI's JSON files. */
export interface SealedKey {
  readonly alg: 'A256GCM';
  /** base64 of the 12-byte nonce. */
  readonly iv: string;
  /** base64 of the ciphertext of the PKCS#8 DER, followed by the 16-byte tag. */
  readonly data: string;
}

/** Where the custody key of a data directory lives. */
export function custodyKeyPath(dataDir: string): string {
  return join(dataDir, 'custody', 'seal.key');
}

function errnoCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/**
 * Writes `bytes` to `path` only if nothing is there yet, atomically: the content goes to a
 * temporary file first, is fsynced and hard-linked into place (link fails with EEXIST instead of
 * replacing), and the directory is fsynced, so a concurrent reader sees either nothing or the whole
 * file, and a crash leaves at most the temporary file. True when we wrote it, false when `path`
 * exists (then nothing is written). Used for every key and marker created once that several
 * processes may race to create (custody and CA keys here; the KMS's master key and credentials,
 * which replicas starting together on one data directory make).
 */
export function createExclusive(path: string, bytes: string | Uint8Array, mode: number): boolean {
  // Not even a temporary file where one exists: a directory mounted read-only (a replica's data
  // directory, kms-proxy/README.md) holds files made once and is only read.
  if (existsSync(path)) return false;
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
      fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return true;
}

function aad(label: string, certificate: Uint8Array): Buffer {
  const digest = createHash('sha256').update(certificate).digest('hex');
  return Buffer.from(`${AAD_PREFIX}\0${label}\0${digest}`, 'utf8');
}

/** The custody key of one data directory, loaded; seals and unseals CA keys. */
export class Custody {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /**
   * Loads the custody key of `dataDir`, creating it (and its 0700 directory) when `create` is set
   * and none exists. Refuses a key file that is not a regular file of ours, or that other users
   * could read: such a key may already be copied, and the CA with it.
   */
  static open(dataDir: string, options: { create: boolean }): Custody {
    const dir = join(dataDir, 'custody');
    const path = custodyKeyPath(dataDir);
    const uid = process.getuid?.();
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = lstatSync(dir);
      if (!st.isDirectory()) throw new PkiError(`custody directory ${dir} is not a directory`);
      if (uid !== undefined && st.uid !== uid) throw new PkiError(`custody directory ${dir} belongs to uid ${st.uid}, not to us (${uid})`);
      if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
      if (options.create) createExclusive(path, randomBytes(KEY_BYTES), 0o600);
      let st2;
      try {
        st2 = lstatSync(path);
      } catch (cause) {
        throw new PkiError(`the custody key ${path} is missing: the sealed CA keys cannot be opened (restore it, or delete the data directory's pki/ and custody/ to make a new CA)`, { cause });
      }
      if (!st2.isFile()) throw new PkiError(`custody key ${path} is not a regular file`);
      if (uid !== undefined && st2.uid !== uid) throw new PkiError(`custody key ${path} belongs to uid ${st2.uid}, not to us (${uid})`);
      if ((st2.mode & 0o077) !== 0) {
        throw new PkiError(`custody key ${path} is accessible to other users (mode ${(st2.mode & 0o777).toString(8)}): whoever read it can mint attestation documents; chmod 600 it, or make a new CA`);
      }
      const key = readFileSync(path);
      if (key.length !== KEY_BYTES) throw new PkiError(`custody key ${path} is damaged (${key.length} bytes, expected ${KEY_BYTES})`);
      return new Custody(key);
    } catch (cause) {
      if (cause instanceof PkiError) throw cause;
      throw new PkiError(`cannot open the custody key in ${dir}`, { cause });
    }
  }

  /** Seals a private key for the role `label`, bound to its certificate. */
  seal(key: KeyObject, label: string, certificate: Uint8Array): SealedKey {
    const der = key.export({ type: 'pkcs8', format: 'der' });
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(aad(label, certificate));
    const data = Buffer.concat([cipher.update(der), cipher.final(), cipher.getAuthTag()]);
    der.fill(0);
    return { alg: 'A256GCM', iv: iv.toString('base64'), data: data.toString('base64') };
  }

  /** Opens a sealed key; anything but the key sealed for this role and certificate is ERR_PKI. */
  unseal(sealed: unknown, label: string, certificate: Uint8Array): KeyObject {
    const s = sealed as Partial<SealedKey> | null;
    if (typeof s !== 'object' || s === null || s.alg !== 'A256GCM' || typeof s.iv !== 'string' || typeof s.data !== 'string') {
      throw new PkiError(`the sealed ${label} key is not a sealed key`);
    }
    const iv = Buffer.from(s.iv, 'base64');
    const data = Buffer.from(s.data, 'base64');
    if (iv.length !== IV_BYTES || data.length <= TAG_BYTES) throw new PkiError(`the sealed ${label} key is damaged`);
    let der: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
      decipher.setAAD(aad(label, certificate));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      der = Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]);
    } catch (cause) {
      throw new PkiError(`the sealed ${label} key does not open with this custody key (another CA's key, a damaged file, or a key moved between roles)`, { cause });
    }
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch (cause) {
      throw new PkiError(`the sealed ${label} key holds no readable private key`, { cause });
    } finally {
      der.fill(0);
    }
  }
}
