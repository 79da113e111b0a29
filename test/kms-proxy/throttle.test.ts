// Request quotas: per-account token buckets; an empty bucket answers ThrottlingException, which the
// SDK's retry strategy backs off from and recovers (KMS Developer Guide, "Request quotas").
import { EncryptCommand, CreateKeyCommand, KMSServiceException, DeleteCustomKeyStoreCommand, UnsupportedOperationException, NotFoundException, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createKmsApp, type KmsOptions } from '../../kms-proxy/index.ts';
import { client, failure, startFixture, tempDir, type Fixture } from './helpers.ts';

let f: Fixture;
let keyId = '';
beforeAll(async () => {
  f = await startFixture({ quotas: { cryptographic: { rate: 20, burst: 5 } } });
  keyId = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
});
afterAll(async () => f.stop());

test('past the burst, cryptographic calls get ThrottlingException with AWS\'s message; other quotas are separate', async () => {
  // A slow bucket (1/s) so that the machine's speed cannot refill it during the burst.
  const slow = await startFixture({ quotas: { cryptographic: { rate: 1, burst: 5 } } });
  const id = (await slow.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
  const results = await Promise.allSettled(Array.from({ length: 12 }, () => slow.kms.send(new EncryptCommand({ KeyId: id, Plaintext: Buffer.from('x') }))));
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
  // Management calls draw from another bucket and still pass.
  await slow.kms.send(new DescribeKeyCommand({ KeyId: id }));
  await slow.stop();
  expect(rejected.length).toBeGreaterThanOrEqual(5);
  // ThrottlingException is not modeled in kms-2014-11-01: the SDK raises its service exception
  // named after __type, and its retry strategy classifies it as throttling.
  expect(rejected[0]).toBeInstanceOf(KMSServiceException);
  expect(rejected[0]?.name).toBe('ThrottlingException');
  expect(rejected[0]?.message).toBe('You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.');
});

test('the SDK\'s standard retry backs off and every call eventually succeeds', async () => {
  const retrying = client(f.server, f.server.credential, 10);
  try {
    const out = await Promise.all(Array.from({ length: 15 }, () => retrying.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))));
    expect(out.every((o) => o.CiphertextBlob !== undefined)).toBe(true);
    expect(Math.max(...out.map((o) => o.$metadata.attempts ?? 1))).toBeGreaterThan(1);
  } finally {
    retrying.destroy();
  }
});

test('the SDK raises its own exception classes: UnsupportedOperationException for a model operation not implemented, NotFoundException', async () => {
  expect(await failure(() => f.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: 'cks-1234567890abcdef0' })))).toBeInstanceOf(UnsupportedOperationException);
  expect(await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' })))).toBeInstanceOf(NotFoundException);
});

test.each([
  ['a rate of 0', { write: { rate: 0 } }, 'quotas.write.rate must be a positive finite number, got 0'],
  ['a negative rate', { list: { rate: -5 } }, 'quotas.list.rate must be a positive finite number, got -5'],
  ['a NaN rate', { cryptographic: { rate: Number.NaN } }, 'quotas.cryptographic.rate must be a positive finite number, got NaN'],
  ['an infinite rate', { cryptographic: { rate: Number.POSITIVE_INFINITY } }, 'quotas.cryptographic.rate must be a positive finite number, got Infinity'],
  ['a rate that is a string', { random: { rate: '100' } }, 'quotas.random.rate must be a positive finite number, got 100'],
  ['no rate', { management: {} }, 'quotas.management.rate must be a positive finite number, got undefined'],
  ['a burst of 0', { write: { rate: 10, burst: 0 } }, 'quotas.write.burst must be at least 1, got 0'],
  ['a negative burst', { write: { rate: 10, burst: -1 } }, 'quotas.write.burst must be at least 1, got -1'],
  ['a NaN burst', { write: { rate: 10, burst: Number.NaN } }, 'quotas.write.burst must be a finite number, got NaN'],
  ['a burst that is a string', { write: { rate: 10, burst: '5' } }, 'quotas.write.burst must be a finite number, got 5'],
  ['a fractional rate with the default burst (below one token)', { write: { rate: 0.5 } }, 'quotas.write.burst must be at least 1 (it defaults to the rate, 0.5)'],
  ['a quota that is not an object', { write: 10 }, 'quotas.write must be { rate, burst? }, got 10'],
  ['an unknown group', { crypto: { rate: 10 } }, "quotas: unknown group 'crypto' (cryptographic, random, management, list, write)"],
])('quotas with %s are refused with ValidationException before the data directory is touched (a bucket that could never hold a token refuses every call)', async (_what, quotas, message) => {
  const parent = tempDir('kms-quota-');
  const dataDir = join(parent, 'data');
  try {
    await expect(createKmsApp({ dataDir, quotas: quotas as unknown as KmsOptions['quotas'] })).rejects.toMatchObject({ name: 'KmsError', code: 'ERR_KMS_VALIDATION', awsName: 'ValidationException', message });
    expect(existsSync(dataDir)).toBe(false);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a fractional rate with a burst of at least one token is accepted (one call every two seconds)', async () => {
  const dataDir = tempDir('kms-quota-');
  try {
    const app = await createKmsApp({ dataDir, quotas: { write: { rate: 0.5, burst: 1 } } });
    await app.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
