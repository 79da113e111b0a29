// Independent client: the AWS Encryption SDK for JavaScript (@aws-crypto/client-node) with its KMS
// keyring pointed at this KMS, default commitment policy and algorithm suite (reference/kms.md,
// "AWS Encryption SDK for JavaScript against a custom endpoint").
import { randomBytes } from 'node:crypto';
// The keyring calls methods (generateDataKey, …), so it takes the aggregated `KMS` client class of
// @aws-sdk/client-kms rather than the bare KMSClient.
import { CreateKeyCommand, KMS } from '@aws-sdk/client-kms';
import { buildClient, getClient, getLocalCryptographicMaterialsCache, KmsKeyringNode, NodeCachingMaterialsManager } from '@aws-crypto/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFixture, type Fixture } from './helpers.ts';

let f: Fixture;
let generatorKeyId = '';
let extraKeyId = '';
let keyring: KmsKeyringNode;
const { encrypt, decrypt } = buildClient();
const creds = () => ({ accessKeyId: f.server.credential.accessKeyId, secretAccessKey: f.server.credential.secretAccessKey });

beforeAll(async () => {
  f = await startFixture();
  generatorKeyId = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
  extraKeyId = (await f.kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
  const clientProvider = getClient(KMS, { endpoint: f.server.endpoint, credentials: creds() });
  keyring = new KmsKeyringNode({ generatorKeyId, keyIds: [extraKeyId], clientProvider });
});
afterAll(async () => f.stop());

describe('AWS Encryption SDK', () => {
  test('encrypts and decrypts a 10 MiB message with a generator key and an extra key', async () => {
    const message = randomBytes(10 * 1024 * 1024);
    const { result, messageHeader } = await encrypt(keyring, message, { encryptionContext: { purpose: 'esdk-test' } });
    // Two encrypted data keys: GenerateDataKey on the generator, Encrypt on the extra key.
    expect(messageHeader.encryptedDataKeys.map((k) => k.providerInfo)).toEqual([generatorKeyId, extraKeyId]);
    expect(messageHeader.encryptionContext).toHaveProperty('aws-crypto-public-key');
    const out = await decrypt(keyring, result);
    expect(out.plaintext.equals(message)).toBe(true);
    expect(out.messageHeader.encryptionContext.purpose).toBe('esdk-test');
    // A keyring holding only the extra key also decrypts (Decrypt with KeyId = that ARN).
    const only = new KmsKeyringNode({ keyIds: [extraKeyId], clientProvider: getClient(KMS, { endpoint: f.server.endpoint, credentials: creds() }) });
    expect((await decrypt(only, result)).plaintext.equals(message)).toBe(true);
  });

  test('through the caching materials manager: one data key serves several messages', async () => {
    const cmm = new NodeCachingMaterialsManager({
      backingMaterials: keyring,
      cache: getLocalCryptographicMaterialsCache(10),
      maxAge: 60_000,
      maxBytesEncrypted: 100 * 1024 * 1024,
      maxMessagesEncrypted: 10,
    });
    const messages = [randomBytes(10 * 1024 * 1024), randomBytes(1000)];
    const results = [];
    for (const m of messages) results.push(await encrypt(cmm, m, { encryptionContext: { cached: 'yes' } }));
    const keys = results.map((r) => Buffer.from(r.messageHeader.encryptedDataKeys[0]?.encryptedDataKey ?? []).toString('base64'));
    expect(keys[0]).toBe(keys[1]);
    for (const [i, r] of results.entries()) expect((await decrypt(cmm, r.result)).plaintext.equals(messages[i] ?? Buffer.alloc(0))).toBe(true);
  });
});
