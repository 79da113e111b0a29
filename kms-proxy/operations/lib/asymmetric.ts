// Asymmetric and HMAC operations: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac,
// DeriveSharedSecret, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext (KMS API Reference).
// Helpers shared by the asymmetric operations, which live one per file in operations/.
import { createHmac } from 'node:crypto';
import { sealBlob } from '../../ciphertext.ts';
import { kmsError, messages } from '../../errors.ts';
import { generateKeyPairDer, SPECS } from '../../keyspec.ts';
import type { KeyRecord, KeySpec, Material } from '../../model.ts';
import { type Caller, type ContextValues, type Resolved, Service } from '../../service.ts';
import { ContextField, DryRunField, GrantTokensField, KeyIdField, RecipientField } from '../../shapes.ts';
import { SIGNING_ALGORITHMS } from '../../signing.ts';
import { authorizedKey, ctx, dryRun, type Operation, reqStr, type Trail } from '../types.ts';

export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;
export const KEY_PAIR_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'SM2', 'ECC_NIST_EDWARDS25519'] as const;

export async function usable(
  svc: Service,
  caller: Caller,
  trail: Trail,
  keyId: string,
  action: string,
  extra: ContextValues = {},
  encryptionContext?: Readonly<Record<string, string>>,
): Promise<{ r: Resolved; m: Material }> {
  const r = await authorizedKey({ svc, caller, trail }, keyId, action, { extra, encryptionContext });
  svc.requireEnabled(r.key);
  const m = await svc.store.currentMaterial(r.key);
  if (!m) throw kmsError('KMSInvalidStateException', messages.pendingImport(r.key.arn));
  return { r, m };
}

export function requireSigningAlg(key: KeyRecord, alg: string): void {
  if (!(SPECS[key.keySpec]?.signingAlgorithms ?? []).includes(alg)) {
    throw kmsError('InvalidKeyUsageException', `Signing algorithm ${alg} is not valid for ${key.arn} with key spec ${key.keySpec}.`);
  }
}

export const SignShape = {
  KeyId: KeyIdField,
  Message: { t: 'blob', min: 1, max: 4096, sensitive: true, required: true },
  MessageType: { t: 'string', enum: MESSAGE_TYPES },
  GrantTokens: GrantTokensField,
  SigningAlgorithm: { t: 'string', enum: SIGNING_ALGORITHMS, required: true },
  DryRun: DryRunField,
} as const;

export function macOf(key: KeyRecord, m: Material, alg: string, message: Uint8Array): Buffer {
  if (!(SPECS[key.keySpec]?.macAlgorithms ?? []).includes(alg)) {
    throw kmsError('InvalidKeyUsageException', `MAC algorithm ${alg} is not valid for ${key.arn} with key spec ${key.keySpec}.`);
  }
  return createHmac(alg.replace('HMAC_SHA_', 'sha'), m.secret).update(message).digest();
}

export const MacShape = {
  Message: { t: 'blob', min: 1, max: 4096, sensitive: true, required: true },
  KeyId: KeyIdField,
  MacAlgorithm: { t: 'string', enum: MAC_ALGORITHMS, required: true },
  GrantTokens: GrantTokensField,
  DryRun: DryRunField,
} as const;

export async function keyPair(spec: string): Promise<{ privateDer: Uint8Array; publicDer: Uint8Array }> {
  const info = SPECS[spec as KeySpec];
  if (!info || (info.rsaBits === undefined && info.curve === undefined)) throw kmsError('UnsupportedOperationException', `KeyPairSpec ${spec} is not supported by this KMS.`);
  return generateKeyPairDer(info);
}

export const PairShape = {
  EncryptionContext: ContextField,
  KeyId: KeyIdField,
  KeyPairSpec: { t: 'string', enum: KEY_PAIR_SPECS, required: true },
  GrantTokens: GrantTokensField,
  Recipient: RecipientField,
  DryRun: DryRunField,
} as const;

export async function dataKeyPair(call: Parameters<Operation['run']>[0], action: string, attestation: ContextValues = {}) {
  const { svc, caller, input, trail } = call;
  const ec = ctx(input, 'EncryptionContext');
  // The encryption context also reaches grant constraints (EncryptionContextEquals/Subset).
  const spec = reqStr(input, 'KeyPairSpec');
  const extra = { ...Service.encryptionContextValues(ec), 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT', 'kms:DataKeyPairSpec': spec, ...attestation };
  const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), action, extra, ec);
  svc.requireUsage(r.key, 'ENCRYPT_DECRYPT', action.slice(4));
  if (r.key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('InvalidKeyUsageException', `${r.key.arn} is not a symmetric encryption key.`);
  // Every check is done: a dry run stops here, before an RSA-4096 pair costs seconds.
  dryRun(input);
  const pair = await keyPair(spec);
  const blob = sealBlob({ keyId: r.key.keyId, materialVersion: m.version }, m.secret, pair.privateDer, ec);
  return { arn: r.key.arn, spec, blob, ...pair };
}
