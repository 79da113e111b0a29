// The embedded key store: node:sqlite in the data directory, WAL journal with synchronous=FULL so a
// commit is on disk before the request that made it is acknowledged (survives kill -9 and power
// loss). Key material is sealed with AES-256-GCM under the master key (master-key.ts), every row is
// authenticated (record-mac.ts, verified on every read from disk), the schema is versioned and
// upgraded on open (migrations.ts), and listings are pages read from indexes (page.ts).
//
// This process owns the database file (one KMS per data directory, lock.ts), so read-through caches
// with write-through invalidation are exact; they keep SQL, MAC checks and JSON parsing off the
// Decrypt path. They hold only records that passed their check.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { KmsError, kmsError } from '../errors.ts';
import type { AliasRecord, GrantRecord, ImportParameters, KeyAddress, KeyRecord, Material } from '../model.ts';
import { CheckedRows } from './checked-rows.ts';
import { openMasterKey, loadMasterKey, MASTER_KEY_FILE } from './master-key.ts';
import { migrate, schemaVersion, SCHEMA_VERSION } from './migrations.ts';
import { decodeMarker, encodeMarker, pageOf, type Page, type PageRequest } from './page.ts';
import type { RecordMac } from './record-mac.ts';
import { recordDigest, type AliasRow, type GrantRow, type ImportRow, type KeyRow, type MaterialRow } from './rows.ts';
import { aliasExists, keyQuotaExceeded, limitExceeded, newKeysPerScope, StoreConflictError, type KeyRef, type KeyStore, type KeysWrite, type Scope, type WriteCondition } from './types.ts';

export const STORE_FILE = 'kms.sqlite';

export interface SqliteStoreOptions {
  readonly dataDir: string;
  /**
   * Open without writing (`kms explain` beside a running KMS): no master key is created, no
   * migration runs, and a store that is not at the current schema version is refused.
   */
  readonly readOnly?: boolean;
}

type KeyRowSeq = KeyRow & { readonly seq: number };
type GrantRowSeq = GrantRow & { readonly seq: number };

/** Cache key of a key (its Region and id). */
const at = (k: KeyAddress) => `${k.region}\0${k.keyId}`;

export class SqliteKeyStore implements KeyStore {
  readonly #db: DatabaseSync;
  readonly #master: Uint8Array;
  readonly #mac: RecordMac;
  readonly #rows: CheckedRows;
  /** By `at(key)` and version. */
  readonly #materials = new Map<string, Material>();
  /** By `at(key)`. */
  readonly #keys = new Map<string, KeyRecord | null>();
  /** By `at(key)`. */
  readonly #grantsByKey = new Map<string, readonly GrantRecord[]>();
  readonly #stmt: Record<string, StatementSync>;

  constructor(options: SqliteStoreOptions) {
    const file = join(options.dataDir, STORE_FILE);
    if (options.readOnly) {
      if (!existsSync(file)) throw kmsError('NotFoundException', `no KMS key store in ${options.dataDir}`);
      this.#master = loadMasterKey(join(options.dataDir, MASTER_KEY_FILE));
      this.#db = new DatabaseSync(file, { readOnly: true });
    } else {
      // The master key first: a store never exists without the key that protects it.
      this.#master = openMasterKey(options.dataDir);
      this.#db = new DatabaseSync(file);
      chmodSync(file, 0o600);
    }
    this.#rows = new CheckedRows(this.#master);
    this.#mac = this.#rows.mac;
    try {
      this.#db.exec('PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;');
      if (options.readOnly) {
        const v = schemaVersion(this.#db);
        if (v !== SCHEMA_VERSION) {
          throw new KmsError('KMSInternalException', `The key store is at schema version ${v}, not ${SCHEMA_VERSION}: start 'kms serve' on it once to upgrade it.`, { code: 'ERR_KMS_STORE_VERSION' });
        }
      } else {
        this.#db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;');
        migrate(this.#db, { masterKey: this.#master, mac: this.#mac });
      }
      this.#checkMasterKey();
    } catch (e) {
      this.#db.close();
      throw e;
    }
    const p = (sql: string) => this.#db.prepare(sql);
    const KEY = 'SELECT seq, key_id, arn, account, region, due, digest, record, mac FROM keys';
    const GRANT = 'SELECT seq, grant_id, key_id, region, token, grantee, retiring, record, mac FROM grants';
    this.#stmt = {
      getKey: p(`${KEY} WHERE key_id = ? AND region = ?`),
      relatedKeys: p(`${KEY} WHERE key_id = ? ORDER BY region`),
      listKeys: p('SELECT seq, key_id, arn, account, region, due, digest, mac FROM keys WHERE account = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?'),
      countKeys: p('SELECT count(*) AS n FROM (SELECT 1 FROM keys WHERE account = ? AND region = ? LIMIT ?)'),
      dueKeys: p(`${KEY} WHERE due IS NOT NULL AND due <= ? AND (due > ? OR (due = ? AND seq > ?)) ORDER BY due, seq LIMIT ?`),
      nextDue: p('SELECT min(due) AS due FROM keys WHERE due > ?'),
      putKey: p(
        'INSERT INTO keys (key_id, arn, account, region, due, digest, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (key_id, region) DO UPDATE SET arn = excluded.arn, account = excluded.account, due = excluded.due, digest = excluded.digest, record = excluded.record, mac = excluded.mac',
      ),
      delKey: p('DELETE FROM keys WHERE key_id = ? AND region = ?'),
      keyDigest: p('SELECT digest FROM keys WHERE key_id = ? AND region = ?'),
      getMat: p('SELECT * FROM materials WHERE key_id = ? AND region = ? AND version = ?'),
      curMat: p('SELECT * FROM materials WHERE key_id = ? AND region = ? ORDER BY version DESC LIMIT 1'),
      listMat: p('SELECT * FROM materials WHERE key_id = ? AND region = ? ORDER BY version'),
      putMat: p('INSERT INTO materials (key_id, region, version, id, created_at, rotation_type, sealed, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      delMat: p('DELETE FROM materials WHERE key_id = ? AND region = ?'),
      delMatVersion: p('DELETE FROM materials WHERE key_id = ? AND region = ? AND version = ?'),
      getAlias: p('SELECT * FROM aliases WHERE account = ? AND region = ? AND name = ?'),
      listAliases: p('SELECT * FROM aliases WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?'),
      listAliasesOfKey: p('SELECT * FROM aliases WHERE key_id = ? AND account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?'),
      countAliasesOfKey: p('SELECT count(*) AS n FROM aliases WHERE key_id = ? AND NOT (account = ? AND region = ? AND name = ?)'),
      putAlias: p(
        'INSERT INTO aliases (account, region, name, key_id, created, updated, mac) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (account, region, name) DO UPDATE SET key_id = excluded.key_id, created = excluded.created, updated = excluded.updated, mac = excluded.mac',
      ),
      delAlias: p('DELETE FROM aliases WHERE account = ? AND region = ? AND name = ?'),
      delAliasesOfKey: p('DELETE FROM aliases WHERE key_id = ? AND region = ?'),
      getGrant: p(`${GRANT} WHERE grant_id = ?`),
      getGrantByToken: p(`${GRANT} WHERE token = ?`),
      grantsOfKey: p(`${GRANT} WHERE key_id = ? AND region = ? ORDER BY seq`),
      grantPage: p(`${GRANT} WHERE key_id = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?`),
      grantPageOfGrantee: p(`${GRANT} WHERE key_id = ? AND region = ? AND grantee = ? AND seq > ? ORDER BY seq LIMIT ?`),
      retirablePage: p(`${GRANT} WHERE retiring = ? AND region = ? AND seq > ? ORDER BY seq LIMIT ?`),
      countGrantsOfKey: p('SELECT count(*) AS n FROM grants WHERE key_id = ? AND region = ? AND grant_id <> ?'),
      putGrant: p(
        'INSERT INTO grants (grant_id, key_id, region, token, grantee, retiring, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (grant_id) DO UPDATE SET key_id = excluded.key_id, region = excluded.region, token = excluded.token, grantee = excluded.grantee, retiring = excluded.retiring, record = excluded.record, mac = excluded.mac',
      ),
      delGrant: p('DELETE FROM grants WHERE grant_id = ?'),
      delGrantsOfKey: p('DELETE FROM grants WHERE key_id = ? AND region = ?'),
      getImport: p('SELECT * FROM import_parameters WHERE token = ?'),
      putImport: p('INSERT INTO import_parameters (token, key_id, region, record, sealed, mac) VALUES (?, ?, ?, ?, ?, ?)'),
      delImportsOfKey: p('DELETE FROM import_parameters WHERE key_id = ? AND region = ?'),
    };
  }

  /** A store authenticated under another master key is refused at once, not row by row later. */
  #checkMasterKey(): void {
    const row = this.#db.prepare("SELECT value FROM store_meta WHERE name = 'master-key-check'").get() as { value: Uint8Array } | undefined;
    try {
      this.#mac.verify('store', ['nitro-sandbox/kms/store'], row?.value, 'the store');
    } catch (cause) {
      throw new KmsError('KMSInternalException', `${MASTER_KEY_FILE} is not the master key of this key store (${STORE_FILE}): restore the master key that belongs to it.`, { cause, code: 'ERR_KMS_MASTER_KEY_MISMATCH' });
    }
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const r = fn();
      this.#db.exec('COMMIT');
      return r;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  /** A conditional write's check, inside its transaction (types.ts, WriteCondition). */
  #check(condition: WriteCondition | undefined): void {
    const k = condition?.ifUnchanged;
    if (k === undefined) return;
    const row = this.#s('keyDigest').get(k.keyId, k.region) as { digest: Uint8Array } | undefined;
    if (!row || !Buffer.from(row.digest).equals(recordDigest(JSON.stringify(k)))) throw new StoreConflictError(k.keyId);
  }

  #s(name: string): StatementSync {
    const s = this.#stmt[name];
    if (!s) throw new Error(`no statement ${name}`);
    return s;
  }

  // Reading rows: each is checked before anything of it is used.

  #keyOf(r: KeyRow): KeyRecord {
    return this.#rows.key(r);
  }

  #grantOf(r: GrantRow): GrantRecord {
    return this.#rows.grant(r);
  }

  #aliasOf(r: AliasRow): AliasRecord {
    return this.#rows.alias(r);
  }

  #material(row: MaterialRow | undefined): Material | undefined {
    if (!row) return undefined;
    const cacheKey = `${row.region}\0${row.key_id}\0${row.version}`;
    const hit = this.#materials.get(cacheKey);
    if (hit) return hit;
    const m = this.#rows.material(row);
    this.#materials.set(cacheKey, m);
    return m;
  }

  // Writing rows: each with its MAC.

  #writeKey(key: KeyRecord): void {
    const r = this.#rows.keyRow(key);
    this.#s('putKey').run(r.key_id, r.arn, r.account, r.region, r.due, r.digest, r.record, r.mac);
  }

  /** Adds a material to the key `key` addresses (the material's key id must be its id). */
  #insertMaterial(key: KeyAddress, m: Material): void {
    const r = this.#rows.materialRow(key, m);
    this.#s('putMat').run(r.key_id, r.region, r.version, r.id, r.created_at, r.rotation_type, r.sealed, r.mac);
  }

  #forget(key: KeyAddress): void {
    const prefix = `${at(key)}\0`;
    for (const k of this.#materials.keys()) if (k.startsWith(prefix)) this.#materials.delete(k);
    this.#keys.delete(at(key));
    this.#grantsByKey.delete(at(key));
  }

  /** Refuses (LimitExceededException) new keys that would take a scope past `max` keys. */
  #checkKeyQuota(keys: readonly KeyRecord[], max: number | undefined): void {
    if (max === undefined) return;
    for (const scope of newKeysPerScope(keys)) {
      const { n } = this.#s('countKeys').get(scope.account, scope.region, max) as { n: number };
      if (n + scope.n > max) throw keyQuotaExceeded(max, scope);
    }
  }

  #deleteKeyRows(key: KeyAddress): void {
    for (const s of ['delMat', 'delAliasesOfKey', 'delGrantsOfKey', 'delImportsOfKey', 'delKey']) this.#s(s).run(key.keyId, key.region);
  }

  async getKey(key: KeyAddress): Promise<KeyRecord | undefined> {
    const id = at(key);
    const hit = this.#keys.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const row = this.#s('getKey').get(key.keyId, key.region) as KeyRow | undefined;
    const found = row ? this.#keyOf(row) : undefined;
    if (this.#keys.size > 10_000) this.#keys.clear();
    this.#keys.set(id, found ?? null);
    return found;
  }

  async relatedKeys(keyId: string): Promise<readonly KeyRecord[]> {
    return (this.#s('relatedKeys').all(keyId) as unknown as KeyRow[]).map((r) => this.#keyOf(r));
  }

  async listKeys(scope: Scope, page: PageRequest): Promise<Page<KeyRef>> {
    const after = page.marker === undefined ? 0 : decodeMarker('keys', page.marker, 'number');
    const rows = this.#s('listKeys').all(scope.account, scope.region, after, page.limit + 1) as unknown as KeyRowSeq[];
    // The record is neither read nor parsed: the MAC covers the id and ARN columns the listing needs.
    return pageOf(
      rows,
      page.limit,
      (r) => this.#rows.keyRef(r),
      (last) => encodeMarker('keys', last.seq),
    );
  }

  async listDueKeys(now: number, page: PageRequest): Promise<Page<KeyRecord>> {
    let due = Number.MIN_SAFE_INTEGER;
    let seq = 0;
    if (page.marker !== undefined) {
      const [d, s] = decodeMarker('due', page.marker, 'string').split(':').map(Number);
      if (!Number.isSafeInteger(d) || !Number.isSafeInteger(s)) throw kmsError('InvalidMarkerException', 'Could not deserialize marker');
      due = d as number;
      seq = s as number;
    }
    const rows = this.#s('dueKeys').all(now, due, due, seq, page.limit + 1) as unknown as KeyRowSeq[];
    return pageOf(rows, page.limit, (r) => this.#keyOf(r), (last) => encodeMarker('due', `${last.due}:${last.seq}`));
  }

  async nextDue(after: number): Promise<number | undefined> {
    const r = this.#s('nextDue').get(after) as { due: number | null } | undefined;
    return r?.due ?? undefined;
  }

  async putKey(key: KeyRecord): Promise<void> {
    this.#keys.delete(at(key));
    this.#writeKey(key);
  }

  async createKey(key: KeyRecord, material?: Material, limits: { readonly maxKeys?: number } = {}): Promise<void> {
    await this.createKeys([material ? { key, material } : { key }], limits);
  }

  async createKeys(keys: readonly { readonly key: KeyRecord; readonly material?: Material }[], limits: { readonly maxKeys?: number } = {}): Promise<void> {
    if (keys.length === 0) return;
    for (const { key } of keys) this.#keys.delete(at(key));
    this.#tx(() => {
      this.#checkKeyQuota(keys.map((k) => k.key), limits.maxKeys);
      for (const { key, material } of keys) {
        this.#writeKey(key);
        if (material) this.#insertMaterial(key, material);
      }
    });
  }

  async deleteKey(key: KeyAddress, condition?: WriteCondition): Promise<void> {
    this.#tx(() => {
      this.#check(condition);
      this.#deleteKeyRows(key);
    });
    this.#forget(key);
  }

  async writeKeys(w: KeysWrite, limits: { readonly maxKeys?: number } = {}, condition?: WriteCondition): Promise<void> {
    const touched = [...(w.remove ?? []), ...(w.create ?? []), ...(w.put ?? []), ...(w.materials ?? []).map((m) => m.key)];
    for (const k of touched) this.#keys.delete(at(k));
    try {
      this.#tx(() => {
        this.#check(condition);
        for (const k of w.remove ?? []) this.#deleteKeyRows(k);
        this.#checkKeyQuota(w.create ?? [], limits.maxKeys);
        for (const k of [...(w.create ?? []), ...(w.put ?? [])]) this.#writeKey(k);
        for (const { key, material } of w.materials ?? []) this.#insertMaterial(key, material);
      });
    } finally {
      for (const k of w.remove ?? []) this.#forget(k);
      for (const k of touched) this.#keys.delete(at(k));
    }
  }

  async getMaterial(key: KeyAddress, version: number): Promise<Material | undefined> {
    const hit = this.#materials.get(`${at(key)}\0${version}`);
    if (hit) return hit;
    return this.#material(this.#s('getMat').get(key.keyId, key.region, version) as MaterialRow | undefined);
  }

  async currentMaterial(key: KeyAddress): Promise<Material | undefined> {
    return this.#material(this.#s('curMat').get(key.keyId, key.region) as MaterialRow | undefined);
  }

  async listMaterials(key: KeyAddress): Promise<readonly Material[]> {
    return (this.#s('listMat').all(key.keyId, key.region) as unknown as MaterialRow[]).map((r) => this.#material(r) as Material);
  }

  async addMaterial(key: KeyRecord, material: Material, condition?: WriteCondition): Promise<void> {
    this.#keys.delete(at(key));
    this.#tx(() => {
      this.#check(condition);
      this.#insertMaterial(key, material);
      this.#writeKey(key);
    });
  }

  async deleteMaterials(key: KeyRecord, versions?: readonly number[], condition?: WriteCondition): Promise<void> {
    this.#keys.delete(at(key));
    this.#tx(() => {
      this.#check(condition);
      if (versions === undefined) this.#s('delMat').run(key.keyId, key.region);
      else for (const v of versions) this.#s('delMatVersion').run(key.keyId, key.region, v);
      this.#writeKey(key);
    });
    if (versions === undefined) this.#forget(key);
    else for (const v of versions) this.#materials.delete(`${at(key)}\0${v}`);
  }

  async getAlias(scope: Scope, name: string): Promise<AliasRecord | undefined> {
    const r = this.#s('getAlias').get(scope.account, scope.region, name) as AliasRow | undefined;
    return r ? this.#aliasOf(r) : undefined;
  }

  async listAliases(scope: Scope, page: PageRequest, keyId?: string): Promise<Page<AliasRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('aliases', page.marker, 'string');
    const rows = (
      keyId === undefined
        ? this.#s('listAliases').all(scope.account, scope.region, after, page.limit + 1)
        : this.#s('listAliasesOfKey').all(keyId, scope.account, scope.region, after, page.limit + 1)
    ) as unknown as AliasRow[];
    return pageOf(rows, page.limit, (r) => this.#aliasOf(r), (last) => encodeMarker('aliases', last.name));
  }

  async putAlias(a: AliasRecord, limits: { readonly maxPerKey?: number; readonly create?: boolean } = {}): Promise<void> {
    const r = this.#rows.aliasRow(a);
    this.#tx(() => {
      if (limits.create && this.#s('getAlias').get(r.account, r.region, r.name)) throw aliasExists(a);
      const max = limits.maxPerKey;
      if (max !== undefined) {
        const { n } = this.#s('countAliasesOfKey').get(r.key_id, r.account, r.region, r.name) as { n: number };
        if (n >= max) throw limitExceeded(`The request was rejected because key ${r.key_id} already has ${n} aliases, the quota of aliases per KMS key.`);
      }
      this.#s('putAlias').run(r.account, r.region, r.name, r.key_id, r.created, r.updated, r.mac);
    });
  }

  async deleteAlias(scope: Scope, name: string): Promise<void> {
    this.#s('delAlias').run(scope.account, scope.region, name);
  }

  async getGrant(grantId: string): Promise<GrantRecord | undefined> {
    const r = this.#s('getGrant').get(grantId) as GrantRow | undefined;
    return r ? this.#grantOf(r) : undefined;
  }

  async getGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const r = this.#s('getGrantByToken').get(grantToken) as GrantRow | undefined;
    return r ? this.#grantOf(r) : undefined;
  }

  async listGrants(key: KeyAddress): Promise<readonly GrantRecord[]> {
    const id = at(key);
    const hit = this.#grantsByKey.get(id);
    if (hit) return hit;
    const grants = (this.#s('grantsOfKey').all(key.keyId, key.region) as unknown as GrantRow[]).map((r) => this.#grantOf(r));
    if (this.#grantsByKey.size > 10_000) this.#grantsByKey.clear();
    this.#grantsByKey.set(id, grants);
    return grants;
  }

  async listGrantPage(key: KeyAddress, page: PageRequest, filter: { readonly grantId?: string; readonly granteePrincipal?: string } = {}): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? 0 : decodeMarker('grants', page.marker, 'number');
    let rows: GrantRowSeq[];
    if (filter.grantId !== undefined) {
      const r = this.#s('getGrant').get(filter.grantId) as GrantRowSeq | undefined;
      rows = r && r.key_id === key.keyId && r.region === key.region && r.seq > after && (filter.granteePrincipal === undefined || r.grantee === filter.granteePrincipal) ? [r] : [];
    } else if (filter.granteePrincipal !== undefined) {
      rows = this.#s('grantPageOfGrantee').all(key.keyId, key.region, filter.granteePrincipal, after, page.limit + 1) as unknown as GrantRowSeq[];
    } else {
      rows = this.#s('grantPage').all(key.keyId, key.region, after, page.limit + 1) as unknown as GrantRowSeq[];
    }
    return pageOf(rows, page.limit, (r) => this.#grantOf(r), (last) => encodeMarker('grants', last.seq));
  }

  async listRetirableGrants(principal: string, region: string, page: PageRequest): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? 0 : decodeMarker('retirable', page.marker, 'number');
    const rows = this.#s('retirablePage').all(principal, region, after, page.limit + 1) as unknown as GrantRowSeq[];
    return pageOf(rows, page.limit, (r) => this.#grantOf(r), (last) => encodeMarker('retirable', last.seq));
  }

  async putGrant(g: GrantRecord, limits: { readonly maxPerKey?: number } = {}): Promise<void> {
    // A grant moved to another key leaves the old key's cached list too.
    const old = this.#s('getGrant').get(g.grantId) as GrantRow | undefined;
    if (old) this.#grantsByKey.delete(at({ keyId: old.key_id, region: old.region }));
    this.#grantsByKey.delete(at(g));
    const r = this.#rows.grantRow(g);
    this.#tx(() => {
      const max = limits.maxPerKey;
      if (max !== undefined) {
        const { n } = this.#s('countGrantsOfKey').get(r.key_id, r.region, r.grant_id) as { n: number };
        if (n >= max) throw limitExceeded(`The request was rejected because key ${r.key_id} already has ${n} grants, the quota of grants per KMS key.`);
      }
      this.#s('putGrant').run(r.grant_id, r.key_id, r.region, r.token, r.grantee, r.retiring, r.record, r.mac);
    });
  }

  async deleteGrant(grantId: string): Promise<void> {
    const r = this.#s('getGrant').get(grantId) as GrantRow | undefined;
    if (r) this.#grantsByKey.delete(at({ keyId: r.key_id, region: r.region }));
    this.#s('delGrant').run(grantId);
  }

  async getImportParameters(token: string): Promise<ImportParameters | undefined> {
    const r = this.#s('getImport').get(token) as ImportRow | undefined;
    return r ? this.#rows.importParameters(r) : undefined;
  }

  async putImportParameters(p: ImportParameters): Promise<void> {
    const r = this.#rows.importRow(p);
    this.#s('putImport').run(r.token, r.key_id, r.region, r.record, r.sealed, r.mac);
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
