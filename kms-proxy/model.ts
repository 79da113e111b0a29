// The data the KMS keeps, as plain immutable records. Field names follow the KMS API's
// KeyMetadata where one exists, so responses are built by copying, not translating.

export const KEY_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
  'SM2', 'ECC_NIST_EDWARDS25519', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];
export const KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];
export const ORIGINS = ['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
export type Origin = (typeof ORIGINS)[number];
export type KeyState = 'Creating' | 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'PendingReplicaDeletion' | 'Unavailable' | 'Updating';

export interface Tag {
  readonly TagKey: string;
  readonly TagValue: string;
}

export interface KeyRecord {
  readonly keyId: string;
  readonly arn: string;
  readonly account: string;
  readonly region: string;
  /** Epoch milliseconds. */
  readonly creationDate: number;
  readonly description: string;
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsage;
  readonly origin: Origin;
  readonly state: KeyState;
  /** PendingDeletion keys: when the deletion window ends (epoch ms). */
  readonly deletionDate?: number;
  readonly pendingWindowInDays?: number;
  readonly policy: string;
  readonly rotationEnabled: boolean;
  readonly rotationPeriodInDays?: number;
  readonly nextRotationDate?: number;
  readonly validTo?: number;
  readonly expirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  /** EXTERNAL keys: SHA-256 (hex) of the first material imported; later imports must match it. */
  readonly importedMaterialDigest?: string;
  readonly tags: readonly Tag[];
  /**
   * Multi-Region keys (`mrk-` ids; multi-region.ts) only: whether this key is the primary or a
   * replica of the related keys that share its id, one per Region.
   */
  readonly multiRegionKeyType?: 'PRIMARY' | 'REPLICA';
  /**
   * A transient state (Creating, Updating) ends at `at` (epoch ms, lifecycle clock): the key is then
   * in `state` (KMS Developer Guide, "Key states of KMS keys").
   */
  readonly settles?: { readonly at: number; readonly state: KeyState };
}

/** Where a KMS key lives: its id and Region (a multi-Region key has one key per Region under one id). */
export interface KeyAddress {
  readonly keyId: string;
  readonly region: string;
}

export interface Material {
  readonly keyId: string;
  /** 0, 1, 2, …: the version a ciphertext blob names. */
  readonly version: number;
  /** 64 hex characters, as AWS's KeyMaterialId. */
  readonly id: string;
  readonly createdAt: number;
  readonly rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
  /** Symmetric/HMAC: raw key bytes. Asymmetric: PKCS#8 DER of the private key. */
  readonly secret: Uint8Array;
}

export interface AliasRecord {
  /** The account and region the alias lives in (an alias name is unique in its account and region). */
  readonly account: string;
  readonly region: string;
  readonly name: string;
  readonly keyId: string;
  readonly creationDate: number;
  readonly lastUpdatedDate: number;
}

export interface GrantConstraints {
  readonly EncryptionContextSubset?: Readonly<Record<string, string>>;
  readonly EncryptionContextEquals?: Readonly<Record<string, string>>;
  /** Accepted by the input shape only so that CreateGrant can refuse it as unsupported (never stored). */
  readonly SourceArn?: string;
}

export interface GrantRecord {
  readonly grantId: string;
  readonly keyId: string;
  /** The Region of its key: each key of a multi-Region key has its own grants. */
  readonly region: string;
  readonly name?: string;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string;
  readonly issuingAccount: string;
  readonly operations: readonly string[];
  readonly constraints?: GrantConstraints;
  readonly creationDate: number;
  readonly grantToken: string;
}

export interface ImportParameters {
  readonly token: string;
  readonly keyId: string;
  /** The Region of its key: each key of a multi-Region key imports its own material. */
  readonly region: string;
  readonly wrappingAlgorithm: string;
  readonly wrappingKeySpec: string;
  /** PKCS#8 DER of the wrapping private key. */
  readonly privateKey: Uint8Array;
  readonly validTo: number;
}
