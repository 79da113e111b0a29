// The data-key cache: a materials manager in front of a key provider that reuses one data key for
// several messages within limits, after the AWS Encryption SDK's NodeCachingMaterialsManager
// (maxAge, maxBytesEncrypted, maxMessagesEncrypted; unknown plaintext length and messages larger
// than maxBytesEncrypted bypass the cache, and an entry whose limits would be exceeded is evicted
// and replaced). Reuse is safe because each message derives its own content key from the data key
// and a fresh random message id (format.ts).
//
// Beyond the ESDK: both caches are LRU-bounded Maps; concurrent requests for the same context share
// one in-flight GenerateDataKey (or Decrypt) instead of stampeding the key service; and usage is
// claimed with a synchronous check-and-increment, so under any interleaving no entry ever serves
// more messages or bytes than its limits. Every key handed out is a private copy; evicted keys are
// zeroed.
import { createHash } from 'node:crypto';
import { serializeContext, type EncryptionContext } from './context.ts';
import { EnvelopeInvalidArgumentError } from './errors.ts';
import type { EncryptedDataKey } from './format.ts';
import { decryptWith, generateWith, type DataKeyProvider, type EncryptionMaterials, type MaterialsManager } from './provider.ts';

/** The ESDK's Maximum.MESSAGES_PER_CACHED_KEY_LIMIT. */
export const MAX_MESSAGES_PER_CACHED_KEY = 2 ** 32;
/** The ESDK allows 2^63 − 1 bytes; a JS number is exact only to 2^53 − 1. */
export const MAX_BYTES_PER_CACHED_KEY = Number.MAX_SAFE_INTEGER;
export const DEFAULT_CACHE_CAPACITY = 100;

export interface CachingOptions {
  readonly provider: DataKeyProvider;
  /** Milliseconds a data key may be used after it was obtained (required, as in the ESDK). */
  readonly maxAge: number;
  /** Plaintext bytes one data key may encrypt, over all its messages. */
  readonly maxBytesEncrypted?: number;
  /** Messages one data key may encrypt. */
  readonly maxMessagesEncrypted?: number;
  /** Encryption entries kept (one per context), least recently used evicted first. Default 100. */
  readonly capacity?: number;
  /** Decrypted data keys kept. Default `capacity`. */
  readonly decryptCapacity?: number;
  /** Milliseconds; default Date.now. */
  readonly clock?: () => number;
}

interface EncryptEntry {
  readonly dataKey: Buffer;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly createdAt: number;
  messages: number;
  bytes: number;
}

interface DecryptEntry {
  readonly dataKey: Buffer;
  readonly createdAt: number;
}

function positiveInt(v: number | undefined, what: string, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new EnvelopeInvalidArgumentError(`${what} must be an integer from 1 to ${max}`);
  return v;
}

/** An LRU map: Map keeps insertion order, so re-inserting on use makes the first key the oldest. */
class Lru<V extends { readonly dataKey: Buffer }> {
  readonly #map = new Map<string, V>();
  readonly #capacity: number;
  constructor(capacity: number) {
    this.#capacity = capacity;
  }
  get size(): number {
    return this.#map.size;
  }
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.delete(key);
    this.#map.set(key, v);
    while (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next().value as string;
      this.delete(oldest);
    }
  }
  delete(key: string): void {
    const v = this.#map.get(key);
    if (v === undefined) return;
    this.#map.delete(key);
    v.dataKey.fill(0);
  }
  clear(): void {
    for (const k of [...this.#map.keys()]) this.delete(k);
  }
}

export class CachingMaterialsManager implements MaterialsManager {
  readonly provider: DataKeyProvider;
  readonly maxAge: number;
  readonly maxBytesEncrypted: number;
  readonly maxMessagesEncrypted: number;
  readonly #clock: () => number;
  readonly #encrypt: Lru<EncryptEntry>;
  readonly #decrypt: Lru<DecryptEntry>;
  readonly #generating = new Map<string, Promise<unknown>>();
  readonly #decrypting = new Map<string, Promise<unknown>>();

  constructor(options: CachingOptions) {
    if (!options || typeof options.provider?.generateDataKey !== 'function' || typeof options.provider.decryptDataKey !== 'function') {
      throw new EnvelopeInvalidArgumentError('a caching materials manager needs a DataKeyProvider');
    }
    // Precondition (ESDK): a key cannot be cached forever.
    if (typeof options.maxAge !== 'number' || !(options.maxAge > 0) || !Number.isFinite(options.maxAge)) {
      throw new EnvelopeInvalidArgumentError('maxAge must be a positive number of milliseconds');
    }
    this.provider = options.provider;
    this.maxAge = options.maxAge;
    this.maxBytesEncrypted = positiveInt(options.maxBytesEncrypted, 'maxBytesEncrypted', MAX_BYTES_PER_CACHED_KEY, MAX_BYTES_PER_CACHED_KEY);
    this.maxMessagesEncrypted = positiveInt(options.maxMessagesEncrypted, 'maxMessagesEncrypted', MAX_MESSAGES_PER_CACHED_KEY, MAX_MESSAGES_PER_CACHED_KEY);
    const capacity = positiveInt(options.capacity, 'capacity', 2 ** 31, DEFAULT_CACHE_CAPACITY);
    this.#encrypt = new Lru(capacity);
    this.#decrypt = new Lru(positiveInt(options.decryptCapacity, 'decryptCapacity', 2 ** 31, capacity));
    this.#clock = options.clock ?? Date.now;
  }

  /** Entries currently cached (for monitoring and tests). */
  get size(): { readonly encrypt: number; readonly decrypt: number } {
    return { encrypt: this.#encrypt.size, decrypt: this.#decrypt.size };
  }

  /** Drops (and zeroes) every cached key. */
  clear(): void {
    this.#encrypt.clear();
    this.#decrypt.clear();
  }

  #expired(createdAt: number): boolean {
    // As the ESDK's cacheEntryHasExceededLimits: usable while age <= maxAge.
    return this.#clock() - createdAt > this.maxAge;
  }

  #partition(context: EncryptionContext): string {
    // Provider identity and the context's canonical bytes, length-prefixed so no two pairs collide.
    const p = Buffer.from(this.provider.providerId, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    return Buffer.concat([len, p, serializeContext(context)]).toString('base64');
  }

  async encryptionMaterials(context: EncryptionContext, plaintextLength: number | undefined): Promise<EncryptionMaterials> {
    const key = this.#partition(context);
    // Unknown length, or more than one key may ever encrypt: a fresh key that is never cached.
    if (plaintextLength === undefined || !Number.isSafeInteger(plaintextLength) || plaintextLength < 0 || plaintextLength > this.maxBytesEncrypted) {
      return generateWith(this.provider, context);
    }
    for (;;) {
      const claimed = this.#claim(key, plaintextLength);
      if (claimed) return claimed;
      const inFlight = this.#generating.get(key);
      if (inFlight) {
        // Someone is already asking the provider for this context: wait for their key, then try
        // to claim from it (it may be used up by earlier waiters; then loop and ask once more).
        await inFlight;
        continue;
      }
      const request = generateWith(this.provider, context).then((m) => {
        // The requester claims its use in the same synchronous step as the insertion, so it can
        // never be starved by waiters or evicted before it gets its key.
        // A key this message already used up is not kept (no idle copy of a plaintext key).
        if (1 < this.maxMessagesEncrypted && plaintextLength < this.maxBytesEncrypted) {
          this.#encrypt.set(key, { dataKey: Buffer.from(m.dataKey), encryptedDataKeys: m.encryptedDataKeys, createdAt: this.#clock(), messages: 1, bytes: plaintextLength });
        }
        return m;
      });
      return this.#shared(this.#generating, key, request);
    }
  }

  /** Takes one message and `bytes` from the cached entry if all limits allow, atomically. */
  #claim(key: string, bytes: number): EncryptionMaterials | undefined {
    const e = this.#encrypt.get(key);
    if (!e) return undefined;
    if (this.#expired(e.createdAt) || e.messages + 1 > this.maxMessagesEncrypted || e.bytes + bytes > this.maxBytesEncrypted) {
      // Used up (or too old) for this request: as the ESDK, drop it and get a new one.
      this.#encrypt.delete(key);
      return undefined;
    }
    e.messages++;
    e.bytes += bytes;
    return { dataKey: Buffer.from(e.dataKey), encryptedDataKeys: e.encryptedDataKeys };
  }

  async decryptionKey(encryptedDataKeys: readonly EncryptedDataKey[], context: EncryptionContext): Promise<Buffer> {
    // Keyed by every encrypted data key this provider could open plus the context: a changed byte
    // anywhere is a miss and goes to the provider, which refuses it.
    const h = createHash('sha256').update(this.#partition(context));
    for (const k of encryptedDataKeys) {
      if (k.providerId !== this.provider.providerId) continue;
      const id = Buffer.from(k.keyId, 'utf8');
      const lens = Buffer.alloc(8);
      lens.writeUInt32BE(id.length, 0);
      lens.writeUInt32BE(k.encryptedKey.length, 4);
      h.update(lens).update(id).update(k.encryptedKey);
    }
    const key = h.digest('base64');
    for (;;) {
      const e = this.#decrypt.get(key);
      if (e) {
        if (!this.#expired(e.createdAt)) return Buffer.from(e.dataKey);
        this.#decrypt.delete(key);
      }
      const inFlight = this.#decrypting.get(key);
      if (inFlight) {
        await inFlight;
        continue;
      }
      const request = decryptWith(this.provider, encryptedDataKeys, context).then((dataKey) => {
        this.#decrypt.set(key, { dataKey: Buffer.from(dataKey), createdAt: this.#clock() });
        return dataKey;
      });
      return this.#shared(this.#decrypting, key, request);
    }
  }

  /**
   * Publishes the requester's provider call for `key` while it runs, so concurrent requests wait
   * for it instead of asking the provider again. Waiters only wait: what it resolves to (the
   * requester's private key copy) is the requester's alone.
   */
  async #shared<T>(inFlight: Map<string, Promise<unknown>>, key: string, request: Promise<T>): Promise<T> {
    inFlight.set(key, request);
    try {
      return await request;
    } finally {
      inFlight.delete(key);
    }
  }
}
