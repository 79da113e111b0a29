// Files several processes may race to create (createExclusive, attestation/custody.ts): replicas
// started together on one empty data directory all get the same master key and credentials, none
// reads a partial file; the CA and custody keys are created the same way.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, test } from 'vitest';
import { createExclusive } from '../../attestation/custody.ts';

const root = mkdtempSync(join(tmpdir(), 'kms-first-start-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('createExclusive', () => {
  test('creates the file whole, mode 0600, and leaves no temporary file', () => {
    const p = join(root, 'a');
    expect(createExclusive(p, 'hello', 0o600)).toBe(true);
    expect(readFileSync(p, 'utf8')).toBe('hello');
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('an existing name is left unchanged (false), and nothing is written in its directory (which may be mounted read-only)', () => {
    const dir = mkdtempSync(join(root, 'ro-'));
    const p = join(dir, 'b');
    writeFileSync(p, 'first');
    const before = statSync(dir, { bigint: true }).mtimeNs;
    expect(createExclusive(p, 'second', 0o600)).toBe(false);
    // A temporary file made and removed would have changed the directory's modification time.
    expect(statSync(dir, { bigint: true }).mtimeNs).toBe(before);
    expect(readFileSync(p, 'utf8')).toBe('first');
    expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a missing directory is an error (ENOENT), not a file somewhere else', () => {
    expect(() => createExclusive(join(root, 'no-such-dir', 'c'), 'x', 0o600)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  test('replicas starting at the same moment on one empty data directory: every one gets the same master key and credentials, none an error', async () => {
    // Four threads, 40 fresh directories, each round released at once by a shared barrier. With
    // open('wx') then write, a thread that lost the race read an empty master.key (ERR_KMS_MASTER_KEY_CORRUPT)
    // or an empty credentials.json (not valid JSON) in some rounds.
    const workers = 4;
    const dirs = Array.from({ length: 40 }, () => mkdtempSync(join(root, 'd-')));
    const barrier = new SharedArrayBuffer(4 * dirs.length);
    const results = await Promise.all(
      Array.from(
        { length: workers },
        () =>
          new Promise<{ key?: string; secret?: string; error?: string }[]>((resolve, reject) => {
            const w = new Worker(new URL('./fixtures/first-start-worker.ts', import.meta.url), { workerData: { dirs, barrier, workers } });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    for (let round = 0; round < dirs.length; round++) {
      const seen = results.map((r) => r[round]);
      expect(seen.filter((s) => s?.error !== undefined)).toEqual([]);
      expect(new Set(seen.map((s) => s?.key)).size).toBe(1);
      expect(new Set(seen.map((s) => s?.secret)).size).toBe(1);
      expect(readdirSync(dirs[round] as string).sort()).toEqual(['credentials.json', 'master.key']);
    }
  });
});
