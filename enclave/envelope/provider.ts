// Where data keys come from. A `DataKeyProvider` is the narrow thing a key service must offer
// (GenerateDataKey and Decrypt, both bound to the encryption context, as AWS KMS does); a
// `MaterialsManager` is what encryption and decryption actually ask (a data key for this context and
// this many bytes; the data key inside one of these encrypted data keys), after the AWS Encryption
// SDK's cryptographic materials manager. A provider is used directly through `directMaterials`, or
// behind the caching manager in cache.ts.
import type { EncryptionContext } from './context.ts';
import { EnvelopeDataKeyError, EnvelopeError, EnvelopeInvalidArgumentError } from './errors.ts';
import { DATA_KEY_LENGTH, type EncryptedDataKey } from './format.ts';

export interface GeneratedDataKey {
  /**
   * The 32-byte AES-256 data key, in memory of its own: the library copies it and then zeroes this
   * array, so a provider must not hand out a buffer it keeps using.
   */
  readonly plaintextKey: Uint8Array;
  /** The data key encrypted under `keyId`, bound to the context (GenerateDataKey's CiphertextBlob). */
  readonly encryptedKey: Uint8Array;
  /** The key that encrypted it, as the provider will need it back (for KMS: the key ARN). */
  readonly keyId: string;
}

export interface DataKeyProvider {
  /** Names the kind of provider in the header (`aws-kms`, `in-memory`); decryption picks by it. */
  readonly providerId: string;
  generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey>;
  /**
   * Returns the 32-byte data key, in memory of its own (the library copies it, then zeroes the
   * returned array, as for `plaintextKey`). Throw `EnvelopeTamperedError` when the provider proves the
   * encrypted key or the context inauthentic (KMS InvalidCiphertextException); anything else is
   * reported to the caller as `ERR_ENVELOPE_DATA_KEY` with the provider's error as `cause`.
   */
  decryptDataKey(encryptedKey: Uint8Array, keyId: string, context: EncryptionContext): Promise<Uint8Array>;
}

export interface EncryptionMaterials {
  /** A private copy of the data key: the envelope zeroes it after deriving the content key. */
  readonly dataKey: Buffer;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
}

export interface MaterialsManager {
  /**
   * Materials for one message. `plaintextLength` is the declared size of that message, when known
   * (a cache counts it against its byte limit; unknown sizes bypass a cache, as in the ESDK).
   */
  encryptionMaterials(context: EncryptionContext, plaintextLength: number | undefined): Promise<EncryptionMaterials>;
  /** The data key (a private copy) inside one of `encryptedDataKeys`. */
  decryptionKey(encryptedDataKeys: readonly EncryptedDataKey[], context: EncryptionContext): Promise<Buffer>;
}

export type KeySource = DataKeyProvider | MaterialsManager;

function isDataKeyProvider(k: KeySource): k is DataKeyProvider {
  return typeof (k as Partial<DataKeyProvider>).generateDataKey === 'function' && typeof (k as Partial<DataKeyProvider>).decryptDataKey === 'function';
}

export function toMaterialsManager(k: KeySource): MaterialsManager {
  if (k !== null && typeof k === 'object') {
    if (isDataKeyProvider(k)) return directMaterials(k);
    if (typeof k.encryptionMaterials === 'function' && typeof k.decryptionKey === 'function') return k;
  }
  throw new EnvelopeInvalidArgumentError('expected a DataKeyProvider or a MaterialsManager');
}

/** The library's own copy of a provider's data key; the provider's array is zeroed (even a wrong-sized one). */
function dataKeyCopy(key: unknown, what: string): Buffer {
  if (!(key instanceof Uint8Array)) throw new EnvelopeDataKeyError(`${what} did not return a ${DATA_KEY_LENGTH}-byte data key`);
  try {
    if (key.length !== DATA_KEY_LENGTH) throw new EnvelopeDataKeyError(`${what} did not return a ${DATA_KEY_LENGTH}-byte data key`);
    return Buffer.from(key);
  } finally {
    key.fill(0);
  }
}

/** Calls the provider's GenerateDataKey and checks what it returns. */
export async function generateWith(provider: DataKeyProvider, context: EncryptionContext): Promise<EncryptionMaterials> {
  let g: GeneratedDataKey;
  try {
    g = await provider.generateDataKey(context);
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeDataKeyError(`key provider ${provider.providerId} could not generate a data key`, { cause: e });
  }
  const dataKey = dataKeyCopy(g?.plaintextKey, `key provider ${provider.providerId}`);
  if (!(g.encryptedKey instanceof Uint8Array) || g.encryptedKey.length === 0 || typeof g.keyId !== 'string') {
    dataKey.fill(0);
    throw new EnvelopeDataKeyError(`key provider ${provider.providerId} returned no encrypted data key or key id`);
  }
  return { dataKey, encryptedDataKeys: [Object.freeze({ providerId: provider.providerId, keyId: g.keyId, encryptedKey: Uint8Array.from(g.encryptedKey) })] };
}

/**
 * Tries, in header order, every encrypted data key made by this provider, as the ESDK's keyrings
 * do; the first that decrypts wins. If none does, the last failure is reported (an inauthentic key
 * as ERR_ENVELOPE_TAMPERED, anything else as ERR_ENVELOPE_DATA_KEY).
 */
export async function decryptWith(provider: DataKeyProvider, edks: readonly EncryptedDataKey[], context: EncryptionContext): Promise<Buffer> {
  let failure: unknown;
  for (const edk of edks) {
    if (edk.providerId !== provider.providerId) continue;
    try {
      return dataKeyCopy(await provider.decryptDataKey(edk.encryptedKey, edk.keyId, context), `key provider ${provider.providerId}`);
    } catch (e) {
      failure = e;
    }
  }
  if (failure === undefined) {
    throw new EnvelopeDataKeyError(`no encrypted data key for provider ${provider.providerId} (the envelope has ${edks.map((k) => k.providerId).join(', ')})`);
  }
  if (failure instanceof EnvelopeError) throw failure;
  throw new EnvelopeDataKeyError(`key provider ${provider.providerId} could not decrypt the data key`, { cause: failure });
}

/**
 * Runs one request to a materials manager: a custom manager's own failure still reaches the caller
 * as a typed error (ERR_ENVELOPE_DATA_KEY, unless it already threw an EnvelopeError).
 */
export async function askManager<T>(request: () => Promise<T>, failure: string): Promise<T> {
  try {
    return await request();
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeDataKeyError(failure, { cause: e });
  }
}

/** A provider used as is: one GenerateDataKey per message, one Decrypt per envelope. */
export function directMaterials(provider: DataKeyProvider): MaterialsManager {
  return Object.freeze({
    encryptionMaterials: (context: EncryptionContext) => generateWith(provider, context),
    decryptionKey: (edks: readonly EncryptedDataKey[], context: EncryptionContext) => decryptWith(provider, edks, context),
  });
}
