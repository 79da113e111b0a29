// The symmetric ciphertext blob (documented in kms-proxy/README.md, "Ciphertext blob"):
//
//   "NSK" ‖ 0x01 ‖ keyIdLen:u8 ‖ keyId (ASCII) ‖ materialVersion:u32be ‖ iv[12] ‖ ct ‖ tag[16]
//
// AES-256-GCM under the key's material version; the AAD is the header (everything before the iv)
// followed by the canonical encoding of the encryption context, so the key reference, the version
// and the context are all authenticated. Like AWS, the blob carries the key reference, so Decrypt
// needs no KeyId.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { kmsError } from './errors.ts';

const MAGIC = [0x4e, 0x53, 0x4b] as const;
const VERSION = 0x01;

export interface BlobHeader {
  readonly keyId: string;
  readonly materialVersion: number;
}

/**
 * The encryption context as bytes, unambiguously: u32be count, then the pairs sorted by the
 * UTF-8 bytes of their keys, each as u32be length ‖ key ‖ u32be length ‖ value. Length prefixes
 * make `{"a":"bc"}` and `{"ab":"c"}` encode differently (a plain concatenation would not).
 */
export function encodeContext(ctx: Readonly<Record<string, string>> | undefined): Buffer {
  const entries = Object.entries(ctx ?? {}).map(([k, v]) => {
    // UTF-8 has no form for a lone surrogate (Buffer.from would write U+FFFD): such a context has no
    // unambiguous encoding. shapes.ts refuses it first; this is the second layer.
    if (!k.isWellFormed() || !v.isWellFormed()) throw kmsError('ValidationException', 'Encryption context keys and values must be valid Unicode.');
    return [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const;
  });
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Buffer[] = [u32(entries.length)];
  for (const [k, v] of entries) parts.push(u32(k.length), k, u32(v.length), v);
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function header(h: BlobHeader): Buffer {
  const id = Buffer.from(h.keyId, 'ascii');
  if (id.length > 255) throw kmsError('KMSInternalException', 'key id too long for the ciphertext header');
  const b = Buffer.alloc(4 + 1 + id.length + 4);
  b.set(MAGIC, 0);
  b[3] = VERSION;
  b[4] = id.length;
  id.copy(b, 5);
  b.writeUInt32BE(h.materialVersion, 5 + id.length);
  return b;
}

export function sealBlob(h: BlobHeader, key: Uint8Array, plaintext: Uint8Array, ctx: Readonly<Record<string, string>> | undefined): Uint8Array {
  const head = header(h);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.concat([head, encodeContext(ctx)]));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([head, iv, ct, c.getAuthTag()]));
}

/** Reads the header; any malformation is InvalidCiphertextException with AWS's empty message. */
export function parseBlobHeader(blob: Uint8Array): BlobHeader & { readonly headerLength: number } {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 5 || b[0] !== MAGIC[0] || b[1] !== MAGIC[1] || b[2] !== MAGIC[2] || b[3] !== VERSION) {
    throw kmsError('InvalidCiphertextException', '', 'not a nitro-sandbox ciphertext blob');
  }
  const idLen = b[4] ?? 0;
  const headerLength = 5 + idLen + 4;
  if (b.length < headerLength + 12 + 16) throw kmsError('InvalidCiphertextException', '', 'ciphertext blob truncated');
  return { keyId: b.toString('ascii', 5, 5 + idLen), materialVersion: b.readUInt32BE(5 + idLen), headerLength };
}

/** Decrypts a blob; `header` is its parseBlobHeader result when the caller already has it. */
export function openBlob(blob: Uint8Array, key: Uint8Array, ctx: Readonly<Record<string, string>> | undefined, header = parseBlobHeader(blob)): Uint8Array {
  const { headerLength } = header;
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  try {
    const d = createDecipheriv('aes-256-gcm', key, b.subarray(headerLength, headerLength + 12));
    d.setAAD(Buffer.concat([b.subarray(0, headerLength), encodeContext(ctx)]));
    d.setAuthTag(b.subarray(b.length - 16));
    return new Uint8Array(Buffer.concat([d.update(b.subarray(headerLength + 12, b.length - 16)), d.final()]));
  } catch (cause) {
    throw kmsError('InvalidCiphertextException', '', `authentication failed: ${(cause as Error).message}`);
  }
}
