// Public surface of envelope encryption: streaming AES-256-GCM envelopes under data keys from a key
// provider (AWS KMS GenerateDataKey, or in memory), with a data-key cache. docs/envelope-format.md
// describes the format.
export * from './errors.ts';
export type { EncryptionContext } from './context.ts';
export { serializeContext, parseContext } from './context.ts';
export {
  DEFAULT_FRAME_SIZE,
  MAX_FRAME_SIZE,
  MIN_FRAME_SIZE,
  FORMAT_VERSION,
  SUITE_AES256_GCM_HKDF_SHA512_COMMIT,
  DEFAULT_HEADER_LIMITS,
  parseHeader,
  type EncryptedDataKey,
  type EnvelopeHeader,
  type HeaderLimits,
} from './format.ts';
export { directMaterials, type DataKeyProvider, type GeneratedDataKey, type EncryptionMaterials, type MaterialsManager, type KeySource } from './provider.ts';
export { InMemoryDataKeyProvider, IN_MEMORY_PROVIDER_ID, type InMemoryProviderOptions } from './memory-provider.ts';
export { encrypt, encryptStream, createEncryptor, EnvelopeEncryptor, EnvelopeEncryptStream, type EncryptOptions } from './encrypt.ts';
export { decrypt, decryptStream, EnvelopeDecryptStream, type DecryptOptions, type Decrypted, type EnvelopeInfo } from './decrypt.ts';
export { CachingMaterialsManager, DEFAULT_CACHE_CAPACITY, MAX_BYTES_PER_CACHED_KEY, MAX_MESSAGES_PER_CACHED_KEY, type CachingOptions } from './cache.ts';
export {
  KmsDataKeyProvider,
  kmsClientMethods,
  attestedKmsMethods,
  KMS_PROVIDER_ID,
  type AttestedKmsLike,
  type KmsDataKeyClient,
  type KmsProviderOptions,
  type KmsCommandClasses,
  type KmsGenerateDataKeyInput,
  type KmsGenerateDataKeyOutput,
  type KmsDecryptInput,
  type KmsDecryptOutput,
} from './kms-provider.ts';
