// Encrypt, Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom
// (KMS API Reference). Symmetric keys use the blob format of ciphertext.ts; RSA keys do
// RSAES-OAEP with raw RSA output as the ciphertext, so a client holding GetPublicKey's output can
// make ciphertext KMS decrypts.
// Helpers shared by the symmetric operations, which live one per file in operations/.
import { randomBytes } from 'node:crypto';
import { rsaDecrypt, rsaEncrypt } from '../../asymmetric.ts';
import { openBlob, parseBlobHeader, sealBlob } from '../../ciphertext.ts';
import { kmsError, messages } from '../../errors.ts';
import { isAsymmetric } from '../../keyspec.ts';
import type { KeyRecord } from '../../model.ts';
import { type Caller, type ContextValues, type Resolved, Service } from '../../service.ts';
import { authorizedKey, bytes, ctx, dryRun, int, type Operation, reqStr, type Trail } from '../types.ts';

export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE'] as const;
export const AlgField = { t: 'string', enum: ENCRYPTION_ALGORITHMS } as const;
export const PlaintextField = { t: 'blob', min: 1, max: 4096, sensitive: true, required: true } as const;
export const CiphertextField = { t: 'blob', min: 1, max: 6144, required: true } as const;

export function checkAlgorithm(key: KeyRecord, alg: string): void {
  const symmetric = key.keySpec === 'SYMMETRIC_DEFAULT';
  if (symmetric !== (alg === 'SYMMETRIC_DEFAULT') || !(symmetric || key.keySpec.startsWith('RSA_'))) {
    throw kmsError('InvalidKeyUsageException', `The encryption algorithm ${alg} is not valid for ${key.arn}.`);
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

/** Encrypts under the key's current material; returns the blob. Caller has checked everything. */
export async function encryptWith(svc: Service, key: KeyRecord, alg: string, plaintext: Uint8Array, ec: Record<string, string> | undefined): Promise<Uint8Array> {
  const m = await svc.store.currentMaterial(key);
  if (!m) throw kmsError('KMSInvalidStateException', messages.pendingImport(key.arn));
  if (key.keySpec === 'SYMMETRIC_DEFAULT') return sealBlob({ keyId: key.keyId, materialVersion: m.version }, m.secret, plaintext, ec);
  if (ec !== undefined && Object.keys(ec).length > 0) throw kmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  return rsaEncrypt(m, key.keySpec, alg, plaintext);
}

export async function prepareEncrypt(svc: Service, caller: Caller, trail: Trail, keyIdIn: string, action: string, alg: string, ec: Record<string, string> | undefined, attestation: ContextValues = {}): Promise<Resolved> {
  const r = await authorizedKey({ svc, caller, trail }, keyIdIn, action, { extra: { ...Service.encryptionContextValues(ec), 'kms:EncryptionAlgorithm': alg, ...attestation }, encryptionContext: ec });
  svc.requireEnabled(r.key);
  svc.requireUsage(r.key, 'ENCRYPT_DECRYPT', action.slice(4));
  checkAlgorithm(r.key, alg);
  return r;
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
  /** Values that depend on the key the blob names (ReEncrypt's kms:ReEncryptOnSameKey). */
  extraFor: (key: KeyRecord) => ContextValues = () => ({}),
): Promise<{ key: KeyRecord; plaintext: Uint8Array }> {
  let r: Resolved;
  // Parsed once, where first needed: here without a KeyId, else only for a symmetric key below.
  let h: ReturnType<typeof parseBlobHeader> | undefined;
  if (keyIdIn !== undefined) {
    r = await svc.resolve(keyIdIn, caller);
  } else {
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
  svc.requireUsage(key, 'ENCRYPT_DECRYPT', action.slice(4));
  if (key.keySpec === 'SYMMETRIC_DEFAULT') {
    if (alg !== 'SYMMETRIC_DEFAULT') throw kmsError('IncorrectKeyException', messages.incorrectKey);
    h ??= parseBlobHeader(blob);
    // The blob names its key: a KeyId naming another key is IncorrectKeyException (Decrypt docs).
    if (h.keyId !== key.keyId) throw kmsError('IncorrectKeyException', messages.incorrectKey);
    const m = await svc.store.getMaterial(key, h.materialVersion);
    if (!m) throw kmsError('InvalidCiphertextException', '', `material version ${h.materialVersion} does not exist`);
    return { key, plaintext: openBlob(blob, m.secret, ec, h) };
  }
  if (!isAsymmetric(key.keySpec) || !key.keySpec.startsWith('RSA_')) throw kmsError('InvalidKeyUsageException', `${key.arn} cannot decrypt.`);
  if (alg === 'SYMMETRIC_DEFAULT') throw kmsError('InvalidCiphertextException', '', 'symmetric algorithm with an RSA key');
  if (ec !== undefined && Object.keys(ec).length > 0) throw kmsError('ValidationException', 'EncryptionContext is not supported with asymmetric KMS keys.');
  const m = await svc.store.currentMaterial(key);
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

export async function generateDataKey(call: Parameters<Operation['run']>[0], action: string, attestation: ContextValues = {}): Promise<{ arn: string; plaintext: Uint8Array; blob: Uint8Array }> {
  const { svc, caller, input, trail } = call;
  const len = dataKeyLength(input);
  const ec = ctx(input, 'EncryptionContext');
  const r = await prepareEncrypt(svc, caller, trail, reqStr(input, 'KeyId'), action, 'SYMMETRIC_DEFAULT', ec, attestation);
  if (r.key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('InvalidKeyUsageException', `${r.key.arn} is not a symmetric encryption key.`);
  const plaintext = new Uint8Array(randomBytes(len));
  const blob = await encryptWith(svc, r.key, 'SYMMETRIC_DEFAULT', plaintext, ec);
  dryRun(input);
  return { arn: r.key.arn, plaintext, blob };
}
