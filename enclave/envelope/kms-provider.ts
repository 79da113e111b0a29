// A key provider backed by AWS KMS (or this project's KMS) through the unmodified AWS SDK:
// GenerateDataKey with KeySpec AES_256 and the encryption context; Decrypt with the KeyId stored
// in the header and the same context (reference/kms.md). Provider id "aws-kms", key id = the key
// ARN KMS returns, as the AWS Encryption SDK's KMS keyring writes them.
//
// The client is taken structurally (`generateDataKey` / `decrypt` methods), which the SDK's
// aggregated `KMS` class (a `KMSClient` subclass) provides as is; a bare `KMSClient` is adapted
// with `kmsClientMethods(client, { GenerateDataKeyCommand, DecryptCommand })`. Nothing here imports
// @aws-sdk/client-kms, so enclave apps that bundle this library do not carry the SDK unless they
// use it.
import type { EncryptionContext } from './context.ts';
import { EnvelopeDataKeyError, EnvelopeInvalidArgumentError, EnvelopeTamperedError } from './errors.ts';
import { DATA_KEY_LENGTH } from './format.ts';
import type { DataKeyProvider, GeneratedDataKey } from './provider.ts';

export const KMS_PROVIDER_ID = 'aws-kms';

export interface KmsGenerateDataKeyInput {
  KeyId: string;
  KeySpec: 'AES_256';
  EncryptionContext: Record<string, string>;
}
export interface KmsDecryptInput {
  KeyId: string;
  CiphertextBlob: Uint8Array;
  EncryptionContext: Record<string, string>;
}
export interface KmsGenerateDataKeyOutput {
  Plaintext?: Uint8Array | undefined;
  CiphertextBlob?: Uint8Array | undefined;
  KeyId?: string | undefined;
}
export interface KmsDecryptOutput {
  Plaintext?: Uint8Array | undefined;
  KeyId?: string | undefined;
}

/** What the provider needs of a KMS client: the SDK's `KMS` class has exactly these methods. */
export interface KmsDataKeyClient {
  generateDataKey(input: KmsGenerateDataKeyInput): Promise<KmsGenerateDataKeyOutput>;
  decrypt(input: KmsDecryptInput): Promise<KmsDecryptOutput>;
}

/** The command classes of @aws-sdk/client-kms, passed in so this file does not import the SDK. */
export interface KmsCommandClasses {
  readonly GenerateDataKeyCommand: new (input: KmsGenerateDataKeyInput) => object;
  readonly DecryptCommand: new (input: KmsDecryptInput) => object;
}

/** Adapts a bare `KMSClient` (`send(command)`) to `KmsDataKeyClient`. */
export function kmsClientMethods(client: { send(command: never): Promise<unknown> }, commands: KmsCommandClasses): KmsDataKeyClient {
  if (typeof client?.send !== 'function') throw new EnvelopeInvalidArgumentError('client must have a send(command) method');
  const send = (client.send as (command: object) => Promise<unknown>).bind(client);
  return {
    generateDataKey: (input) => send(new commands.GenerateDataKeyCommand(input)) as Promise<KmsGenerateDataKeyOutput>,
    decrypt: (input) => send(new commands.DecryptCommand(input)) as Promise<KmsDecryptOutput>,
  };
}

/**
 * The shape of the enclave SDK's attested KMS client (`kmsClient(ctx, …)` in enclave/sdk), whose
 * data keys come back sealed to the enclave (CiphertextForRecipient) and are opened inside it.
 * Taken structurally so this library does not depend on the SDK.
 */
export interface AttestedKmsLike {
  generateDataKey(keyId: string, options: { keySpec: 'AES_256'; encryptionContext: Record<string, string> }): Promise<{ keyId: string; plaintext: Uint8Array; ciphertextBlob: Uint8Array }>;
  decrypt(ciphertextBlob: Uint8Array, options: { keyId: string; encryptionContext: Record<string, string> }): Promise<{ keyId: string; plaintext: Uint8Array }>;
}

/**
 * Adapts the enclave's attested KMS client to `KmsDataKeyClient`, so an enclave app encrypts and
 * decrypts envelopes with data keys only its measured code can read:
 * `new KmsDataKeyProvider({ client: attestedKmsMethods(kmsClient(ctx, opts)), keyId })`.
 * Its errors keep AWS's exception names, so the provider's error mapping applies unchanged.
 */
export function attestedKmsMethods(kms: AttestedKmsLike): KmsDataKeyClient {
  if (typeof kms?.generateDataKey !== 'function' || typeof kms.decrypt !== 'function') {
    throw new EnvelopeInvalidArgumentError('expected the enclave SDK kms client (generateDataKey, decrypt)');
  }
  return {
    async generateDataKey(input) {
      const out = await kms.generateDataKey(input.KeyId, { keySpec: input.KeySpec, encryptionContext: input.EncryptionContext });
      return { Plaintext: out.plaintext, CiphertextBlob: out.ciphertextBlob, KeyId: out.keyId };
    },
    async decrypt(input) {
      const out = await kms.decrypt(input.CiphertextBlob, { keyId: input.KeyId, encryptionContext: input.EncryptionContext });
      return { Plaintext: out.plaintext, KeyId: out.keyId };
    },
  };
}

export interface KmsProviderOptions {
  readonly client: KmsDataKeyClient;
  /** The key new data keys are generated under: key id, ARN, alias name or alias ARN. */
  readonly keyId: string;
  /**
   * Key ARNs this provider will ask KMS to decrypt under. Default: only the ARN KMS reported for
   * `keyId` on the first GenerateDataKey, or `keyId` itself when it is a key ARN (the ESDK's strict
   * mode). `'any'` trusts the header's key id (discovery mode): KMS policy then decides alone.
   */
  readonly decryptKeyIds?: readonly string[] | 'any';
}

function errorName(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as { name?: unknown }).name === 'string' ? (e as { name: string }).name : '';
}

export class KmsDataKeyProvider implements DataKeyProvider {
  readonly providerId = KMS_PROVIDER_ID;
  readonly #client: KmsDataKeyClient;
  readonly #keyId: string;
  readonly #allowed: Set<string> | 'any';

  constructor(options: KmsProviderOptions) {
    if (!options?.client || typeof options.client.generateDataKey !== 'function' || typeof options.client.decrypt !== 'function') {
      throw new EnvelopeInvalidArgumentError('client must offer generateDataKey and decrypt (the SDK KMS class, or kmsClientMethods(KMSClient, …))');
    }
    if (typeof options.keyId !== 'string' || options.keyId.length === 0) throw new EnvelopeInvalidArgumentError('keyId is required');
    this.#client = options.client;
    this.#keyId = options.keyId;
    const d = options.decryptKeyIds;
    this.#allowed = d === 'any' ? 'any' : new Set(d ?? (options.keyId.startsWith('arn:') && options.keyId.includes(':key/') ? [options.keyId] : []));
  }

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const out = await this.#client.generateDataKey({ KeyId: this.#keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } });
    const { Plaintext, CiphertextBlob, KeyId } = out ?? {};
    if (!(Plaintext instanceof Uint8Array) || Plaintext.length !== DATA_KEY_LENGTH || !(CiphertextBlob instanceof Uint8Array) || CiphertextBlob.length === 0 || !KeyId) {
      throw new EnvelopeDataKeyError('GenerateDataKey returned no 32-byte Plaintext, CiphertextBlob or KeyId');
    }
    // What KMS says the key is (its full ARN) is what Decrypt will be asked with.
    if (this.#allowed !== 'any') this.#allowed.add(KeyId);
    return { plaintextKey: Plaintext, encryptedKey: CiphertextBlob, keyId: KeyId };
  }

  async decryptDataKey(encryptedKey: Uint8Array, keyId: string, context: EncryptionContext): Promise<Uint8Array> {
    if (this.#allowed !== 'any' && !this.#allowed.has(keyId)) {
      throw new EnvelopeDataKeyError(`the envelope's key ${keyId} is not one this provider decrypts with (decryptKeyIds)`);
    }
    let out: KmsDecryptOutput;
    try {
      out = await this.#client.decrypt({ KeyId: keyId, CiphertextBlob: encryptedKey, EncryptionContext: { ...context } });
    } catch (e) {
      // KMS's own verdict that the blob or its context is not authentic (reference/kms.md:
      // "must match exactly on Decrypt (otherwise InvalidCiphertextException)"; a KeyId that does
      // not match the blob → IncorrectKeyException).
      const name = errorName(e);
      if (name === 'InvalidCiphertextException' || name === 'IncorrectKeyException') throw new EnvelopeTamperedError({ cause: e });
      throw new EnvelopeDataKeyError(`KMS Decrypt failed${name ? ` (${name})` : ''}`, { cause: e });
    }
    // As the ESDK's KMS keyring: the key that decrypted must be the one the header names.
    if (out?.KeyId !== keyId) throw new EnvelopeDataKeyError(`KMS decrypted with ${String(out?.KeyId)}, not the header's ${keyId}`);
    if (!(out.Plaintext instanceof Uint8Array) || out.Plaintext.length !== DATA_KEY_LENGTH) throw new EnvelopeDataKeyError('Decrypt returned no 32-byte Plaintext');
    return out.Plaintext;
  }
}
