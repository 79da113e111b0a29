// The SQLite and PostgreSQL stores keep the same records: rows.ts defines every table's columns
// and MACs for both, and each store's migrations create them (migrations.ts, pg-migrations.ts).
// A migration of one without the other would leave the stores apart; this compares what a fresh
// store of each actually has, table by table and column by column, and pins how their version
// numbers correspond, so a new version of either fails here until the other has its match.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { PostgresKeyStore, SqliteKeyStore } from '../../kms-proxy/index.ts';
import { SCHEMA_VERSION } from '../../kms-proxy/store/migrations.ts';
import { PG_SCHEMA_VERSION } from '../../kms-proxy/store/pg-migrations.ts';
import { STORE_FILE } from '../../kms-proxy/store/sqlite.ts';
import { postgresDatabase } from '../support/pg-database.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('kms-schema-parity-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What replicas share beyond the records: PostgreSQL only (pg-migrations.ts). */
const PG_ONLY = new Set(['quota_buckets', 'audit_replicas']);
/** How each store tracks its version (same role, one table each). */
const BOOKKEEPING = new Set(['schema_version']);

function sqliteColumns(dir: string): Map<string, string[]> {
  const db = new DatabaseSync(join(dir, STORE_FILE), { readOnly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    return new Map(tables.filter((t) => !BOOKKEEPING.has(t)).map((t) => [t, (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name).sort()]));
  } finally {
    db.close();
  }
}

async function postgresColumns(url: string): Promise<Map<string, string[]>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ table_name: string; column_name: string }>("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'");
    const m = new Map<string, string[]>();
    for (const { table_name: t, column_name: col } of r.rows) {
      if (PG_ONLY.has(t) || BOOKKEEPING.has(t)) continue;
      m.set(t, [...(m.get(t) ?? []), col].sort());
    }
    return new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
  } finally {
    await c.end();
  }
}

describe('the two stores keep the same schema', () => {
  test('a fresh SQLite store and a fresh PostgreSQL store have the same tables and columns (beyond what replicas share)', async () => {
    const dir = join(root, 'sqlite');
    mkdirSync(dir);
    mkdirSync(join(root, 'pg'));
    await new SqliteKeyStore({ dataDir: dir }).close();
    const url = await postgresDatabase();
    const store = await PostgresKeyStore.open({ url, dataDir: join(root, 'pg') });
    await store.close();
    const lite = sqliteColumns(dir);
    const pgc = await postgresColumns(url);
    expect([...lite.keys()]).toEqual(['aliases', 'grants', 'import_parameters', 'keys', 'materials', 'store_meta']);
    expect(Object.fromEntries(pgc)).toEqual(Object.fromEntries(lite));
  });

  test("PostgreSQL's version 1 is SQLite's version 3 (it shipped with Regions); a new version of either needs its match", () => {
    expect({ sqlite: SCHEMA_VERSION, postgres: PG_SCHEMA_VERSION }).toEqual({ sqlite: 3, postgres: 1 });
    expect(SCHEMA_VERSION - PG_SCHEMA_VERSION).toBe(2);
  });
});
