// What each KeySpec can do (KMS Developer Guide, "Key spec reference"), and how its material is
// made with node:crypto.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { KeySpec, KeyUsage } from './model.ts';

export interface SpecInfo {
  readonly usages: readonly KeyUsage[];
  readonly encryptionAlgorithms?: readonly string[];
  readonly signingAlgorithms?: readonly string[];
  readonly macAlgorithms?: readonly string[];
  readonly keyAgreementAlgorithms?: readonly string[];
  /** node:crypto curve name for ECC specs. */
  readonly curve?: string;
  readonly rsaBits?: number;
  /** Symmetric and HMAC: key length in bytes. */
  readonly bytes?: number;
}

// PKCS #1 v1.5 first, as DescribeKey and GetPublicKey list them (KMS Developer Guide, "Viewing the
// cryptographic configuration of KMS keys": the DescribeKey response for an RSA signing key).
const RSA_SIGN = ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512', 'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512'];
const RSA_ENC = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];

export const SPECS: Readonly<Partial<Record<KeySpec, SpecInfo>>> = Object.freeze({
  SYMMETRIC_DEFAULT: { usages: ['ENCRYPT_DECRYPT'], encryptionAlgorithms: ['SYMMETRIC_DEFAULT'], bytes: 32 },
  RSA_2048: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], encryptionAlgorithms: RSA_ENC, signingAlgorithms: RSA_SIGN, rsaBits: 2048 },
  RSA_3072: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], encryptionAlgorithms: RSA_ENC, signingAlgorithms: RSA_SIGN, rsaBits: 3072 },
  RSA_4096: { usages: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'], encryptionAlgorithms: RSA_ENC, signingAlgorithms: RSA_SIGN, rsaBits: 4096 },
  ECC_NIST_P256: { usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_256'], keyAgreementAlgorithms: ['ECDH'], curve: 'prime256v1' },
  ECC_NIST_P384: { usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_384'], keyAgreementAlgorithms: ['ECDH'], curve: 'secp384r1' },
  ECC_NIST_P521: { usages: ['SIGN_VERIFY', 'KEY_AGREEMENT'], signingAlgorithms: ['ECDSA_SHA_512'], keyAgreementAlgorithms: ['ECDH'], curve: 'secp521r1' },
  ECC_SECG_P256K1: { usages: ['SIGN_VERIFY'], signingAlgorithms: ['ECDSA_SHA_256'], curve: 'secp256k1' },
  HMAC_224: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_224'], bytes: 28 },
  HMAC_256: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_256'], bytes: 32 },
  HMAC_384: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_384'], bytes: 48 },
  HMAC_512: { usages: ['GENERATE_VERIFY_MAC'], macAlgorithms: ['HMAC_SHA_512'], bytes: 64 },
});

export function isAsymmetric(spec: KeySpec): boolean {
  return spec.startsWith('RSA_') || spec.startsWith('ECC_');
}

const generateKeyPairAsync = promisify(generateKeyPair);
const DER = { privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } } as const;

/**
 * A fresh RSA or EC key pair (PKCS#8 and SPKI DER), made on libuv's thread pool: an RSA-4096 pair
 * takes from a fraction of a second to seconds, which on the event loop would stall every other
 * request (CreateKey, GenerateDataKeyPair and GetParametersForImport make them per request).
 */
export async function generateKeyPairDer(params: Pick<SpecInfo, 'rsaBits' | 'curve'>): Promise<{ privateDer: Uint8Array; publicDer: Uint8Array }> {
  const pair =
    params.rsaBits !== undefined
      ? await generateKeyPairAsync('rsa', { modulusLength: params.rsaBits, publicExponent: 65537, ...DER })
      : await generateKeyPairAsync('ec', { namedCurve: params.curve ?? '', ...DER });
  return { privateDer: new Uint8Array(pair.privateKey), publicDer: new Uint8Array(pair.publicKey) };
}

/** Fresh material: raw bytes for symmetric/HMAC, PKCS#8 DER for asymmetric. */
export async function generateMaterial(spec: KeySpec): Promise<Uint8Array> {
  const info = SPECS[spec];
  if (!info) throw new Error(`unsupported key spec ${spec}`);
  if (info.bytes !== undefined) return new Uint8Array(randomBytes(info.bytes));
  return (await generateKeyPairDer(info)).privateDer;
}
