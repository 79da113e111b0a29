// The data the KMS keeps, as plain immutable records. Field names follow the KMS API's
// KeyMetadata where one exists, so responses are built by copying, not translating.

export const KEY_SPECS = [
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1',
  'SYMMETRIC_DEFAULT',
  'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
  'SM2', 'ECC_NIST_EDWARDS25519', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];
export const KEY_USAGES = ['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT', 'ENCAPSULATE_DECAPSULATE'] as const;
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
  /**
   * EXTERNAL keys written before imported materials were tracked one by one: SHA-256 (hex) of the
   * material imported; `validTo`/`expirationModel` above were its expiry. Newer records use
   * `importedMaterials` (imported.ts reads both).
   */
  readonly importedMaterialDigest?: string;
  /** EXTERNAL keys: every key material associated with the key (imported.ts). */
  readonly importedMaterials?: readonly ImportedMaterial[];
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

/**
 * A key material of an EXTERNAL key (API Reference, "RotationsListEntry"): imported or waiting to be
 * imported again (deleted, expired), current, retired by a rotation, or imported for an on-demand
 * rotation that has not happened yet.
 */
export interface ImportedMaterial {
  /** The material version ciphertext names (Material.version). */
  readonly version: number;
  /** KeyMaterialId: 64 hex characters, derived from the key id and the material. */
  readonly id: string;
  /** SHA-256 (hex) of the material: importing it again must match. */
  readonly digest: string;
  readonly state: 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION';
  /** ImportState: false once deleted or expired, until the same material is imported again. */
  readonly imported: boolean;
  /** While imported. */
  readonly expirationModel?: 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';
  readonly validTo?: number;
  readonly description?: string;
  /** When RotateKeyOnDemand made it current (epoch ms). */
  readonly rotationDate?: number;
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
