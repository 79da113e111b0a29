// Request quotas: per-account token buckets; an empty bucket answers ThrottlingException, which the
// SDK's retry strategy backs off from and recovers (KMS Developer Guide, "Request quotas").
import { EncryptCommand, CreateKeyCommand, KMSServiceException, ReplicateKeyCommand, UnsupportedOperationException, NotFoundException, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { client, failure, startFixture, type Fixture } from './helpers.ts';

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
  expect(await failure(() => f.kms.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' })))).toBeInstanceOf(UnsupportedOperationException);
  expect(await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' })))).toBeInstanceOf(NotFoundException);
});
