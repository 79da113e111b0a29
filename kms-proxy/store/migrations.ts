// The SQLite store's schema, as numbered migrations. `schema_version` holds the version a store is
// at; opening a store runs, in one transaction each, the migrations it has not had, so a store
// written by an older version upgrades itself and a crash mid-upgrade leaves it as it was. A store
// written by a newer version is refused (ERR_KMS_STORE_VERSION), never opened by code that does not
// know its format. A store from before versioning (tables but no schema_version) is version 1.
//
//   1  keys/materials/aliases/grants/import_parameters, records as JSON, material sealed (AAD key
//      id and version). The first release's schema, kept verbatim.
//   2  every row authenticated under the master key (`mac`, record-mac.ts); keys and aliases carry
//      their account and region (aliases are unique per account and region); indexes for paged
//      listings (keys by account, aliases by key, grants by key, grantee, retiring principal and
//      token) and for maintenance (keys by due date). Rows of version 1 are authenticated as they
//      are copied; before that, every sealed blob must open under the master key, so a wrong
//      master.key is refused instead of being made to vouch for a store it never protected.
//   3  Regions (multi-Region keys): a key is unique per id *and* Region (a multi-Region key has one
//      row per Region under one id), and materials, grants and import parameters carry the Region
//      of their key, covered by their MACs. Every row's version 2 MAC is checked before it is
//      authenticated again, so a row changed while the store was at version 2 is refused, never
//      vouched for by the upgrade; the store is then left at version 2.
import type { DatabaseSync } from 'node:sqlite';
import { KmsError } from '../errors.ts';
import { importAad, materialAad, unseal } from './master-key.ts';
import type { RecordMac } from './record-mac.ts';
import type { Field } from './record-mac.ts';
import { aliasFields, grantFields, grantOf, importFields, keyFields, keyRow, materialFields, type AliasRow, type GrantRow, type ImportRow, type KeyRow, type MaterialRow } from './rows.ts';
import type { GrantRecord, KeyRecord } from '../model.ts';

export interface MigrationContext {
  readonly masterKey: Uint8Array;
  readonly mac: RecordMac;
}

interface Migration {
  readonly version: number;
  up(db: DatabaseSync, ctx: MigrationContext): void;
}

const V1 = `
CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, record TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS materials (
  key_id TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
  rotation_type TEXT, sealed BLOB NOT NULL, PRIMARY KEY (key_id, version)) STRICT;
CREATE TABLE IF NOT EXISTS aliases (name TEXT PRIMARY KEY, key_id TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS grants (grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, record TEXT NOT NULL) STRICT;
CREATE INDEX IF NOT EXISTS grants_key ON grants (key_id);
CREATE TABLE IF NOT EXISTS import_parameters (token TEXT PRIMARY KEY, key_id TEXT NOT NULL, record TEXT NOT NULL, sealed BLOB NOT NULL) STRICT;
`;

const V2 = `
CREATE TABLE keys_v2 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL,
  account TEXT NOT NULL, region TEXT NOT NULL, due INTEGER, digest BLOB NOT NULL, record TEXT NOT NULL, mac BLOB NOT NULL) STRICT;
CREATE TABLE materials_v2 (
  key_id TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
  rotation_type TEXT, sealed BLOB NOT NULL, mac BLOB NOT NULL, PRIMARY KEY (key_id, version)) STRICT;
CREATE TABLE aliases_v2 (
  account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, key_id TEXT NOT NULL,
  created INTEGER NOT NULL, updated INTEGER NOT NULL, mac BLOB NOT NULL, PRIMARY KEY (account, region, name)) STRICT;
CREATE TABLE grants_v2 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, grant_id TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL,
  token TEXT NOT NULL UNIQUE, grantee TEXT NOT NULL, retiring TEXT, record TEXT NOT NULL, mac BLOB NOT NULL) STRICT;
CREATE TABLE import_parameters_v2 (
  token TEXT PRIMARY KEY, key_id TEXT NOT NULL, record TEXT NOT NULL, sealed BLOB NOT NULL, mac BLOB NOT NULL) STRICT;
CREATE TABLE store_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
`;

// The row layouts and MAC fields of version 2 (before Regions), kept to read a version 2 store.
type MaterialRowV2 = Omit<MaterialRow, 'region'>;
type GrantRowV2 = Omit<GrantRow, 'region'>;
type ImportRowV2 = Omit<ImportRow, 'region'>;
const materialFieldsV2 = (r: MaterialRowV2): Field[] => [r.key_id, r.version, r.id, r.created_at, r.rotation_type, r.sealed];
const grantFieldsV2 = (r: GrantRowV2): Field[] => [r.grant_id, r.key_id, r.token, r.grantee, r.retiring, r.record];
const importFieldsV2 = (r: ImportRowV2): Field[] => [r.token, r.key_id, r.record, r.sealed];

const V3 = `
CREATE TABLE keys_v3 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL, arn TEXT NOT NULL UNIQUE,
  account TEXT NOT NULL, region TEXT NOT NULL, due INTEGER, digest BLOB NOT NULL, record TEXT NOT NULL, mac BLOB NOT NULL,
  UNIQUE (key_id, region)) STRICT;
CREATE TABLE materials_v3 (
  key_id TEXT NOT NULL, region TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
  rotation_type TEXT, sealed BLOB NOT NULL, mac BLOB NOT NULL, PRIMARY KEY (key_id, region, version)) STRICT;
CREATE TABLE grants_v3 (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, grant_id TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL, region TEXT NOT NULL,
  token TEXT NOT NULL UNIQUE, grantee TEXT NOT NULL, retiring TEXT, record TEXT NOT NULL, mac BLOB NOT NULL) STRICT;
CREATE TABLE import_parameters_v3 (
  token TEXT PRIMARY KEY, key_id TEXT NOT NULL, region TEXT NOT NULL, record TEXT NOT NULL, sealed BLOB NOT NULL, mac BLOB NOT NULL) STRICT;
`;

const V3_INDEXES = `
CREATE INDEX keys_by_account ON keys (account, region, seq);
CREATE INDEX keys_by_due ON keys (due, seq) WHERE due IS NOT NULL;
CREATE INDEX grants_by_key ON grants (key_id, region, seq);
CREATE INDEX grants_by_grantee ON grants (key_id, region, grantee, seq);
CREATE INDEX grants_by_retiring ON grants (retiring, region, seq) WHERE retiring IS NOT NULL;
CREATE INDEX import_parameters_by_key ON import_parameters (key_id, region);
`;

function integrity(message: string): never {
  throw new KmsError('KMSInternalException', message, { code: 'ERR_KMS_STORE_INTEGRITY' });
}

const V2_INDEXES = `
CREATE INDEX keys_by_account ON keys (account, region, seq);
CREATE INDEX keys_by_due ON keys (due, seq) WHERE due IS NOT NULL;
CREATE INDEX aliases_by_key ON aliases (key_id, name);
CREATE INDEX grants_by_key ON grants (key_id, seq);
CREATE INDEX grants_by_grantee ON grants (key_id, grantee, seq);
CREATE INDEX grants_by_retiring ON grants (retiring, seq) WHERE retiring IS NOT NULL;
CREATE INDEX import_parameters_by_key ON import_parameters (key_id);
`;

function refuse(message: string, cause?: unknown): never {
  throw new KmsError('KMSInternalException', message, { code: 'ERR_KMS_STORE_VERSION', ...(cause === undefined ? {} : { cause }) });
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up(db) {
      db.exec(V1);
    },
  },
  {
    version: 2,
    up(db, { masterKey, mac }) {
      db.exec(V2);
      const keys = new Map<string, KeyRecord>();
      const putKey = db.prepare('INSERT INTO keys_v2 (key_id, arn, account, region, due, digest, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      for (const { record } of db.prepare('SELECT record FROM keys ORDER BY rowid').all() as { record: string }[]) {
        const k = JSON.parse(record) as KeyRecord;
        const r = keyRow(k);
        keys.set(k.keyId, k);
        putKey.run(r.key_id, r.arn, r.account, r.region, r.due, r.digest, r.record, mac.mac('keys', keyFields(r)));
      }
      const putMat = db.prepare('INSERT INTO materials_v2 (key_id, version, id, created_at, rotation_type, sealed, mac) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const r of db.prepare('SELECT * FROM materials ORDER BY key_id, version').all() as unknown as MaterialRow[]) {
        try {
          unseal(masterKey, r.sealed, materialAad(r.key_id, r.version));
        } catch (cause) {
          refuse(`The key store's material for key ${r.key_id} (version ${r.version}) does not open under master.key: this is not the master key of this store. The store was left at schema version 1.`, cause);
        }
        putMat.run(r.key_id, r.version, r.id, r.created_at, r.rotation_type, r.sealed, mac.mac('materials', materialFieldsV2(r)));
      }
      const putAlias = db.prepare('INSERT INTO aliases_v2 (account, region, name, key_id, created, updated, mac) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const a of db.prepare('SELECT name, key_id, created, updated FROM aliases ORDER BY name').all() as { name: string; key_id: string; created: number; updated: number }[]) {
        // Version 1 had one account: an alias lives where its key does. One whose key is gone
        // (version 1 deleted aliases with their key, so only a damaged store has one) is dropped.
        const k = keys.get(a.key_id);
        if (!k) continue;
        const r: AliasRow = { account: k.account, region: k.region, name: a.name, key_id: a.key_id, created: a.created, updated: a.updated };
        putAlias.run(r.account, r.region, r.name, r.key_id, r.created, r.updated, mac.mac('aliases', aliasFields(r)));
      }
      const putGrant = db.prepare('INSERT INTO grants_v2 (grant_id, key_id, token, grantee, retiring, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const { record } of db.prepare('SELECT record FROM grants ORDER BY rowid').all() as { record: string }[]) {
        const g = JSON.parse(record) as GrantRecord;
        const r: GrantRowV2 = { grant_id: g.grantId, key_id: g.keyId, token: g.grantToken, grantee: g.granteePrincipal, retiring: g.retiringPrincipal ?? null, record };
        if (typeof g.grantId !== 'string' || typeof g.keyId !== 'string' || typeof g.grantToken !== 'string' || typeof g.granteePrincipal !== 'string') refuse(`grant ${String(g.grantId)} of the version 1 store is malformed`);
        putGrant.run(r.grant_id, r.key_id, r.token, r.grantee, r.retiring, r.record, mac.mac('grants', grantFieldsV2(r)));
      }
      const putImport = db.prepare('INSERT INTO import_parameters_v2 (token, key_id, record, sealed, mac) VALUES (?, ?, ?, ?, ?)');
      for (const r of db.prepare('SELECT token, key_id, record, sealed FROM import_parameters ORDER BY token').all() as unknown as ImportRowV2[]) {
        try {
          unseal(masterKey, r.sealed, importAad(r.token));
        } catch (cause) {
          refuse(`The key store's import parameters for key ${r.key_id} do not open under master.key: this is not the master key of this store. The store was left at schema version 1.`, cause);
        }
        putImport.run(r.token, r.key_id, r.record, r.sealed, mac.mac('import_parameters', importFieldsV2(r)));
      }
      db.exec(`
        DROP TABLE keys; DROP TABLE materials; DROP TABLE aliases; DROP TABLE grants; DROP TABLE import_parameters;
        ALTER TABLE keys_v2 RENAME TO keys; ALTER TABLE materials_v2 RENAME TO materials; ALTER TABLE aliases_v2 RENAME TO aliases;
        ALTER TABLE grants_v2 RENAME TO grants; ALTER TABLE import_parameters_v2 RENAME TO import_parameters;
      `);
      db.exec(V2_INDEXES);
      db.prepare("INSERT INTO store_meta (name, value) VALUES ('master-key-check', ?)").run(mac.storeCheck());
    },
  },
  {
    version: 3,
    up(db, { mac }) {
      const left = ' The store was left at schema version 2.';
      db.exec(V3);
      // Keys: the MAC'd columns do not change, so each row keeps its MAC once it is checked, and
      // its `seq` (listing order and page markers stay valid).
      const region = new Map<string, string>();
      const putKey = db.prepare('INSERT INTO keys_v3 (seq, key_id, arn, account, region, due, digest, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const r of db.prepare('SELECT * FROM keys ORDER BY seq').all() as unknown as (KeyRow & { seq: number; record: string; mac: Uint8Array })[]) {
        if (!sameMac(mac, 'keys', keyFields(r), r.mac)) integrity(`keys row ${r.key_id} failed its integrity check during the upgrade to schema version 3.${left}`);
        region.set(r.key_id, r.region);
        putKey.run(r.seq, r.key_id, r.arn, r.account, r.region, r.due, r.digest, r.record, r.mac);
      }
      // Materials, grants and import parameters gain their key's Region (version 2 had one key per
      // id). One whose key is gone is unreachable (deleting a key deleted them with it) and dropped.
      const putMat = db.prepare('INSERT INTO materials_v3 (key_id, region, version, id, created_at, rotation_type, sealed, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      for (const r of db.prepare('SELECT * FROM materials ORDER BY key_id, version').all() as unknown as (MaterialRowV2 & { mac: Uint8Array })[]) {
        if (!sameMac(mac, 'materials', materialFieldsV2(r), r.mac)) integrity(`materials row ${r.key_id} version ${r.version} failed its integrity check during the upgrade to schema version 3.${left}`);
        const reg = region.get(r.key_id);
        if (reg === undefined) continue;
        const n: MaterialRow = { ...r, region: reg };
        putMat.run(n.key_id, n.region, n.version, n.id, n.created_at, n.rotation_type, n.sealed, mac.mac('materials', materialFields(n)));
      }
      const putGrant = db.prepare('INSERT INTO grants_v3 (seq, grant_id, key_id, region, token, grantee, retiring, record, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const r of db.prepare('SELECT * FROM grants ORDER BY seq').all() as unknown as (GrantRowV2 & { seq: number; mac: Uint8Array })[]) {
        if (!sameMac(mac, 'grants', grantFieldsV2(r), r.mac)) integrity(`grants row ${r.grant_id} failed its integrity check during the upgrade to schema version 3.${left}`);
        const reg = region.get(r.key_id);
        if (reg === undefined) continue;
        const n: GrantRow = { ...r, region: reg, record: JSON.stringify({ ...(JSON.parse(r.record) as GrantRecord), region: reg }) };
        if (!grantOf(n)) integrity(`grants row ${r.grant_id} does not match its record.${left}`);
        putGrant.run(r.seq, n.grant_id, n.key_id, n.region, n.token, n.grantee, n.retiring, n.record, mac.mac('grants', grantFields(n)));
      }
      const putImport = db.prepare('INSERT INTO import_parameters_v3 (token, key_id, region, record, sealed, mac) VALUES (?, ?, ?, ?, ?, ?)');
      for (const r of db.prepare('SELECT * FROM import_parameters ORDER BY token').all() as unknown as (ImportRowV2 & { mac: Uint8Array })[]) {
        if (!sameMac(mac, 'import_parameters', importFieldsV2(r), r.mac)) integrity(`import_parameters row of key ${r.key_id} failed its integrity check during the upgrade to schema version 3.${left}`);
        const reg = region.get(r.key_id);
        if (reg === undefined) continue;
        const n: ImportRow = { ...r, region: reg, record: JSON.stringify({ ...(JSON.parse(r.record) as object), region: reg }) };
        putImport.run(n.token, n.key_id, n.region, n.record, n.sealed, mac.mac('import_parameters', importFields(n)));
      }
      db.exec(`
        DROP TABLE keys; DROP TABLE materials; DROP TABLE grants; DROP TABLE import_parameters;
        ALTER TABLE keys_v3 RENAME TO keys; ALTER TABLE materials_v3 RENAME TO materials;
        ALTER TABLE grants_v3 RENAME TO grants; ALTER TABLE import_parameters_v3 RENAME TO import_parameters;
      `);
      db.exec(V3_INDEXES);
    },
  },
];

function sameMac(mac: RecordMac, table: string, fields: readonly Field[], tag: Uint8Array | null | undefined): boolean {
  try {
    mac.verify(table, fields, tag, table);
    return true;
  } catch {
    return false;
  }
}

/** The version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

function hasTable(db: DatabaseSync, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The schema version of an open store: 0 when empty, 1 for a store from before versioning. */
export function schemaVersion(db: DatabaseSync): number {
  if (hasTable(db, 'schema_version')) {
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    if (!row) refuse('The key store has a schema_version table without a version.');
    return row.version;
  }
  return hasTable(db, 'keys') ? 1 : 0;
}

/**
 * Brings an open store to SCHEMA_VERSION, one migration per transaction; returns the versions it
 * went from and to. Refuses a store newer than this code.
 */
export function migrate(db: DatabaseSync, ctx: MigrationContext): { from: number; to: number } {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    refuse(`The key store is at schema version ${from}, newer than this nitro-sandbox understands (${SCHEMA_VERSION}); use the version that wrote it.`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      m.up(db, ctx);
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT; DELETE FROM schema_version;');
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  }
  return { from, to: SCHEMA_VERSION };
}
