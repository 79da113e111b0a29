// A key provider that keeps its wrapping keys in memory: for tests, examples and single-process
// use. It behaves like KMS where the envelope can tell: the data key is wrapped with AES-256-GCM
// under the named key with the key id and the canonical encryption context as AAD, so a changed
// context or key id is refused (as KMS refuses with InvalidCiphertextException).
//
//   encryptedKey = iv[12] ‖ AES-256-GCM(wrappingKey, iv, dataKey, aad = u16 len ‖ keyId ‖ context)[32] ‖ tag[16]
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { serializeContext, type EncryptionContext } from './context.ts';
import { EnvelopeDataKeyError, EnvelopeInvalidArgumentError, EnvelopeTamperedError } from './errors.ts';
import { DATA_KEY_LENGTH } from './format.ts';
import type { DataKeyProvider, GeneratedDataKey } from './provider.ts';

export const IN_MEMORY_PROVIDER_ID = 'in-memory';
const WRAPPED_LENGTH = 12 + DATA_KEY_LENGTH + 16;

export interface InMemoryProviderOptions {
  /** Wrapping keys by id (32 bytes each); default one random key named "default". */
  readonly keys?: Readonly<Record<string, Uint8Array>>;
  /** The key new data keys are wrapped under; default the first of `keys`. */
  readonly keyId?: string;
  readonly providerId?: string;
}

function aad(keyId: string, context: EncryptionContext): Buffer {
  const id = Buffer.from(keyId, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(id.length);
  return Buffer.concat([len, id, serializeContext(context)]);
}

export class InMemoryDataKeyProvider implements DataKeyProvider {
  readonly providerId: string;
  readonly keyId: string;
  readonly #keys: Map<string, Buffer>;

  constructor(options: InMemoryProviderOptions = {}) {
    const keys = options.keys ?? { default: randomBytes(32) };
    this.#keys = new Map();
    for (const [id, key] of Object.entries(keys)) {
      if (!(key instanceof Uint8Array) || key.length !== 32) throw new EnvelopeInvalidArgumentError(`wrapping key "${id}" must be 32 bytes`);
      if (Buffer.byteLength(id) > 0xffff) throw new EnvelopeInvalidArgumentError('key ids are at most 65535 bytes');
      this.#keys.set(id, Buffer.from(key));
    }
    const keyId = options.keyId ?? this.#keys.keys().next().value;
    if (keyId === undefined || !this.#keys.has(keyId)) throw new EnvelopeInvalidArgumentError(`no wrapping key named "${String(keyId)}"`);
    this.keyId = keyId;
    this.providerId = options.providerId ?? IN_MEMORY_PROVIDER_ID;
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const wrapping = this.#keys.get(this.keyId) as Buffer;
    const plaintextKey = randomBytes(DATA_KEY_LENGTH);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', wrapping, iv);
    c.setAAD(aad(this.keyId, context));
    const ct = Buffer.concat([c.update(plaintextKey), c.final()]);
    return { plaintextKey, encryptedKey: Buffer.concat([iv, ct, c.getAuthTag()]), keyId: this.keyId };
  }

  async decryptDataKey(encryptedKey: Uint8Array, keyId: string, context: EncryptionContext): Promise<Uint8Array> {
    const wrapping = this.#keys.get(keyId);
    if (!wrapping) throw new EnvelopeDataKeyError(`no wrapping key named "${keyId}"`);
    if (encryptedKey.length !== WRAPPED_LENGTH) throw new EnvelopeTamperedError({ cause: new Error('encrypted data key has the wrong length') });
    const d = createDecipheriv('aes-256-gcm', wrapping, encryptedKey.subarray(0, 12));
    d.setAAD(aad(keyId, context));
    d.setAuthTag(encryptedKey.subarray(12 + DATA_KEY_LENGTH));
    const out = d.update(encryptedKey.subarray(12, 12 + DATA_KEY_LENGTH));
    try {
      d.final();
    } catch (e) {
      out.fill(0);
      throw new EnvelopeTamperedError({ cause: new Error('encrypted data key does not verify under this key and context', { cause: e }) });
    }
    return out;
  }
}
