// The embedded key store: node:sqlite in the data directory, WAL journal with synchronous=FULL so a
// commit is on disk before the request that made it is acknowledged (survives kill -9 and power
// loss). Key material is sealed with AES-256-GCM under the master key (master-key.ts); decrypted
// material is cached in memory because it never changes once written.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { AliasRecord, GrantRecord, ImportParameters, KeyRecord, Material } from '../model.ts';
import { loadOrCreateMasterKey, seal, unseal } from './master-key.ts';
import type { KeyStore } from './types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, record TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS materials (
  key_id TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
  rotation_type TEXT, sealed BLOB NOT NULL, PRIMARY KEY (key_id, version)) STRICT;
CREATE TABLE IF NOT EXISTS aliases (name TEXT PRIMARY KEY, key_id TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS grants (grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, record TEXT NOT NULL) STRICT;
CREATE INDEX IF NOT EXISTS grants_key ON grants (key_id);
CREATE TABLE IF NOT EXISTS import_parameters (token TEXT PRIMARY KEY, key_id TEXT NOT NULL, record TEXT NOT NULL, sealed BLOB NOT NULL) STRICT;
`;

interface MaterialRow {
  key_id: string;
  version: number;
  id: string;
  created_at: number;
  rotation_type: string | null;
  sealed: Uint8Array;
}

function materialAad(keyId: string, version: number): string {
  return `nitro-sandbox/kms/material/v1\0${keyId}\0${version}`;
}

export interface SqliteStoreOptions {
  readonly dataDir: string;
}

export class SqliteKeyStore implements KeyStore {
  readonly #db: DatabaseSync;
  readonly #master: Uint8Array;
  readonly #cache = new Map<string, Material>();
  // This process owns the database file, so read-through caches with write-through invalidation
  // are exact; they keep SQL and JSON parsing off the Decrypt path.
  readonly #keys = new Map<string, KeyRecord | null>();
  readonly #grantsByKey = new Map<string, readonly GrantRecord[]>();
  readonly #stmt: Record<string, StatementSync>;

  constructor(options: SqliteStoreOptions) {
    this.#master = loadOrCreateMasterKey(join(options.dataDir, 'master.key'));
    const file = join(options.dataDir, 'kms.sqlite');
    this.#db = new DatabaseSync(file);
    chmodSync(file, 0o600);
    this.#db.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;');
    this.#db.exec(SCHEMA);
    const p = (sql: string) => this.#db.prepare(sql);
    this.#stmt = {
      getKey: p('SELECT record FROM keys WHERE key_id = ?'),
      listKeys: p('SELECT record FROM keys ORDER BY rowid'),
      putKey: p('INSERT INTO keys (key_id, record) VALUES (?, ?) ON CONFLICT (key_id) DO UPDATE SET record = excluded.record'),
      delKey: p('DELETE FROM keys WHERE key_id = ?'),
      getMat: p('SELECT * FROM materials WHERE key_id = ? AND version = ?'),
      curMat: p('SELECT * FROM materials WHERE key_id = ? ORDER BY version DESC LIMIT 1'),
      listMat: p('SELECT * FROM materials WHERE key_id = ? ORDER BY version'),
      putMat: p('INSERT INTO materials (key_id, version, id, created_at, rotation_type, sealed) VALUES (?, ?, ?, ?, ?, ?)'),
      delMat: p('DELETE FROM materials WHERE key_id = ?'),
      getAlias: p('SELECT * FROM aliases WHERE name = ?'),
      listAliases: p('SELECT * FROM aliases ORDER BY name'),
      putAlias: p('INSERT INTO aliases (name, key_id, created, updated) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, updated = excluded.updated'),
      delAlias: p('DELETE FROM aliases WHERE name = ?'),
      delAliasesOfKey: p('DELETE FROM aliases WHERE key_id = ?'),
      getGrant: p('SELECT record FROM grants WHERE grant_id = ?'),
      listGrants: p('SELECT record FROM grants ORDER BY rowid'),
      listGrantsOfKey: p('SELECT record FROM grants WHERE key_id = ? ORDER BY rowid'),
      putGrant: p('INSERT INTO grants (grant_id, key_id, record) VALUES (?, ?, ?) ON CONFLICT (grant_id) DO UPDATE SET record = excluded.record'),
      delGrant: p('DELETE FROM grants WHERE grant_id = ?'),
      delGrantsOfKey: p('DELETE FROM grants WHERE key_id = ?'),
      getImport: p('SELECT record, sealed FROM import_parameters WHERE token = ?'),
      putImport: p('INSERT INTO import_parameters (token, key_id, record, sealed) VALUES (?, ?, ?, ?)'),
      delImportsOfKey: p('DELETE FROM import_parameters WHERE key_id = ?'),
    };
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

  #s(name: string): StatementSync {
    const s = this.#stmt[name];
    if (!s) throw new Error(`no statement ${name}`);
    return s;
  }

  #material(row: MaterialRow | undefined): Material | undefined {
    if (!row) return undefined;
    const cacheKey = `${row.key_id}\0${row.version}`;
    const hit = this.#cache.get(cacheKey);
    if (hit) return hit;
    const m: Material = {
      keyId: row.key_id,
      version: row.version,
      id: row.id,
      createdAt: row.created_at,
      ...(row.rotation_type ? { rotationType: row.rotation_type as 'AUTOMATIC' | 'ON_DEMAND' } : {}),
      secret: unseal(this.#master, row.sealed, materialAad(row.key_id, row.version)),
    };
    this.#cache.set(cacheKey, m);
    return m;
  }

  #insertMaterial(m: Material): void {
    this.#s('putMat').run(m.keyId, m.version, m.id, m.createdAt, m.rotationType ?? null, seal(this.#master, m.secret, materialAad(m.keyId, m.version)));
  }

  #forget(keyId: string): void {
    for (const k of this.#cache.keys()) if (k.startsWith(`${keyId}\0`)) this.#cache.delete(k);
  }

  async getKey(keyId: string): Promise<KeyRecord | undefined> {
    const hit = this.#keys.get(keyId);
    if (hit !== undefined) return hit ?? undefined;
    const row = this.#s('getKey').get(keyId) as { record: string } | undefined;
    const key = row ? (JSON.parse(row.record) as KeyRecord) : undefined;
    if (this.#keys.size > 10_000) this.#keys.clear();
    this.#keys.set(keyId, key ?? null);
    return key;
  }
  async listKeys(): Promise<readonly KeyRecord[]> {
    return (this.#s('listKeys').all() as { record: string }[]).map((r) => JSON.parse(r.record) as KeyRecord);
  }
  async putKey(key: KeyRecord): Promise<void> {
    this.#keys.delete(key.keyId);
    this.#s('putKey').run(key.keyId, JSON.stringify(key));
  }
  async createKey(key: KeyRecord, material?: Material): Promise<void> {
    this.#keys.delete(key.keyId);
    this.#tx(() => {
      this.#s('putKey').run(key.keyId, JSON.stringify(key));
      if (material) this.#insertMaterial(material);
    });
  }
  async deleteKey(keyId: string): Promise<void> {
    this.#tx(() => {
      for (const s of ['delMat', 'delAliasesOfKey', 'delGrantsOfKey', 'delImportsOfKey', 'delKey']) this.#s(s).run(keyId);
    });
    this.#forget(keyId);
    this.#keys.delete(keyId);
    this.#grantsByKey.delete(keyId);
  }
  async getMaterial(keyId: string, version: number): Promise<Material | undefined> {
    const hit = this.#cache.get(`${keyId}\0${version}`);
    if (hit) return hit;
    return this.#material(this.#s('getMat').get(keyId, version) as MaterialRow | undefined);
  }
  async currentMaterial(keyId: string): Promise<Material | undefined> {
    return this.#material(this.#s('curMat').get(keyId) as MaterialRow | undefined);
  }
  async listMaterials(keyId: string): Promise<readonly Material[]> {
    return (this.#s('listMat').all(keyId) as unknown as MaterialRow[]).map((r) => this.#material(r) as Material);
  }
  async addMaterial(key: KeyRecord, material: Material): Promise<void> {
    this.#keys.delete(key.keyId);
    this.#tx(() => {
      this.#insertMaterial(material);
      this.#s('putKey').run(key.keyId, JSON.stringify(key));
    });
  }
  async deleteMaterials(key: KeyRecord): Promise<void> {
    this.#keys.delete(key.keyId);
    this.#tx(() => {
      this.#s('delMat').run(key.keyId);
      this.#s('putKey').run(key.keyId, JSON.stringify(key));
    });
    this.#forget(key.keyId);
  }
  async getAlias(name: string): Promise<AliasRecord | undefined> {
    const r = this.#s('getAlias').get(name) as { name: string; key_id: string; created: number; updated: number } | undefined;
    return r ? { name: r.name, keyId: r.key_id, creationDate: r.created, lastUpdatedDate: r.updated } : undefined;
  }
  async listAliases(): Promise<readonly AliasRecord[]> {
    return (this.#s('listAliases').all() as { name: string; key_id: string; created: number; updated: number }[]).map((r) => ({
      name: r.name,
      keyId: r.key_id,
      creationDate: r.created,
      lastUpdatedDate: r.updated,
    }));
  }
  async putAlias(a: AliasRecord): Promise<void> {
    this.#s('putAlias').run(a.name, a.keyId, a.creationDate, a.lastUpdatedDate);
  }
  async deleteAlias(name: string): Promise<void> {
    this.#s('delAlias').run(name);
  }
  async getGrant(grantId: string): Promise<GrantRecord | undefined> {
    const r = this.#s('getGrant').get(grantId) as { record: string } | undefined;
    return r ? (JSON.parse(r.record) as GrantRecord) : undefined;
  }
  async listGrants(keyId?: string): Promise<readonly GrantRecord[]> {
    if (keyId !== undefined) {
      const hit = this.#grantsByKey.get(keyId);
      if (hit) return hit;
    }
    const rows = (keyId === undefined ? this.#s('listGrants').all() : this.#s('listGrantsOfKey').all(keyId)) as { record: string }[];
    const grants = rows.map((r) => JSON.parse(r.record) as GrantRecord);
    if (keyId !== undefined) {
      if (this.#grantsByKey.size > 10_000) this.#grantsByKey.clear();
      this.#grantsByKey.set(keyId, grants);
    }
    return grants;
  }
  async putGrant(g: GrantRecord): Promise<void> {
    this.#grantsByKey.delete(g.keyId);
    this.#s('putGrant').run(g.grantId, g.keyId, JSON.stringify(g));
  }
  async deleteGrant(grantId: string): Promise<void> {
    this.#grantsByKey.clear();
    this.#s('delGrant').run(grantId);
  }
  async getImportParameters(token: string): Promise<ImportParameters | undefined> {
    const r = this.#s('getImport').get(token) as { record: string; sealed: Uint8Array } | undefined;
    if (!r) return undefined;
    const rec = JSON.parse(r.record) as Omit<ImportParameters, 'privateKey'>;
    return { ...rec, privateKey: unseal(this.#master, r.sealed, `nitro-sandbox/kms/import/v1\0${token}`) };
  }
  async putImportParameters(p: ImportParameters): Promise<void> {
    const { privateKey, ...rec } = p;
    this.#s('putImport').run(p.token, p.keyId, JSON.stringify(rec), seal(this.#master, privateKey, `nitro-sandbox/kms/import/v1\0${p.token}`));
  }
  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
