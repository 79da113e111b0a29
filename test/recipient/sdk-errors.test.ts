// Every check of the enclave KMS client, the AWS SDK handler and the explain library refuses bad
// input with its own error code (no real KMS needed: scripted servers stand in for the parent).
import net from 'node:net';
import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptCommand, GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { httpOverStream, kmsClient, kmsHttpHandler } from '../../enclave/sdk/index.ts';
import { explain, explainInDataDir } from '../../kms-proxy/index.ts';
import type { NsmDevice } from '../../attestation/index.ts';
import { startFixture, type Fixture } from '../kms-proxy/helpers.ts';
import { device, openAuthority, random, type Authority } from './fixtures.ts';

let trusted: Authority;
let nsm: NsmDevice;
const servers: net.Server[] = [];
beforeAll(async () => {
  trusted = await openAuthority();
  nsm = await device(trusted.authority, 'A');
});
afterAll(() => {
  for (const s of servers) s.close();
  trusted.cleanup();
});

/** A parent that answers every request with `answer` (or never, when undefined). */
async function parent(answer: string | Buffer | undefined): Promise<number> {
  const s = net.createServer((c) => {
    c.on('error', () => undefined);
    c.once('data', () => {
      if (answer !== undefined) c.end(answer);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

function ctx(port: number) {
  return {
    nsm: { request: (b: Uint8Array) => nsm.process(b) },
    vsock: {
      connect: (_p: number) =>
        new Promise<Duplex>((resolve, reject) => {
          const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
          s.once('error', reject);
        }),
    },
  } as never;
}

const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
const json = (status: number, body: object) => {
  const b = JSON.stringify(body);
  return `HTTP/1.1 ${status} X\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
};

describe('kmsClient and httpOverStream checks', () => {
  it('arguments: port and region (ERR_KMS_CLIENT_ARGUMENT)', () => {
    expect(() => kmsClient(ctx(1), { port: -1, region: 'us-east-1', credentials: creds })).toThrow(expect.objectContaining({ code: 'ERR_KMS_CLIENT_ARGUMENT' }));
    expect(() => kmsClient(ctx(1), { port: 0xffffffff, region: 'us-east-1', credentials: creds })).toThrow(expect.objectContaining({ code: 'ERR_KMS_CLIENT_ARGUMENT' }));
    expect(() => kmsClient(ctx(1), { port: 8000, region: '', credentials: creds })).toThrow(expect.objectContaining({ code: 'ERR_KMS_CLIENT_ARGUMENT' }));
  });

  it('a header with a line break is refused before anything is sent (ERR_KMS_CLIENT_ARGUMENT)', async () => {
    const conn = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
    await expect(httpOverStream(conn, { method: 'POST', path: '/', headers: { 'x-evil': 'a\r\nHost: other' }, body: new Uint8Array() })).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_ARGUMENT' });
  });

  it('a parent that never answers: ERR_KMS_CLIENT_TRANSPORT after the timeout', async () => {
    const kms = kmsClient(ctx(await parent(undefined)), { port: 8000, region: 'us-east-1', credentials: creds, timeoutMs: 200 });
    await expect(kms.generateRandom(8)).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_TRANSPORT' });
  });

  it('an oversized answer (ERR_KMS_CLIENT_HTTP), a non-JSON answer (ERR_KMS_CLIENT_HTTP), an answer without the envelope (ERR_KMS_CLIENT_NOT_ATTESTED)', async () => {
    const huge = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n'), Buffer.alloc(3_000_000, 0x41)]);
    const k1 = kmsClient(ctx(await parent(huge)), { port: 8000, region: 'us-east-1', credentials: creds });
    await expect(k1.generateRandom(8)).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_HTTP' });
    const k2 = kmsClient(ctx(await parent('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{{{')), { port: 8000, region: 'us-east-1', credentials: creds });
    await expect(k2.generateRandom(8)).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_HTTP' });
    const k3 = kmsClient(ctx(await parent(json(200, { KeyId: 'k' }))), { port: 8000, region: 'us-east-1', credentials: creds });
    await expect(k3.decrypt(random(40))).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_NOT_ATTESTED' });
  });

  it('a KMS error keeps AWS\'s name, message and status (ERR_KMS_SERVICE)', async () => {
    const k = kmsClient(ctx(await parent(json(400, { __type: 'com.amazonaws.kms#NotFoundException', message: 'Key does not exist' }))), { port: 8000, region: 'us-east-1', credentials: creds });
    await expect(k.decrypt(random(40))).rejects.toMatchObject({ name: 'NotFoundException', message: 'Key does not exist', status: 400, code: 'ERR_KMS_SERVICE' });
  });
});

describe('kmsHttpHandler checks', () => {
  const sdk = (port: number) => new KMSClient({ region: 'us-east-1', credentials: creds, maxAttempts: 1, requestHandler: kmsHttpHandler(ctx(port), { port: 8000, region: 'us-east-1', credentials: creds }) });

  it('an answer with the plaintext in the clear is refused (ERR_KMS_CLIENT_NOT_ATTESTED)', async () => {
    const kms = sdk(await parent(json(200, { KeyId: 'k', Plaintext: Buffer.from('leak').toString('base64') })));
    await expect(kms.send(new DecryptCommand({ CiphertextBlob: random(40) }))).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_NOT_ATTESTED' });
  });

  it('an answer with neither plaintext nor envelope is refused (ERR_KMS_CLIENT_NOT_ATTESTED)', async () => {
    const kms = sdk(await parent(json(200, {})));
    await expect(kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_NOT_ATTESTED' });
  });

  it('a body that is not bytes or a string, and a body that is not JSON (ERR_KMS_CLIENT_ARGUMENT)', async () => {
    const h = kmsHttpHandler(ctx(1), { port: 8000, region: 'us-east-1', credentials: creds });
    const base = { method: 'POST', protocol: 'https:', hostname: 'kms.us-east-1.amazonaws.com', path: '/', query: {}, headers: { 'x-amz-target': 'TrentService.Decrypt' } };
    await expect(h.handle({ ...base, body: { not: 'bytes' } })).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_ARGUMENT' });
    await expect(h.handle({ ...base, body: '{not json' })).rejects.toMatchObject({ code: 'ERR_KMS_CLIENT_ARGUMENT' });
  });
});

describe('explain library checks', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture({ recipient: { trustAnchors: [trusted.authority.rootCertificate] } });
  });
  afterAll(async () => f.stop());

  it('bad action, bad principal, unknown key, missing store: KMS errors with their codes', async () => {
    const svc = f.server.service;
    await expect(explain(svc, { keyId: 'x', action: 'Decrypt; drop' })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    await expect(explain(svc, { keyId: 'x', action: 'kms:Decrypt', principal: 'bob' })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    // The whole ARN is checked, not its prefix: an empty or blank resource part is no principal.
    await expect(explain(svc, { keyId: 'x', action: 'kms:Decrypt', principal: 'arn:aws:iam::111122223333:' })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    await expect(explain(svc, { keyId: 'x', action: 'kms:Decrypt', principal: 'arn:aws:iam::111122223333:user/a b' })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    await expect(explain(svc, { keyId: '00000000-0000-0000-0000-000000000000', action: 'kms:Decrypt' })).rejects.toMatchObject({ code: 'ERR_KMS_NOT_FOUND' });
    await expect(explainInDataDir({ dataDir: `${f.dir}/nothing-here` }, { keyId: 'x', action: 'kms:Decrypt' })).rejects.toMatchObject({ code: 'ERR_KMS_NOT_FOUND' });
  });
});
