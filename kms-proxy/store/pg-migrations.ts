// The PostgreSQL store's schema, as numbered migrations (the SQLite store's are migrations.ts).
// `schema_version` holds the version a database is at; opening runs, each in one transaction under
// a transaction-level advisory lock, the migrations it has not had, so replicas starting together
// migrate once and a crash mid-upgrade leaves the database as it was. A database written by a newer
// version is refused (ERR_KMS_STORE_VERSION).
//
//   1  the tables and indexes of the SQLite store's schema version 3 (Regions: a key unique per id
//      and Region, materials, grants and import parameters carrying their key's Region), column
//      for column (rows.ts defines them and their MACs for both), with bigint for SQLite's INTEGER
//      and bytea for BLOB; and what replicas share beyond records: `quota_buckets` (request quotas
//      per account and group) and `audit_replicas` (each audit chain's writer and last head). The
//      PostgreSQL store first shipped with Regions, so it has no version matching SQLite's 1 or 2.
import type pg from 'pg';
import { KmsError } from '../errors.ts';
import type { RecordMac } from './record-mac.ts';

const V1 = `
CREATE TABLE keys (
  seq bigserial PRIMARY KEY, key_id text NOT NULL, arn text NOT NULL UNIQUE,
  account text NOT NULL, region text NOT NULL, due bigint, digest bytea NOT NULL, record text NOT NULL, mac bytea NOT NULL,
  UNIQUE (key_id, region));
CREATE TABLE materials (
  key_id text NOT NULL, region text NOT NULL, version integer NOT NULL, id text NOT NULL, created_at bigint NOT NULL,
  rotation_type text, sealed bytea NOT NULL, mac bytea NOT NULL, PRIMARY KEY (key_id, region, version));
CREATE TABLE aliases (
  account text NOT NULL, region text NOT NULL, name text NOT NULL, key_id text NOT NULL,
  created bigint NOT NULL, updated bigint NOT NULL, mac bytea NOT NULL, PRIMARY KEY (account, region, name));
CREATE TABLE grants (
  seq bigserial PRIMARY KEY, grant_id text NOT NULL UNIQUE, key_id text NOT NULL, region text NOT NULL,
  token text NOT NULL UNIQUE, grantee text NOT NULL, retiring text, record text NOT NULL, mac bytea NOT NULL);
CREATE TABLE import_parameters (
  token text PRIMARY KEY, key_id text NOT NULL, region text NOT NULL, record text NOT NULL, sealed bytea NOT NULL, mac bytea NOT NULL);
CREATE TABLE store_meta (name text PRIMARY KEY, value bytea NOT NULL);
CREATE INDEX keys_by_account ON keys (account, region, seq);
CREATE INDEX keys_by_due ON keys (due, seq) WHERE due IS NOT NULL;
CREATE INDEX aliases_by_key ON aliases (key_id, name);
CREATE INDEX grants_by_key ON grants (key_id, region, seq);
CREATE INDEX grants_by_grantee ON grants (key_id, region, grantee, seq);
CREATE INDEX grants_by_retiring ON grants (retiring, region, seq) WHERE retiring IS NOT NULL;
CREATE INDEX import_parameters_by_key ON import_parameters (key_id, region);
CREATE TABLE quota_buckets (
  account text NOT NULL, grp text NOT NULL, tokens double precision NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (account, grp));
CREATE TABLE audit_replicas (replica text PRIMARY KEY, head text, first_seen timestamptz NOT NULL DEFAULT now());
`;

interface Migration {
  readonly version: number;
  up(c: pg.ClientBase, mac: RecordMac): Promise<void>;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    async up(c, mac) {
      await c.query(V1);
      await c.query("INSERT INTO store_meta (name, value) VALUES ('master-key-check', $1)", [Buffer.from(mac.storeCheck())]);
    },
  },
];

export const PG_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
/** `pg_advisory_xact_lock` key serializing migrations (any constant no other lock uses). */
const MIGRATION_LOCK = 'nitro-sandbox/kms/migrate';

function refuse(message: string): never {
  throw new KmsError('KMSInternalException', message, { code: 'ERR_KMS_STORE_VERSION' });
}

/** The schema version of the database: 0 when it holds no KMS store. */
export async function pgSchemaVersion(c: pg.ClientBase): Promise<number> {
  const t = await c.query<{ ok: boolean }>("SELECT to_regclass('schema_version') IS NOT NULL AS ok");
  if (!t.rows[0]?.ok) return 0;
  const r = await c.query<{ version: number }>('SELECT version FROM schema_version');
  const v = r.rows[0]?.version;
  if (v === undefined) refuse('The key store has a schema_version table without a version.');
  return v;
}

/** Brings the database to PG_SCHEMA_VERSION; refuses one newer than this code. */
export async function migratePg(c: pg.ClientBase, mac: RecordMac): Promise<{ from: number; to: number }> {
  let from = -1;
  for (;;) {
    await c.query('BEGIN');
    try {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [MIGRATION_LOCK]);
      const v = await pgSchemaVersion(c);
      if (from < 0) from = v;
      if (v > PG_SCHEMA_VERSION) refuse(`The key store is at schema version ${v}, newer than this nitro-sandbox understands (${PG_SCHEMA_VERSION}); use the version that wrote it.`);
      const next = MIGRATIONS.find((m) => m.version === v + 1);
      if (!next) {
        await c.query('COMMIT');
        return { from, to: v };
      }
      await next.up(c, mac);
      await c.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL); DELETE FROM schema_version;');
      await c.query('INSERT INTO schema_version (version) VALUES ($1)', [next.version]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }
}
