// Other clients than the JavaScript SDK: the AWS CLI v2 and Python's boto3, both Debian's packages
// (awscli, python3-boto3; .ci/run installs them), run against the KMS with --endpoint-url /
// endpoint_url, the server's generated credential, and an empty private HOME whose AWS config says
// only the Region, so nothing of this machine's AWS setup takes part. A dozen everyday commands each:
// keys and aliases, fileb:// blobs, data keys, pagination, signatures checked with node:crypto, an
// error, a multi-Region key across two Regions, deletion.
//
// The tools missing fail the test in CI (CI, or NITRO_SANDBOX_REQUIRE_CLIENTS=1, which .ci/run sets)
// and skip it, with the reason, elsewhere.
import { execFile, execFileSync } from 'node:child_process';
import { createPublicKey, randomBytes, verify as verifySignature } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { auditRecords, startFixture, tempDir, type Fixture } from './helpers.ts';

// Debian's own binaries, by path: never a version management shim that may be first on PATH.
const AWS = '/usr/bin/aws';
const PYTHON = '/usr/bin/python3';
const SESSION = new URL('./boto3-session.py', import.meta.url).pathname;
const ACCOUNT = '111122223333';
const SYDNEY = 'ap-southeast-2';
/**
 * Each CLI call is a Python start that loads botocore (1–2 s on an idle machine); five of these tests
 * run at once, so on a loaded 2-core machine one took over a minute (CI, load 12). Generous limits:
 * a hung client still ends, through execFile's timeout, well before the test's.
 */
const CLIENT_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 300_000;

/** What is missing of each client, with its Debian package. */
function missing(): { readonly aws?: string; readonly boto3?: string } {
  let boto3: string | undefined;
  try {
    execFileSync(PYTHON, ['-c', 'import boto3'], { stdio: 'ignore', env: { PATH: '/usr/bin:/bin', PYTHONNOUSERSITE: '1' } });
  } catch {
    boto3 = `boto3 for ${PYTHON} is not installed (Debian package python3-boto3)`;
  }
  return { ...(existsSync(AWS) ? {} : { aws: `${AWS} is not installed (Debian package awscli)` }), ...(boto3 ? { boto3 } : {}) };
}
const MISSING = missing();
const REQUIRED = process.env.NITRO_SANDBOX_REQUIRE_CLIENTS === '1' || (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false');

/** Fails in CI, skips with the reason elsewhere, when the client a test drives is missing. */
function needTool(ctx: TestContext, tool: 'aws' | 'boto3'): void {
  const why = MISSING[tool];
  if (why === undefined) return;
  const fix = `${why}: apt-get install awscli python3-boto3`;
  if (REQUIRED) throw new Error(`${fix} (.ci/run installs them; they are required where CI or NITRO_SANDBOX_REQUIRE_CLIENTS=1 is set)`);
  ctx.skip(fix);
}

let f: Fixture;
let sydney: KMSClient;
let home: string;
let env: NodeJS.ProcessEnv;
/** The boto3 session, started with the CLI's tests so that the two overlap. */
let session: Promise<Run> | undefined;

beforeAll(async () => {
  f = await startFixture({ regions: ['us-east-1', 'eu-west-1', SYDNEY], transientStateMs: 0 });
  sydney = new KMSClient({ endpoint: f.server.endpoint, region: SYDNEY, credentials: f.server.credential, maxAttempts: 1 });
  home = tempDir('kms-clients-home-');
  mkdirSync(join(home, '.aws'), { mode: 0o700 });
  // The only configuration the clients see: the Region and JSON output, no profile, no pager.
  writeFileSync(join(home, '.aws', 'config'), '[default]\nregion = us-east-1\noutput = json\ncli_pager =\n', { mode: 0o600 });
  env = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: f.server.credential.accessKeyId,
    AWS_SECRET_ACCESS_KEY: f.server.credential.secretAccessKey,
    AWS_CONFIG_FILE: join(home, '.aws', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'),
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    PYTHONNOUSERSITE: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  if (MISSING.boto3 === undefined) session = run(PYTHON, [SESSION], { KMS_ENDPOINT: f.server.endpoint });
});
afterAll(async () => {
  await session;
  sydney.destroy();
  await f.stop();
  rmSync(home, { recursive: true, force: true });
}, TEST_TIMEOUT_MS);

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

function run(file: string, args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: home, env: { ...env, ...extraEnv }, timeout: CLIENT_TIMEOUT_MS, maxBuffer: 1 << 20 }, (e, out, err) => {
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : -1;
      resolve({ code, out, err });
    });
  });
}

/** `aws <args> --endpoint-url …`; the JSON it prints, failing with its stderr when it exits non-zero. */
async function aws(...args: string[]): Promise<Record<string, any>> {
  const r = await run(AWS, [...args, '--endpoint-url', f.server.endpoint]);
  if (r.code !== 0) throw new Error(`aws ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out.trim() === '' ? {} : (JSON.parse(r.out) as Record<string, any>);
}

const blob = (b64: string) => Buffer.from(b64, 'base64');

// The CLI's tests are independent of each other and run concurrently: each is a few process starts.
describe.concurrent('AWS CLI v2 (Debian awscli)', () => {
  test('create-key with tags, create-alias, describe-key, schedule-key-deletion: the JSON AWS prints, ISO 8601 dates', async (ctx) => {
    needTool(ctx, 'aws');
    const created = (await aws('kms', 'create-key', '--description', 'made by the AWS CLI', '--tags', 'TagKey=client,TagValue=aws-cli')).KeyMetadata;
    const keyId = created.KeyId as string;
    expect(created).toMatchObject({ Arn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`, AWSAccountId: ACCOUNT, Description: 'made by the AWS CLI', KeyState: 'Enabled', Enabled: true, KeySpec: 'SYMMETRIC_DEFAULT', MultiRegion: false });
    const sdk = (await f.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    expect(new Date(created.CreationDate).getTime()).toBe(sdk?.CreationDate?.getTime());
    expect(created.CreationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
    expect(await aws('kms', 'create-alias', '--alias-name', 'alias/aws-cli', '--target-key-id', keyId)).toEqual({});
    expect((await aws('kms', 'describe-key', '--key-id', 'alias/aws-cli')).KeyMetadata.KeyId).toBe(keyId);
    const scheduled = await aws('kms', 'schedule-key-deletion', '--key-id', keyId, '--pending-window-in-days', '7');
    expect(scheduled).toMatchObject({ KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    const pending = (await f.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    expect(new Date(scheduled.DeletionDate).getTime()).toBe(pending?.DeletionDate?.getTime());
  }, TEST_TIMEOUT_MS);

  test('encrypt and decrypt with fileb:// blobs (every byte value), generate-data-key', async (ctx) => {
    needTool(ctx, 'aws');
    const keyId = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    const plaintext = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));
    writeFileSync(join(home, 'plain.bin'), plaintext);
    const encrypted = await aws('kms', 'encrypt', '--key-id', keyId, '--plaintext', 'fileb://plain.bin', '--encryption-context', 'purpose=test');
    expect(encrypted.KeyId).toBe(`arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`);
    writeFileSync(join(home, 'cipher.bin'), blob(encrypted.CiphertextBlob));
    const decrypted = await aws('kms', 'decrypt', '--ciphertext-blob', 'fileb://cipher.bin', '--encryption-context', 'purpose=test');
    expect(blob(decrypted.Plaintext).equals(plaintext)).toBe(true);
    const dataKey = await aws('kms', 'generate-data-key', '--key-id', keyId, '--key-spec', 'AES_256');
    expect(blob(dataKey.Plaintext).length).toBe(32);
    expect(blob(dataKey.CiphertextBlob).subarray(0, 3).toString()).toBe('NSK');
  }, TEST_TIMEOUT_MS);

  test('pagination: list-keys follows NextMarker page by page (--page-size), list-aliases resumes from its NextToken', async (ctx) => {
    needTool(ctx, 'aws');
    // A Region of its own, so that the other tests, running meanwhile, add nothing to its listings.
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const k = (await sydney.send(new CreateKeyCommand({ Description: `page ${i}` }))).KeyMetadata?.KeyId ?? '';
      await sydney.send(new CreateAliasCommand({ AliasName: `alias/page-${i}`, TargetKeyId: k }));
      made.push(k);
    }
    const listed = await aws('kms', 'list-keys', '--region', SYDNEY, '--page-size', '2');
    expect(listed.Keys.map((k: { KeyId: string }) => k.KeyId)).toEqual(made);
    // One request per page of two: the CLI sent each NextMarker back as Marker (CloudTrail names
    // request parameters in lower camel case).
    const requests = (await auditRecords(f.server, f.dir)).filter((r) => r.eventName === 'ListKeys' && r.awsRegion === SYDNEY && String(r.userAgent).startsWith('aws-cli/')).map((r) => r.requestParameters as { limit?: number; marker?: string });
    expect(requests.map((r) => [r.limit, typeof r.marker])).toEqual([[2, 'undefined'], [2, 'string'], [2, 'string']]);
    const first = await aws('kms', 'list-aliases', '--region', SYDNEY, '--max-items', '3');
    expect(first.Aliases.map((a: { AliasName: string }) => a.AliasName)).toEqual(['alias/page-0', 'alias/page-1', 'alias/page-2']);
    const rest = await aws('kms', 'list-aliases', '--region', SYDNEY, '--max-items', '3', '--starting-token', first.NextToken);
    expect(rest.Aliases.map((a: { AliasName: string; TargetKeyId: string }) => [a.AliasName, a.TargetKeyId])).toEqual([['alias/page-3', made[3]], ['alias/page-4', made[4]]]);
    expect(rest.NextToken).toBeUndefined();
  }, TEST_TIMEOUT_MS);

  test('sign a fileb:// message, the signature checked by node:crypto with the public key; an error exits 254 with AWS\'s message', async (ctx) => {
    needTool(ctx, 'aws');
    const signing = (await f.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata?.KeyId ?? '';
    const message = randomBytes(100);
    writeFileSync(join(home, 'message.bin'), message);
    const signed = await aws('kms', 'sign', '--key-id', signing, '--message', 'fileb://message.bin', '--message-type', 'RAW', '--signing-algorithm', 'ECDSA_SHA_256');
    const pub = await aws('kms', 'get-public-key', '--key-id', signing);
    const key = createPublicKey({ key: blob(pub.PublicKey), format: 'der', type: 'spki' });
    expect(verifySignature('sha256', message, key, blob(signed.Signature))).toBe(true);
    const failed = await run(AWS, ['kms', 'describe-key', '--key-id', 'alias/does-not-exist', '--endpoint-url', f.server.endpoint]);
    // The CLI's exit status for a service error, and the error as the service sent it.
    expect(failed.code).toBe(254);
    expect(failed.out).toBe('');
    expect(failed.err.trim()).toBe(`An error occurred (NotFoundException) when calling the DescribeKey operation: Alias arn:aws:kms:us-east-1:${ACCOUNT}:alias/does-not-exist is not found.`);
  }, TEST_TIMEOUT_MS);

  test('a multi-Region key: create-key --multi-region, replicate-key, decrypt with --region eu-west-1', async (ctx) => {
    needTool(ctx, 'aws');
    const mrk = (await aws('kms', 'create-key', '--multi-region')).KeyMetadata;
    expect(mrk.KeyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    writeFileSync(join(home, 'mrk-plain.bin'), 'across Regions');
    writeFileSync(join(home, 'mrk-cipher.bin'), blob((await aws('kms', 'encrypt', '--key-id', mrk.KeyId, '--plaintext', 'fileb://mrk-plain.bin')).CiphertextBlob));
    const replica = await aws('kms', 'replicate-key', '--key-id', mrk.KeyId, '--replica-region', 'eu-west-1', '--description', 'replica by the CLI');
    expect(replica.ReplicaKeyMetadata).toMatchObject({ Arn: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${mrk.KeyId}`, Description: 'replica by the CLI', MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Region: 'us-east-1' } } });
    const west = await aws('kms', 'decrypt', '--region', 'eu-west-1', '--ciphertext-blob', 'fileb://mrk-cipher.bin');
    expect(west.KeyId).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/${mrk.KeyId}`);
    expect(blob(west.Plaintext).toString()).toBe('across Regions');
  }, TEST_TIMEOUT_MS);
});

describe('boto3 (Debian python3-boto3)', () => {
  test('a Python service\'s calls in one interpreter: keys, aliases, bytes, data keys, paginator, tags, signatures, a modeled error, a multi-Region key, deletion', async (ctx) => {
    needTool(ctx, 'boto3');
    const r = await (session ?? run(PYTHON, [SESSION], { KMS_ENDPOINT: f.server.endpoint }));
    if (r.code !== 0) throw new Error(`boto3 session exited ${r.code}: ${r.err}`);
    const o = JSON.parse(r.out) as Record<string, any>;
    const keyId = o.create_key.KeyId as string;
    const arn = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`;
    expect(o.create_key).toMatchObject({ Arn: arn, KeyState: 'Enabled', Description: 'boto3 key', MultiRegion: false });
    // botocore parsed the epoch-seconds timestamp into the instant the KMS recorded.
    const sdk = (await f.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    expect(new Date(o.create_key.CreationDate).getTime()).toBe(sdk?.CreationDate?.getTime());
    expect(o.describe_key).toBe(arn);
    expect(o.decrypt).toEqual({ KeyId: arn, same: true });
    expect(o.generate_data_key).toEqual({ length: 32, decrypts: true });
    expect(o.list_keys.keys).toContain(keyId);
    expect(new Set(o.list_keys.keys).size).toBe(o.list_keys.keys.length);
    expect(o.list_keys.pages).toBe(Math.ceil(o.list_keys.keys.length / 2));
    expect(o.list_keys.truncated.at(-1)).toBe(false);
    expect(o.list_aliases).toEqual(['alias/boto3']);
    expect(o.list_resource_tags).toEqual([{ TagKey: 'client', TagValue: 'boto3' }, { TagKey: 'stage', TagValue: 'test' }]);
    const pub = createPublicKey({ key: blob(o.sign.public_key), format: 'der', type: 'spki' });
    expect(verifySignature('sha256', Buffer.from('signed by boto3'), pub, blob(o.sign.signature))).toBe(true);
    expect(o.sign.verified).toBe(true);
    expect(o.error).toEqual({ class: 'NotFoundException', code: 'NotFoundException', message: `Alias arn:aws:kms:us-east-1:${ACCOUNT}:alias/does-not-exist is not found.`, status: 400 });
    expect(o.replicate_key).toMatchObject({ type: 'REPLICA', primary: 'us-east-1' });
    expect(o.replicate_key.Arn).toMatch(new RegExp(`^arn:aws:kms:eu-west-1:${ACCOUNT}:key/mrk-[0-9a-f]{32}$`));
    expect(o.cross_region_decrypt).toBe('across Regions');
    expect(o.schedule_key_deletion).toMatchObject({ KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(new Date(o.schedule_key_deletion.DeletionDate).getTime() - (sdk?.CreationDate?.getTime() ?? 0)).toBeGreaterThanOrEqual(7 * 86_400_000);
  }, TEST_TIMEOUT_MS);
});
