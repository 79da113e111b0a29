// `kms serve --store postgres://… --data-dir D --port P`, as issue 17 starts replicas: two processes
// with the same store and the same data directory and nothing else, serving as one KMS. The data
// directory is only read once the first has made its master key and credential (nothing else is
// written there, no lock keeps the second out); each replica's audit chain goes to the default
// audit directory under its default id (host name and port), and `kms audit verify --store` checks
// both.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, expect, test } from 'vitest';
import { main } from '../../host/cli/main.ts';
import { postgresDatabase } from '../support/pg-database.ts';
import { freePort } from '../support/postgres.ts';
import { tempDir } from './helpers.ts';

const bin = fileURLToPath(new URL('../../bin/nitro-sandbox.js', import.meta.url));
const home = tempDir('kms-replicas-cli-');
const children: ChildProcess[] = [];
afterAll(async () => {
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => (c.once('exit', r), c.kill('SIGTERM'))))));
  rmSync(home, { recursive: true, force: true });
});

const env = { ...process.env, NITRO_SANDBOX_HOME: home };

/** `kms serve` with `args`; resolves with what it printed once it serves. */
async function serve(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [bin, 'kms', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('audit public key:') && out.endsWith('\n')) resolve();
    });
    child.once('exit', (c) => reject(new Error(`kms serve exited ${c}: ${out}${err}`)));
  });
  return out;
}

async function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, out };
}

function snapshot(dir: string): string[] {
  return readdirSync(dir).sort().map((f) => `${f} ${statSync(join(dir, f)).mtimeMs}`);
}

test('two `kms serve --store URL --data-dir D --port P` on one database and one data directory serve as one KMS; D is only read; the audit trail verifies', async () => {
  const url = await postgresDatabase();
  const data = join(home, 'shared-secret');
  const [p1, p2] = [await freePort(), await freePort()];
  const first = await serve(['--store', url, '--data-dir', data, '--port', String(p1)]);
  // The first start on an empty database makes the shared secret: the master key and a credential.
  expect(readdirSync(data).sort()).toEqual(['credentials.json', 'master.key']);
  const before = snapshot(data);
  const second = await serve(['--store', url, '--data-dir', data, '--port', String(p2)]);
  const cred = (out: string) => ({ accessKeyId: /AWS_ACCESS_KEY_ID=(\S+)/.exec(out)?.[1] ?? '', secretAccessKey: /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(out)?.[1] ?? '' });
  expect(cred(second)).toEqual(cred(first));
  const replica = (out: string) => /audit replica (\S+) in (\S+)/.exec(out)?.slice(1);
  const [r1, auditDir] = replica(first) ?? [];
  const [r2] = replica(second) ?? [];
  expect(r1).toMatch(new RegExp(`-${p1}$`));
  expect(r2).toMatch(new RegExp(`-${p2}$`));
  expect(auditDir).toBe(join(home, 'kms-audit'));
  expect(first).not.toContain('//kms:kms-test-password@');

  const a = new KMSClient({ endpoint: `http://127.0.0.1:${p1}`, region: 'us-east-1', credentials: cred(first), maxAttempts: 1 });
  const b = new KMSClient({ endpoint: `http://127.0.0.1:${p2}`, region: 'us-east-1', credentials: cred(first), maxAttempts: 1 });
  try {
    const keyId = (await a.send(new CreateKeyCommand({ Description: 'made on the first' }))).KeyMetadata?.KeyId;
    expect((await b.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.Description).toBe('made on the first');
  } finally {
    a.destroy();
    b.destroy();
  }
  // Nothing was written to the shared data directory after the first start: no store, no lock, no log.
  expect(snapshot(data)).toEqual(before);
  expect(readdirSync(join(home, 'kms-audit', 'audit')).sort()).toEqual([r1, r2].sort());

  const verified = await run(['kms', 'audit', 'verify', '--data-dir', data, '--store', url]);
  expect(verified.out).toContain(`replica ${r1}: intact`);
  expect(verified.out).toContain(`replica ${r2}: intact`);
  expect(verified.code).toBe(0);
});

test('kms serve: --audit-dir and --replica only with --store; --store only a postgres:// URL (usage errors, exit 2)', async () => {
  // An unusable data directory, so a check that lets these through fails fast instead of serving.
  const nowhere = ['--port', '0', '--data-dir', '/dev/null/kms'];
  for (const [args, reason] of [
    [['--audit-dir', home], '--audit-dir and --replica are for replicas on a shared store (--store)'],
    [['--replica', 'r1'], '--audit-dir and --replica are for replicas on a shared store (--store)'],
    [['--store', 'mysql://x@y/z'], '--store must be a postgres:// URL'],
  ] as const) {
    let err = '';
    expect(await main(['kms', 'serve', ...nowhere, ...args], { out: () => undefined, err: (t) => (err += t) })).toBe(2);
    expect(err).toContain(reason);
  }
});
