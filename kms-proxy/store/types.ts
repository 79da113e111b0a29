// The key store interface. The embedded default is SQLite (`sqlite.ts`); the methods are async so a
// PostgreSQL implementation shared by several KMS replicas can follow without changing callers, and
// the contract suite (test/kms-proxy/keystore.test.ts) is written against this interface alone.
//
// What every implementation owes (the contract suite checks each):
// - Key material crosses this interface in plaintext; it is sealed at rest under the master key.
// - Every stored record is authenticated under the master key (record-mac.ts): a row changed
//   outside the KMS is refused with StoreIntegrityError (KMSInternalException), never returned.
// - Resources belong to an account and region (`Scope`): keys and aliases are listed per scope,
//   and an alias name is unique per scope, so two accounts can each have `alias/prod`.
// - A key is found by its id *and* Region (`KeyAddress`): the keys of a multi-Region key share one
//   id, one per Region, each with its own materials, grants and import parameters; a key of one
//   Region is never found from another.
// - Writes that change several related keys (`writeKeys`) happen in one transaction.
// - Listings are pages read from an index (page.ts): O(page), never O(records).
// - Resource quotas are checked in the same transaction as the write they limit, so concurrent
//   writers cannot both pass the check (LimitExceededException).
// - The schema is versioned and a store written by an older version upgrades itself on open.
// - A write given `ifUnchanged` applies only while the key's stored record is that record, else it
//   throws StoreConflictError and changes nothing (maintenance shared by several replicas).
// - `putAlias` with `create` inserts only: an existing name is AlreadyExistsException, decided by
//   the store's unique index, so concurrent creators of one name get one success.
// A store shared by several KMS processes (PostgreSQL) also offers `coordination` (coordination.ts).
import { KmsError, kmsError } from '../errors.ts';
import type { Coordination } from './coordination.ts';
import type { AliasRecord, GrantRecord, ImportParameters, KeyAddress, KeyRecord, Material } from '../model.ts';
import type { Page, PageRequest } from './page.ts';

/** An account and region: where a key or alias lives. */
export interface Scope {
  readonly account: string;
  readonly region: string;
}

/** What ListKeys returns of a key: read from the index without parsing the record. */
export interface KeyRef {
  readonly keyId: string;
  readonly arn: string;
}

export type { KeyAddress } from '../model.ts';

/**
 * Several keys written in one transaction, in this order: removed, created, replaced, materials
 * added. The related keys of a multi-Region key change together: a replica with its copy of the
 * materials, a rotation reaching every Region, the primary moving to another Region, the last
 * replica deleted as its primary's deletion window starts.
 */
export interface KeysWrite {
  /** Keys deleted with their materials, aliases, grants and import parameters. */
  readonly remove?: readonly KeyAddress[];
  /** New keys, counted against `maxKeys` in their scope. */
  readonly create?: readonly KeyRecord[];
  /** Key records inserted or replaced. */
  readonly put?: readonly KeyRecord[];
  /** Materials added, each to the key `key` addresses (its id must be the material's key id). */
  readonly materials?: readonly { readonly key: KeyAddress; readonly material: Material }[];
}

/** A key write that applies only if the stored record of the key `ifUnchanged` addresses is still `ifUnchanged`. */
export interface WriteCondition {
  readonly ifUnchanged?: KeyRecord;
}

/** The key changed (or went) since the record a conditional write was based on was read. */
export class StoreConflictError extends KmsError {
  constructor(keyId: string) {
    super('KMSInternalException', 'An internal error occurred.', { code: 'ERR_KMS_STORE_CONFLICT', detail: `key ${keyId} changed since it was read; the write was not applied` });
  }
}

/** CreateAlias of a name its scope has (KMS API Reference, "CreateAlias": AlreadyExistsException). */
export function aliasExists(a: AliasRecord): KmsError {
  return kmsError('AlreadyExistsException', `An alias with the name arn:aws:kms:${a.region}:${a.account}:${a.name} already exists`);
}

/** A resource quota checked in a write's transaction (limits.ts). */
export function limitExceeded(message: string): KmsError {
  return kmsError('LimitExceededException', message);
}

/** How many of `keys` each scope gains, in a fixed order (so writers locking scopes in it cannot deadlock). */
export function newKeysPerScope(keys: readonly KeyRecord[]): { readonly account: string; readonly region: string; readonly n: number }[] {
  const adding = new Map<string, { account: string; region: string; n: number }>();
  for (const key of keys) {
    const id = `${key.account}\0${key.region}`;
    const a = adding.get(id) ?? { account: key.account, region: key.region, n: 0 };
    a.n++;
    adding.set(id, a);
  }
  return [...adding.keys()].sort().map((id) => adding.get(id) as { account: string; region: string; n: number });
}

/** LimitExceededException of a key quota (keys per account and Region). */
export function keyQuotaExceeded(max: number, scope: Scope): KmsError {
  return limitExceeded(`The request was rejected because it would exceed the KMS keys quota of ${max} for account ${scope.account} in ${scope.region}.`);
}

export interface KeyStore {
  /** Present when several KMS processes share the store (coordination.ts). */
  readonly coordination?: Coordination;
  getKey(key: KeyAddress): Promise<KeyRecord | undefined>;
  /** Every key with this id, one per Region (a multi-Region key's primary and replicas), by Region. */
  relatedKeys(keyId: string): Promise<readonly KeyRecord[]>;
  /** The keys of one account and region, oldest first. */
  listKeys(scope: Scope, page: PageRequest): Promise<Page<KeyRef>>;
  /** Keys whose maintenance date (due.ts) is at or before `now`, earliest first. */
  listDueKeys(now: number, page: PageRequest): Promise<Page<KeyRecord>>;
  /** The earliest maintenance date of any key that is later than `after`, or undefined. */
  nextDue(after: number): Promise<number | undefined>;
  /** Inserts or replaces the key record. */
  putKey(key: KeyRecord): Promise<void>;
  /**
   * Creates a key and its first material atomically (material may be absent for EXTERNAL); with
   * `maxKeys`, refuses (LimitExceededException) when the key's scope already has that many keys.
   */
  createKey(key: KeyRecord, material?: Material, limits?: { readonly maxKeys?: number }): Promise<void>;
  /** `createKey` for many keys in one transaction (seed files): all are created, or none. */
  createKeys(keys: readonly { readonly key: KeyRecord; readonly material?: Material }[], limits?: { readonly maxKeys?: number }): Promise<void>;
  /** Removes a key with its materials, aliases, grants and import parameters. */
  deleteKey(key: KeyAddress, condition?: WriteCondition): Promise<void>;
  /** `KeysWrite` in one transaction; with `maxKeys`, refuses (LimitExceededException) a created key beyond it. */
  writeKeys(write: KeysWrite, limits?: { readonly maxKeys?: number }, condition?: WriteCondition): Promise<void>;

  getMaterial(key: KeyAddress, version: number): Promise<Material | undefined>;
  /** Newest material version, or undefined when the key has none (pending import). */
  currentMaterial(key: KeyAddress): Promise<Material | undefined>;
  listMaterials(key: KeyAddress): Promise<readonly Material[]>;
  /** Adds a material and writes the key record in one transaction (rotation, import). */
  addMaterial(key: KeyRecord, material: Material, condition?: WriteCondition): Promise<void>;
  /**
   * Deletes the key's materials (only those of `versions`, when given) and writes the key record,
   * in one transaction (imported material deleted or expired).
   */
  deleteMaterials(key: KeyRecord, versions?: readonly number[], condition?: WriteCondition): Promise<void>;

  getAlias(scope: Scope, name: string): Promise<AliasRecord | undefined>;
  /** The aliases of a scope by name, or only those of `keyId`. */
  listAliases(scope: Scope, page: PageRequest, keyId?: string): Promise<Page<AliasRecord>>;
  /**
   * Inserts or replaces the alias (its scope and name); with `maxPerKey`, refuses
   * (LimitExceededException) when its target key would have more aliases than that; with
   * `create`, only inserts (AlreadyExistsException when the name exists in its scope).
   */
  putAlias(alias: AliasRecord, limits?: { readonly maxPerKey?: number; readonly create?: boolean }): Promise<void>;
  deleteAlias(scope: Scope, name: string): Promise<void>;

  getGrant(grantId: string): Promise<GrantRecord | undefined>;
  getGrantByToken(grantToken: string): Promise<GrantRecord | undefined>;
  /** Every grant of a key (authorization reads these on each call; implementations cache them). */
  listGrants(key: KeyAddress): Promise<readonly GrantRecord[]>;
  /** A page of a key's grants, oldest first, optionally only one grant id or one grantee. */
  listGrantPage(key: KeyAddress, page: PageRequest, filter?: { readonly grantId?: string; readonly granteePrincipal?: string }): Promise<Page<GrantRecord>>;
  /** A page of the grants, on any key of `region`, whose retiring principal is `principal`. */
  listRetirableGrants(principal: string, region: string, page: PageRequest): Promise<Page<GrantRecord>>;
  /** Inserts or replaces a grant; with `maxPerKey`, refuses a key's grant beyond that many. */
  putGrant(grant: GrantRecord, limits?: { readonly maxPerKey?: number }): Promise<void>;
  deleteGrant(grantId: string): Promise<void>;

  getImportParameters(token: string): Promise<ImportParameters | undefined>;
  putImportParameters(p: ImportParameters): Promise<void>;

  close(): Promise<void>;
}
