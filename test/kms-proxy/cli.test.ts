// `nitro-sandbox kms serve`: prints its endpoint and credential, serves signed requests, stops
// cleanly on SIGTERM; usage errors exit 2.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, expect, test } from 'vitest';
import { createKmsApp } from '../../kms-proxy/index.ts';
import { main } from '../../host/cli/main.ts';
import { tempDir } from './helpers.ts';
import { signedRequest } from './sign.ts';

const dir = tempDir('kms-cli-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = fileURLToPath(new URL('../../bin/nitro-sandbox.js', import.meta.url));

test('kms serve prints endpoint and credential, accepts --credentials and --limit, serves the SDK, exits 0 on SIGTERM', async () => {
  const data = join(dir, 'kms');
  const partnerFile = join(dir, 'partner.yaml');
  const partner = { accessKeyId: 'AKIAPARTNERCLI000001', secretAccessKey: 'partner-cli-secret' };
  writeFileSync(partnerFile, `- accessKeyId: ${partner.accessKeyId}\n  secretAccessKey: ${partner.secretAccessKey}\n  principalArn: arn:aws:iam::444455556666:user/partner\n`);
  const child = spawn(process.execPath, [bin, 'kms', 'serve', '--port', '0', '--data-dir', data, '--credentials', partnerFile, '--limit', 'keys-per-account=1', '--region', 'us-east-1', '--region', 'eu-west-1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('AWS_SECRET_ACCESS_KEY=')) resolve();
    });
    child.once('exit', (c) => reject(new Error(`exited ${c}: ${out}`)));
  });
  const endpoint = /KMS listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
  const accessKeyId = /AWS_ACCESS_KEY_ID=(\S+)/.exec(out)?.[1] ?? '';
  const secretAccessKey = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(out)?.[1] ?? '';
  expect(out).toContain('(new: credential generated)');
  expect(statSync(join(data, 'credentials.json')).mode & 0o777).toBe(0o600);
  expect(out).toContain('(regions us-east-1, eu-west-1; account 111122223333)');
  const kms = new KMSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
  expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual([]);
  kms.destroy();
  // Every --region is served: a key made in eu-west-1 is listed there.
  const west = new KMSClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId, secretAccessKey } });
  const made = (await west.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
  expect(made).toMatch(/^arn:aws:kms:eu-west-1:111122223333:key\//);
  expect((await west.send(new ListKeysCommand({}))).Keys?.map((k) => k.KeyArn)).toEqual([made]);
  west.destroy();
  expect(out).toContain('1 more credential(s) accepted; accounts 111122223333, 444455556666');
  // The partner's key is in its own account, and its account may have only one.
  const p = new KMSClient({ endpoint, region: 'us-east-1', credentials: partner, maxAttempts: 1 });
  expect((await p.send(new CreateKeyCommand({}))).KeyMetadata?.AWSAccountId).toBe('444455556666');
  await expect(p.send(new CreateKeyCommand({}))).rejects.toMatchObject({ name: 'LimitExceededException' });
  p.destroy();
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
  expect(code).toBe(0);
});

test('usage errors exit 2 with the reason', async () => {
  let err = '';
  const io = { out: () => undefined, err: (t: string) => (err += t) };
  expect(await main(['kms', 'serve', '--account', 'abc'], io)).toBe(2);
  expect(err).toContain('--account must be 12 digits');
  expect(await main(['kms', 'serve', '--port', '70000'], io)).toBe(2);
  expect(await main(['kms', 'serve', '--bogus'], io)).toBe(2);
  expect(await main(['kms', 'serve', '--quota', 'crypto=5'], io)).toBe(2);
  expect(err).toContain("--quota must look like cryptographic=10000 or write=50:100, got 'crypto=5'");
  // An unusable data directory, so a check that lets these through fails fast instead of serving.
  const nowhere = ['--port', '0', '--data-dir', '/dev/null/kms'];
  expect(await main(['kms', 'serve', ...nowhere, '--quota', 'write=50:0'], io)).toBe(2);
  expect(err).toContain("got 'write=50:0'");
  expect(await main(['kms', 'serve', ...nowhere, '--quota', 'write=0'], io)).toBe(2);
  expect(err).toContain("got 'write=0'");
  expect(await main(['kms', 'serve', ...nowhere, '--region', 'nowhere'], io)).toBe(2);
  expect(err).toContain("--region does not look like an AWS region: 'nowhere'");
  expect(await main(['kms', 'serve', '--limit', 'keys=5'], io)).toBe(2);
  expect(err).toContain("--limit must look like keys-per-account=100000 (keys-per-account, aliases-per-key, grants-per-key; at least 1), got 'keys=5'");
  expect(await main(['kms', 'serve', '--limit', 'grants-per-key=0'], io)).toBe(2);
  let help = '';
  expect(await main(['kms', 'serve', '--help'], { out: (t) => (help += t), err: () => undefined })).toBe(0);
  expect(help).toContain('--allow-anonymous');
  expect(help).toContain('--credentials FILE');
  expect(help).toContain('allowedActions');
});

test('kms serve on a store whose master.key is missing exits 1 naming the fix, and writes no new key', async () => {
  const data = join(dir, 'lost-key');
  mkdirSync(data);
  const k = await createKmsApp({ dataDir: data });
  await k.close();
  unlinkSync(join(data, 'master.key'));
  let err = '';
  expect(await main(['kms', 'serve', '--port', '0', '--data-dir', data], { out: () => undefined, err: (t) => (err += t) })).toBe(1);
  expect(err).toMatch(/^nitro-sandbox kms serve: ERR_KMS_MASTER_KEY_MISSING: The key store .*kms\.sqlite exists but its master key .*master\.key is missing\. Restore master\.key from a backup/);
  expect(() => statSync(join(data, 'master.key'))).toThrow();
});

test('without --data-dir the kms commands use kms/ under $NITRO_SANDBOX_HOME, as the rest of the sandbox does', async () => {
  const home = join(dir, 'home');
  const k = await createKmsApp({ dataDir: join(home, 'kms') });
  const cred = k.credentials[0];
  if (!cred) throw new Error('no credential');
  const { url, init } = await signedRequest(cred, '{}', { target: 'TrentService.ListKeys' });
  expect((await k.app.request(url, init)).status).toBe(200);
  await k.close();
  const saved = process.env.NITRO_SANDBOX_HOME;
  process.env.NITRO_SANDBOX_HOME = home;
  try {
    let out = '';
    expect(await main(['kms', 'audit', 'verify'], { out: (t) => (out += t), err: () => undefined })).toBe(0);
    expect(out).toMatch(/^replica local: intact, 2 records in 1 segment\naudit log intact: 2 records, signed by ed25519:[A-Za-z0-9_-]{43}\n$/);
  } finally {
    if (saved === undefined) delete process.env.NITRO_SANDBOX_HOME;
    else process.env.NITRO_SANDBOX_HOME = saved;
  }
});
