// The enclave SDK's KMS client and AWS SDK handler, in process: the NSM is a real device model from
// a sandbox authority, and `vsock.connect` is a TCP connection straight to the KMS (what the
// vsock-proxy provides). The real enclave path is test/e2e/.
import net from 'node:net';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, DeriveSharedSecretCommand, GetPublicKeyCommand, EncryptCommand, GenerateDataKeyCommand, GenerateDataKeyPairCommand, GenerateRandomCommand, KMS, KMSClient } from '@aws-sdk/client-kms';
import { buildClient, CommitmentPolicy, KmsKeyringNode, getClient } from '@aws-crypto/client-node';
import type { Duplex } from 'node:stream';
import { kmsClient, kmsHttpHandler, KmsClientError, KmsServiceError, httpOverStream } from '../../enclave/sdk/index.ts';
import type { NsmDevice } from '../../attestation/index.ts';
import { startFixture, type Fixture } from '../kms-proxy/helpers.ts';
import { allowForPcrs, denyWithoutAttestation, device, hexPcr, openAuthority, policy, random, type Authority } from './fixtures.ts';

const ACCOUNT = '111122223333';
const OPS = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair'];
let trusted: Authority;
let f: Fixture;
let port: number;
let nsmA: NsmDevice;
let nsmB: NsmDevice;
let keyArn: string;

function ctxFor(nsm: NsmDevice, connect: () => Promise<Duplex> = () => tcp(port)) {
  return { nsm: { request: (b: Uint8Array) => nsm.process(b) }, vsock: { connect: async (_p: number) => connect() } } as never;
}

function tcp(p: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: p, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

beforeAll(async () => {
  trusted = await openAuthority();
  f = await startFixture({ recipient: { trustAnchors: [trusted.authority.rootCertificate] } });
  port = Number(new URL(f.server.endpoint).port);
  nsmA = await device(trusted.authority, 'A');
  nsmB = await device(trusted.authority, 'B');
  keyArn = (await f.kms.send(new CreateKeyCommand({ Policy: policy(ACCOUNT, denyWithoutAttestation(ACCOUNT, OPS), allowForPcrs(ACCOUNT, OPS, { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })) }))).KeyMetadata?.Arn as string;
});
afterAll(async () => {
  await f.stop();
  trusted.cleanup();
});

const opts = () => ({ port: 8000, region: 'us-east-1', credentials: { accessKeyId: f.server.credential.accessKeyId, secretAccessKey: f.server.credential.secretAccessKey } });

describe('kmsClient (enclave SDK)', () => {
  it('decrypt / generateDataKey / generateDataKeyPair / generateRandom return plaintext opened inside', async () => {
    const kms = kmsClient(ctxFor(nsmA), opts());
    const secret = random(32);
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: secret, EncryptionContext: { purpose: 'test' } }))).CiphertextBlob as Uint8Array;
    const d = await kms.decrypt(blob, { encryptionContext: { purpose: 'test' } });
    expect(d.keyId).toBe(keyArn);
    expect(Buffer.from(d.plaintext).equals(Buffer.from(secret))).toBe(true);
    const dk = await kms.generateDataKey(keyArn);
    expect(dk.plaintext.length).toBe(32);
    expect(Buffer.from((await kms.decrypt(dk.ciphertextBlob)).plaintext).equals(Buffer.from(dk.plaintext))).toBe(true);
    const pair = await kms.generateDataKeyPair(keyArn, 'RSA_2048');
    const pub = createPublicKey(createPrivateKey({ key: Buffer.from(pair.privateKeyPlaintext), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(pub).equals(Buffer.from(pair.publicKey))).toBe(true);
    expect((await kms.generateRandom(64)).length).toBe(64);
  });

  it('another enclave is AccessDeniedException (KmsServiceError with AWS\'s name)', async () => {
    const kms = kmsClient(ctxFor(nsmB), opts());
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: random(16) }))).CiphertextBlob as Uint8Array;
    const e = await kms.decrypt(blob).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KmsServiceError);
    expect(e).toMatchObject({ name: 'AccessDeniedException', code: 'ERR_KMS_SERVICE', status: 400 });
  });

  it('refuses a response carrying plaintext in the clear (ERR_KMS_CLIENT_NOT_ATTESTED)', async () => {
    const liar = net.createServer((s) => {
      s.once('data', () => {
        const body = JSON.stringify({ KeyId: 'k', Plaintext: Buffer.from('leaked').toString('base64') });
        s.end(`HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      });
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    const kms = kmsClient(ctxFor(nsmA, () => tcp((liar.address() as net.AddressInfo).port)), opts());
    await expect(kms.decrypt(random(40))).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_NOT_ATTESTED' });
    liar.close();
  });

  it('transport failures are typed: refused connection, connection closed without a response', async () => {
    const refused = kmsClient({ nsm: { request: (b: Uint8Array) => nsmA.process(b) }, vsock: { connect: async () => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })) } } as never, opts());
    await expect(refused.generateRandom(8)).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_TRANSPORT' });
    const closer = net.createServer((s) => s.once('data', () => s.end()));
    await new Promise<void>((r) => closer.listen(0, '127.0.0.1', r));
    const kms = kmsClient(ctxFor(nsmA, () => tcp((closer.address() as net.AddressInfo).port)), opts());
    await expect(kms.generateRandom(8)).rejects.toBeInstanceOf(KmsClientError);
    closer.close();
  });

  it('httpOverStream reads chunked and Content-Length bodies and rejects malformed responses', async () => {
    const serve = (raw: string) => {
      const s = net.createServer((c) => c.once('data', () => c.end(raw)));
      return new Promise<net.Server>((r) => s.listen(0, '127.0.0.1', () => r(s)));
    };
    const req = { method: 'POST', path: '/', headers: { host: 'x' }, body: new Uint8Array([1]) };
    const chunked = await serve('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    const r = await httpOverStream(await tcp((chunked.address() as net.AddressInfo).port), req);
    expect(Buffer.from(r.body).toString()).toBe('abcde');
    const bad = await serve('SMTP ready\r\n\r\n');
    await expect(httpOverStream(await tcp((bad.address() as net.AddressInfo).port), req)).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_HTTP' });
    const badChunk = await serve('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    await expect(httpOverStream(await tcp((badChunk.address() as net.AddressInfo).port), req)).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_HTTP' });
    for (const s of [chunked, bad, badChunk]) s.close();
  });
});

describe('kmsHttpHandler: the unmodified AWS SDK and Encryption SDK inside an enclave', () => {
  const sdk = (nsm: NsmDevice) => new KMSClient({ region: 'us-east-1', credentials: opts().credentials, maxAttempts: 1, requestHandler: kmsHttpHandler(ctxFor(nsm), opts()) });

  it('adds Recipient transparently: Decrypt, GenerateDataKey, GenerateDataKeyPair, GenerateRandom answer plaintext to the app', async () => {
    const kms = sdk(nsmA);
    const secret = random(32);
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: secret }))).CiphertextBlob;
    const d = await kms.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(Buffer.from(d.Plaintext as Uint8Array).equals(Buffer.from(secret))).toBe(true);
    expect(d.CiphertextForRecipient).toBeUndefined();
    const g = await kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, NumberOfBytes: 32 }));
    expect(g.Plaintext?.length).toBe(32);
    const p = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keyArn, KeyPairSpec: 'ECC_NIST_P256' }));
    expect(p.PrivateKeyPlaintext?.length).toBeGreaterThan(0);
    expect((await kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))).Plaintext?.length).toBe(16);
    // Operations without Recipient pass through signed as the SDK signed them.
    expect((await kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: secret }))).CiphertextBlob?.length).toBeGreaterThan(0);
    kms.destroy();
  });

  it('DeriveSharedSecret: the secret arrives as SharedSecret, equal to the peer-side ECDH', async () => {
    const { generateKeyPairSync, diffieHellman } = await import('node:crypto');
    const ecKey = (await f.kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT', Policy: policy(ACCOUNT, allowForPcrs(ACCOUNT, ['kms:DeriveSharedSecret', 'kms:GetPublicKey'], { 'kms:RecipientAttestation:PCR0': hexPcr('A', 0) })) }))).KeyMetadata?.Arn as string;
    const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kms = sdk(nsmA);
    const r = await kms.send(new DeriveSharedSecretCommand({ KeyId: ecKey, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicKey.export({ type: 'spki', format: 'der' }) }));
    const pub = await f.kms.send(new GetPublicKeyCommand({ KeyId: ecKey }));
    const expected = diffieHellman({ privateKey: peer.privateKey, publicKey: createPublicKey({ key: Buffer.from(pub.PublicKey as Uint8Array), format: 'der', type: 'spki' }) });
    expect(Buffer.from(r.SharedSecret as Uint8Array).equals(expected)).toBe(true);
    expect(r.CiphertextForRecipient).toBeUndefined();
    kms.destroy();
  });

  it('the same code in another enclave gets AccessDeniedException from the SDK', async () => {
    const kms = sdk(nsmB);
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: random(8) }))).CiphertextBlob;
    await expect(kms.send(new DecryptCommand({ CiphertextBlob: blob }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    kms.destroy();
  });

  it('an app that passes its own Recipient gets CiphertextForRecipient untouched', async () => {
    const kms = sdk(nsmA);
    const doc = await nsmA.attestation({ publicKey: (await import('./fixtures.ts')).rsa.spki });
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: keyArn, Plaintext: random(8) }))).CiphertextBlob;
    const r = await kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: doc } }));
    expect(r.Plaintext).toBeUndefined();
    expect(r.CiphertextForRecipient?.length).toBeGreaterThan(0);
    kms.destroy();
  });

  it('the AWS Encryption SDK (KmsKeyringNode) encrypts and decrypts through it', async () => {
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const handler = kmsHttpHandler(ctxFor(nsmA), opts());
    const clientProvider = getClient(KMS, { credentials: opts().credentials, requestHandler: handler, maxAttempts: 1 } as never);
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, clientProvider });
    const message = random(1000);
    const { result } = await encrypt(keyring, message, { encryptionContext: { tenant: 'a' } });
    const { plaintext } = await decrypt(keyring, result);
    expect(createHash('sha256').update(plaintext).digest('hex')).toBe(createHash('sha256').update(message).digest('hex'));
  });
});
