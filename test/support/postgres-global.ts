// vitest globalSetup: one PostgreSQL server for the whole run (test/support/postgres.ts); each test
// file that needs one makes its own databases on it (`inject('postgresUrl')`, then
// `postgresDatabase()` in test/kms-proxy/pg.ts).
import type { TestProject } from 'vitest/node';
import { startPostgres, type PostgresServer } from './postgres.ts';

let server: PostgresServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startPostgres();
  project.provide('postgresUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.destroy();
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}
