// Authentication of stored records: every row a key store keeps (keys, materials, aliases, grants,
// import parameters) carries an HMAC-SHA256 over its table name and every column that means
// something, under a key derived from the master key. A row edited, forged or moved to another
// primary key by someone who can write the database but not read master.key fails the check when
// read, and is refused (KMSInternalException, the reason in the server log) instead of honoured.
//
// What a per-row MAC cannot see, and the threat model says so: a deleted row, and a row put back to
// an earlier version of itself (both are rollbacks; only state outside the database could tell).
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { KmsError } from '../errors.ts';
import { deriveSubkey } from './master-key.ts';

export type Field = string | number | Uint8Array | null;

/** A stored row failed its check: a 500 to the client, the row and reason to the operator. */
export class StoreIntegrityError extends KmsError {
  constructor(what: string) {
    super('KMSInternalException', 'An internal error occurred.', {
      code: 'ERR_KMS_STORE_INTEGRITY',
      detail: `${what} failed its integrity check: the key store was modified outside the KMS, or is not the one master.key belongs to`,
    });
  }
}

/**
 * The MAC input: the table name, NUL, then each field as tag (0 null, 1 UTF-8 string, 2 number as
 * decimal ASCII, 3 bytes), u32be length, bytes; so no two rows of different content collide.
 */
function encode(table: string, fields: readonly Field[]): Buffer {
  const parts: (string | Uint8Array)[] = fields.map((f) => (f === null ? '' : typeof f === 'number' ? String(f) : f));
  let size = Buffer.byteLength(table) + 1;
  for (const p of parts) size += 5 + (typeof p === 'string' ? Buffer.byteLength(p) : p.length);
  const b = Buffer.allocUnsafe(size);
  let o = b.write(table, 0, 'utf8');
  b[o++] = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const p = parts[i] as string | Uint8Array;
    b[o] = f === null ? 0 : typeof f === 'string' ? 1 : typeof f === 'number' ? 2 : 3;
    const n = typeof p === 'string' ? b.write(p, o + 5, 'utf8') : (b.set(p, o + 5), p.length);
    b.writeUInt32BE(n, o + 1);
    o += 5 + n;
  }
  return b;
}

/** HMAC-SHA256 over `encode(table, fields)` under a key derived from the master key. */
export class RecordMac {
  readonly #key: KeyObject;

  constructor(masterKey: Uint8Array) {
    this.#key = createSecretKey(deriveSubkey(masterKey, 'nitro-sandbox/kms/store/record-mac/v1'));
  }

  mac(table: string, fields: readonly Field[]): Uint8Array {
    return new Uint8Array(createHmac('sha256', this.#key).update(encode(table, fields)).digest());
  }

  /** Throws StoreIntegrityError naming `what` unless `tag` is the MAC of the row. */
  verify(table: string, fields: readonly Field[], tag: Uint8Array | null | undefined, what: string): void {
    const want = this.mac(table, fields);
    if (!tag || tag.length !== want.length || !timingSafeEqual(want, tag)) throw new StoreIntegrityError(what);
  }

  /** A value that proves a store was authenticated under this master key (kept in the store). */
  storeCheck(): Uint8Array {
    return this.mac('store', ['nitro-sandbox/kms/store']);
  }
}
