// A new, empty database on the run's PostgreSQL server (test/support/postgres-global.ts).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export async function postgresDatabase(): Promise<string> {
  const base = inject('postgresUrl');
  const name = `kms_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return base.replace(/\/postgres$/, `/${name}`);
}

/** Runs `sql` on the database at `url` directly, as someone with write access to it would. */
export async function onDatabase(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
