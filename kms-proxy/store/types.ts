// The key store interface. The embedded default is SQLite (`sqlite.ts`); the methods are async so a
// PostgreSQL implementation shared by several KMS replicas can follow without changing callers.
// Key material crosses this interface in plaintext; each implementation encrypts it at rest.
import type { AliasRecord, GrantRecord, ImportParameters, KeyRecord, Material } from '../model.ts';

export interface KeyStore {
  getKey(keyId: string): Promise<KeyRecord | undefined>;
  listKeys(): Promise<readonly KeyRecord[]>;
  /** Inserts or replaces the key record. */
  putKey(key: KeyRecord): Promise<void>;
  /** Creates a key and its first material atomically (material may be absent for EXTERNAL). */
  createKey(key: KeyRecord, material?: Material): Promise<void>;
  /** Removes a key with its materials, aliases, grants and import parameters. */
  deleteKey(keyId: string): Promise<void>;

  getMaterial(keyId: string, version: number): Promise<Material | undefined>;
  /** Newest material version, or undefined when the key has none (pending import). */
  currentMaterial(keyId: string): Promise<Material | undefined>;
  listMaterials(keyId: string): Promise<readonly Material[]>;
  /** Adds a material and writes the key record in one transaction (rotation, import). */
  addMaterial(key: KeyRecord, material: Material): Promise<void>;
  /** Deletes all materials and writes the key record in one transaction. */
  deleteMaterials(key: KeyRecord): Promise<void>;

  getAlias(name: string): Promise<AliasRecord | undefined>;
  listAliases(): Promise<readonly AliasRecord[]>;
  putAlias(alias: AliasRecord): Promise<void>;
  deleteAlias(name: string): Promise<void>;

  getGrant(grantId: string): Promise<GrantRecord | undefined>;
  listGrants(keyId?: string): Promise<readonly GrantRecord[]>;
  putGrant(grant: GrantRecord): Promise<void>;
  deleteGrant(grantId: string): Promise<void>;

  getImportParameters(token: string): Promise<ImportParameters | undefined>;
  putImportParameters(p: ImportParameters): Promise<void>;

  close(): Promise<void>;
}
