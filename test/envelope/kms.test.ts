// The KMS-backed provider against this project's KMS server (kms-proxy startKmsServer), through the
// unmodified AWS SDK: the aggregated `KMS` client directly, and a bare `KMSClient` through
// kmsClientMethods. KMS's own verdicts map to envelope codes: InvalidCiphertextException (context or
// blob changed) and IncorrectKeyException → ERR_ENVELOPE_TAMPERED; anything else → ERR_ENVELOPE_DATA_KEY.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, DisableKeyCommand, GenerateDataKeyCommand, KMS, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKmsServer, type KmsServer } from '../../kms-proxy/index.ts';
import {
  CachingMaterialsManager,
  decrypt,
  encrypt,
  KmsDataKeyProvider,
  kmsClientMethods,
  type KmsDataKeyClient,
} from '../../enclave/envelope/index.ts';
import { expectRefused, layout } from './helpers.ts';

let dir: string;
let server: KmsServer;
let kms: KMS;
let keyArn = '';
let keyId = '';
let otherArn = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'envelope-kms-'));
  server = await startKmsServer({ port: 0, host: '127.0.0.1', dataDir: dir });
  kms = new KMS({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: server.credential.accessKeyId, secretAccessKey: server.credential.secretAccessKey },
    maxAttempts: 1,
  });
  const k = await kms.send(new CreateKeyCommand({}));
  keyArn = k.KeyMetadata?.Arn ?? '';
  keyId = k.KeyMetadata?.KeyId ?? '';
  otherArn = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
});
afterAll(async () => {
  kms?.destroy();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const context = { app: 'envelope-test', tenant: 't1' };

/** The SDK's KMS class satisfies the provider's client interface as is (checked by tsc). */
const asClient = (k: KMS): KmsDataKeyClient => k;

describe('KmsDataKeyProvider over the AWS SDK', () => {
  test('GenerateDataKey (AES_256, context) → envelope → Decrypt (KeyId = ARN, context)', async () => {
    const provider = new KmsDataKeyProvider({ client: asClient(kms), keyId });
    const plaintext = Buffer.from('sensitive payload '.repeat(1000));
    const env = await encrypt(provider, context, plaintext, { frameSize: 4096 });
    const L = layout(env);
    expect(env.toString('utf8', L.edks[0]?.providerId.start, L.edks[0]?.providerId.end)).toBe('aws-kms');
    // The header names the full key ARN KMS reported, as the ESDK's KMS keyring does.
    expect(env.toString('utf8', L.edks[0]?.keyId.start, L.edks[0]?.keyId.end)).toBe(keyArn);
    const out = await decrypt(provider, env, { expectedContext: context });
    expect(out.plaintext.equals(plaintext)).toBe(true);
    // The encrypted data key is a KMS ciphertext the SDK can Decrypt by itself under the same context.
    const blob = env.subarray(L.edks[0]?.encryptedKey.start, L.edks[0]?.encryptedKey.end);
    const direct = await kms.decrypt({ CiphertextBlob: blob, EncryptionContext: context });
    expect(direct.Plaintext).toHaveLength(32);
    expect(direct.KeyId).toBe(keyArn);
  });

  test('a bare KMSClient works through kmsClientMethods', async () => {
    const bare = new KMSClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: server.credential.accessKeyId, secretAccessKey: server.credential.secretAccessKey },
      maxAttempts: 1,
    });
    try {
      const provider = new KmsDataKeyProvider({ client: kmsClientMethods(bare, { GenerateDataKeyCommand, DecryptCommand }), keyId: keyArn });
      const env = await encrypt(provider, context, Buffer.from('bare'));
      expect((await decrypt(provider, env)).plaintext.toString()).toBe('bare');
      // A new provider configured with the ARN decrypts it (strict mode allows its own ARN).
      const other = new KmsDataKeyProvider({ client: kmsClientMethods(bare, { GenerateDataKeyCommand, DecryptCommand }), keyId: keyArn });
      expect((await decrypt(other, env)).plaintext.toString()).toBe('bare');
    } finally {
      bare.destroy();
    }
  });

  test('KMS refuses a changed context or encrypted key: ERR_ENVELOPE_TAMPERED', async () => {
    const provider = new KmsDataKeyProvider({ client: kms, keyId: keyArn });
    const env = await encrypt(provider, context, Buffer.from('x'));
    const L = layout(env);
    const ctx = Buffer.from(env);
    const i = L.context.end - 1; // last byte of the last value: "t1" → "t0"
    ctx[i] = (ctx[i] as number) ^ 1;
    await expectRefused(provider, ctx, 'ERR_ENVELOPE_TAMPERED');
    const blob = Buffer.from(env);
    const j = (L.edks[0]?.encryptedKey.end ?? 0) - 5;
    blob[j] = (blob[j] as number) ^ 1;
    await expectRefused(provider, blob, 'ERR_ENVELOPE_TAMPERED');
  });

  test('strict key ids: an envelope naming another key is refused before KMS is asked; in discovery mode KMS refuses (IncorrectKey)', async () => {
    const provider = new KmsDataKeyProvider({ client: kms, keyId: keyArn });
    const env = await encrypt(provider, context, Buffer.from('x'));
    const L = layout(env);
    const renamed = Buffer.concat([
      env.subarray(0, L.edks[0]?.keyId.start),
      Buffer.from(otherArn),
      env.subarray(L.edks[0]?.keyId.end),
    ]);
    // Same length ARN, so the u16 length before it still holds.
    expect(otherArn.length).toBe(keyArn.length);
    await expectRefused(provider, renamed, 'ERR_ENVELOPE_DATA_KEY');
    const discovery = new KmsDataKeyProvider({ client: kms, keyId: keyArn, decryptKeyIds: 'any' });
    await expectRefused(discovery, renamed, 'ERR_ENVELOPE_TAMPERED');
    // A provider configured by bare key id knows the ARN only after its own GenerateDataKey.
    const fresh = new KmsDataKeyProvider({ client: kms, keyId });
    await expectRefused(fresh, env, 'ERR_ENVELOPE_DATA_KEY');
  });

  test('a disabled key: ERR_ENVELOPE_DATA_KEY with the KMS exception as cause', async () => {
    const k = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? '';
    const provider = new KmsDataKeyProvider({ client: kms, keyId: k });
    const env = await encrypt(provider, context, Buffer.from('x'));
    await kms.send(new DisableKeyCommand({ KeyId: k }));
    type Failure = Error & { code: string; cause?: { name?: string } };
    const e = (await decrypt(provider, env).then(() => undefined, (x: unknown) => x)) as Failure;
    expect(e.code).toBe('ERR_ENVELOPE_DATA_KEY');
    expect(e.cause?.name).toBe('DisabledException');
    const g = (await encrypt(provider, context, Buffer.from('x')).then(() => undefined, (x: unknown) => x)) as Failure;
    expect(g.code).toBe('ERR_ENVELOPE_DATA_KEY');
    expect(g.cause?.name).toBe('DisabledException');
  });

  test('through the cache: KMS calls counted, one GenerateDataKey and one Decrypt for many messages', async () => {
    const calls = { generate: 0, decrypt: 0 };
    const client: KmsDataKeyClient = {
      generateDataKey: (i) => (calls.generate++, kms.generateDataKey(i)),
      decrypt: (i) => (calls.decrypt++, kms.decrypt(i)),
    };
    const cmm = new CachingMaterialsManager({ provider: new KmsDataKeyProvider({ client, keyId: keyArn }), maxAge: 60_000, maxMessagesEncrypted: 10 });
    const envs = await Promise.all(Array.from({ length: 10 }, (_, i) => encrypt(cmm, context, Buffer.from(`m${i}`))));
    expect(calls.generate).toBe(1);
    const outs = await Promise.all(envs.map((e) => decrypt(cmm, e)));
    expect(outs.map((o) => o.plaintext.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(calls.decrypt).toBe(1);
    await encrypt(cmm, context, Buffer.from('eleventh'));
    expect(calls.generate).toBe(2);
  });
});
