// Encrypt, Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom
// (KMS API Reference). Symmetric keys use the blob format of ciphertext.ts; RSA keys do
// RSAES-OAEP with raw RSA output as the ciphertext, so a client holding GetPublicKey's output can
// make ciphertext KMS decrypts.
// Helpers shared by the symmetric operations, which live one per file in operations/.
import { randomBytes } from 'node:crypto';
import { rsaDecrypt, rsaEncrypt } from '../../asymmetric.ts';
import { openBlob, parseBlobHeader, sealBlob } from '../../ciphertext.ts';
import { kmsError, messages } from '../../errors.ts';
import { decryptsWith } from '../../imported.ts';
import type { KeyRecord } from '../../model.ts';
import { type Caller, type ContextValues, type Resolved, Service } from '../../service.ts';
import type { Input } from '../../shapes.ts';
import { authorizedKey, bytes, ctx, dryRun, int, list, type Operation, reqStr, type Trail } from '../types.ts';

export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
export const AlgField = { t: 'string', enum: ENCRYPTION_ALGORITHMS } as const;
export const PlaintextField = { t: 'blob', min: 1, max: 4096, sensitive: true, required: true } as const;
export const CiphertextField = { t: 'blob', min: 1, max: 6144, required: true } as const;
/**
 * Decrypt's and ReEncrypt's CiphertextBlob: "required in all cases except when DryRun is true and
 * DryRunModifiers is set to IGNORE_CIPHERTEXT" (kms-2014-11-01 no longer marks it @required).
 */
export const DecryptCiphertextField = { t: 'blob', min: 1, max: 6144 } as const;
export const DryRunModifiersField = { t: 'strings', enum: ['IGNORE_CIPHERTEXT'] } as const;

/**
 * A dry run with DryRunModifiers IGNORE_CIPHERTEXT: "KMS performs only authorization validation
 * without ciphertext validation" (Decrypt, ReEncrypt), so the KeyId names the key.
 */
export function ignoresCiphertext(input: Input): boolean {
  return input.DryRun === true && (list(input, 'DryRunModifiers') ?? []).includes('IGNORE_CIPHERTEXT');
}

/** The CiphertextBlob, which only a dry run ignoring the ciphertext may leave out. */
export function ciphertextOf(input: Input): Uint8Array {
  const blob = bytes(input, 'CiphertextBlob');
  if (blob === undefined) throw kmsError('ValidationException', "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null");
  return blob;
}

export function checkAlgorithm(key: KeyRecord, alg: string): void {
  const symmetric = key.keySpec === 'SYMMETRIC_DEFAULT';
  if (symmetric !== (alg === 'SYMMETRIC_DEFAULT') || !(symmetric || key.keySpec.startsWith('RSA_')) || alg === 'SM2PKE') {
    throw kmsError('InvalidKeyUsageException', messages.algorithmIncompatible(alg, key.keySpec));
  }
}

/**
 * The actions whose requests carry `kms:EncryptionAlgorithm` (they go through prepareEncrypt or
 * decryptWith below); `kms explain` adds the same value for them.
 */
export const ENCRYPTION_ALGORITHM_ACTIONS: readonly string[] = Object.freeze([
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
]);

/** What encrypting produced: the ciphertext, and for a symmetric key the KeyMaterialId it used. */
export interface Encrypted {
  readonly blob: Uint8Array;
  readonly materialId?: string;
}

/** Encrypts under the key's current material. Caller has checked everything. */
export async function encryptWith(svc: Service, key: KeyRecord, alg: string, plaintext: Uint8Array, ec: Record<string, string> | undefined): Promise<Encrypted> {
  const m = await svc.currentMaterial(key);
  if (!m) throw kmsError('KMSInvalidStateException', messages.pendingImport(key.arn));
  if (key.keySpec === 'SYMMETRIC_DEFAULT') return { blob: sealBlob({ keyId: key.keyId, materialVersion: m.version }, m.secret, plaintext, ec), materialId: m.id };
  if (ec !== undefined && Object.keys(ec).length > 0) throw kmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  return { blob: rsaEncrypt(m, key.keySpec, alg, plaintext) };
}

export async function prepareEncrypt(svc: Service, caller: Caller, trail: Trail, keyIdIn: string, action: string, alg: string, ec: Record<string, string> | undefined, attestation: ContextValues = {}): Promise<Resolved> {
  const r = await authorizedKey({ svc, caller, trail }, keyIdIn, action, { extra: { ...Service.encryptionContextValues(ec), 'kms:EncryptionAlgorithm': alg, ...attestation }, encryptionContext: ec });
  svc.requireEnabled(r.key);
  // ReEncryptTo's key is named as ReEncrypt's (localstack's test_kms.py, test_re_encrypt_invalid_destination_key).
  svc.requireUsage(r.key, 'ENCRYPT_DECRYPT', action === 'kms:ReEncryptTo' ? 'ReEncrypt' : action.slice(4));
  checkAlgorithm(r.key, alg);
  return r;
}

/**
 * The key a Decrypt or ReEncrypt (source) acts on, from KeyId or from the blob, authorized and
 * checked for state and usage. Without a blob (a dry run ignoring the ciphertext) the KeyId names it.
 */
export async function decryptionKey(
  svc: Service,
  caller: Caller,
  trail: Trail,
  action: string,
  blob: Uint8Array | undefined,
  keyIdIn: string | undefined,
  alg: string,
  ec: Record<string, string> | undefined,
  attestation: ContextValues = {},
  /** Values that depend on the key the blob names (ReEncrypt's kms:ReEncryptOnSameKey). */
  extraFor: (key: KeyRecord) => ContextValues = () => ({}),
): Promise<{ key: KeyRecord; header?: ReturnType<typeof parseBlobHeader> }> {
  let r: Resolved;
  // Parsed once, where first needed: here without a KeyId, else only for a symmetric key below.
  let h: ReturnType<typeof parseBlobHeader> | undefined;
  if (keyIdIn !== undefined) {
    r = await svc.resolve(keyIdIn, caller);
  } else {
    if (blob === undefined) throw kmsError('ValidationException', `1 validation error detected: Value null at '${action === 'kms:Decrypt' ? 'keyId' : 'sourceKeyId'}' failed to satisfy constraint: Member must not be null`);
    if (alg !== 'SYMMETRIC_DEFAULT') throw kmsError('ValidationException', 'KeyId is required when decrypting with an asymmetric KMS key.');
    h = parseBlobHeader(blob);
    // The blob names its key, in whatever account it is (AWS's ciphertext carries the key ARN), in
    // the request's Region: a multi-Region key's ciphertext decrypts with the related key there.
    r = { key: await svc.getKeyOrThrow(h.keyId, svc.scopeOf(caller)) };
  }
  const key = r.key;
  trail.keyArn = key.arn;
  trail.decision = await svc.authorize(r, caller, action, { ...Service.encryptionContextValues(ec), 'kms:EncryptionAlgorithm': alg, ...attestation, ...extraFor(key) }, ec);
  svc.requireEnabled(key);
  // A KeyId naming a key that cannot decrypt (an HMAC, signing or key agreement key) does not
  // identify the key the ciphertext was made with: IncorrectKeyException, as AWS answers for an HMAC
  // key in Decrypt and ReEncrypt (localstack's test_kms.snapshot.json, decrypt-invalid-key-id and
  // test_re_encrypt_incorrect_source_key).
  if (key.keyUsage !== 'ENCRYPT_DECRYPT') throw kmsError('IncorrectKeyException', messages.incorrectKey);
  checkAlgorithm(key, alg);
  return h === undefined ? { key } : { key, header: h };
}

/** Opens a ciphertext: finds the key (from the blob or KeyId), checks it, decrypts. */
export async function decryptWith(
  svc: Service,
  caller: Caller,
  trail: Trail,
  action: string,
  blob: Uint8Array,
  keyIdIn: string | undefined,
  alg: string,
  ec: Record<string, string> | undefined,
  attestation: ContextValues = {},
  extraFor: (key: KeyRecord) => ContextValues = () => ({}),
): Promise<{ key: KeyRecord; plaintext: Uint8Array; materialId?: string }> {
  const { key, header } = await decryptionKey(svc, caller, trail, action, blob, keyIdIn, alg, ec, attestation, extraFor);
  let h = header;
  if (key.keySpec === 'SYMMETRIC_DEFAULT') {
    h ??= parseBlobHeader(blob);
    // The blob names its key: a KeyId naming another key is IncorrectKeyException (Decrypt docs).
    if (h.keyId !== key.keyId) throw kmsError('IncorrectKeyException', messages.incorrectKey);
    const m = decryptsWith(key, h.materialVersion) ? await svc.store.getMaterial(key, h.materialVersion) : undefined;
    if (!m) throw kmsError('InvalidCiphertextException', '', `material version ${h.materialVersion} does not exist or is not in use`);
    return { key, plaintext: openBlob(blob, m.secret, ec, h), materialId: m.id };
  }
  if (ec !== undefined && Object.keys(ec).length > 0) throw kmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  const m = await svc.currentMaterial(key);
  if (!m) throw kmsError('KMSInvalidStateException', messages.pendingImport(key.arn));
  return { key, plaintext: rsaDecrypt(m, alg, blob) };
}

export const NumberOfBytesField = { t: 'int', min: 1, max: 1024 } as const;
export const DataKeySpecField = { t: 'string', enum: ['AES_256', 'AES_128'] } as const;

export function dataKeyLength(input: Record<string, unknown>): number {
  const spec = input.KeySpec as string | undefined;
  const n = input.NumberOfBytes as number | undefined;
  // GenerateDataKey takes KeySpec or NumberOfBytes, never both, never neither (message as AWS).
  if ((spec === undefined) === (n === undefined)) throw kmsError('ValidationException', 'Please specify either number of bytes or key spec.');
  return n ?? (spec === 'AES_128' ? 16 : 32);
}

export async function generateDataKey(call: Parameters<Operation['run']>[0], action: string, attestation: ContextValues = {}): Promise<{ arn: string; plaintext: Uint8Array; blob: Uint8Array; materialId?: string }> {
  const { svc, caller, input, trail } = call;
  const len = dataKeyLength(input);
  const ec = ctx(input, 'EncryptionContext');
  const r = await prepareEncrypt(svc, caller, trail, reqStr(input, 'KeyId'), action, 'SYMMETRIC_DEFAULT', ec, attestation);
  if (r.key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('InvalidKeyUsageException', `${r.key.arn} is not a symmetric encryption key.`);
  const plaintext = new Uint8Array(randomBytes(len));
  const { blob, materialId } = await encryptWith(svc, r.key, 'SYMMETRIC_DEFAULT', plaintext, ec);
  dryRun(input);
  return { arn: r.key.arn, plaintext, blob, ...(materialId !== undefined ? { materialId } : {}) };
}
