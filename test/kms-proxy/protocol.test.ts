// awsJson1_1 protocol and SigV4 authentication, tested in-process with hono's app.request():
// reference/kms.md "Protocol"; AWS General Reference "Signature Version 4".
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKmsApp, MAX_BODY_BYTES, type KmsApp } from '../../kms-proxy/index.ts';
import { tempDir } from './helpers.ts';
import { signedRequest } from './sign.ts';

const now = Date.UTC(2026, 0, 15, 12, 0, 0);
let k: KmsApp;
let dir: string;
let anon: KmsApp;
let anonDir: string;

beforeAll(async () => {
  dir = tempDir();
  k = await createKmsApp({ dataDir: dir, clock: () => now, authClock: () => now });
  anonDir = tempDir();
  anon = await createKmsApp({ dataDir: anonDir, allowAnonymous: true });
});
afterAll(async () => {
  await k.close();
  await anon.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(anonDir, { recursive: true, force: true });
});

function cred() {
  const c = k.credentials[0];
  if (!c) throw new Error('no credential');
  return c;
}

async function call(target: string, body: string | Uint8Array, opts: { date?: Date; secret?: string; accessKeyId?: string } = {}) {
  const { url, init } = await signedRequest(
    { accessKeyId: opts.accessKeyId ?? cred().accessKeyId, secretAccessKey: opts.secret ?? cred().secretAccessKey },
    body,
    { target: `TrentService.${target}`, date: opts.date ?? new Date(now) },
  );
  const res = await k.app.request(url, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
}

describe('awsJson1_1 errors', () => {
  test('malformed JSON → 400 SerializationException, shaped {"__type","message"} with no code member', async () => {
    const r = await call('GenerateRandom', '{"NumberOfBytes": 3');
    expect(r.status).toBe(400);
    expect(r.body.__type).toBe('SerializationException');
    expect(Object.keys(r.body).sort()).toEqual(['__type', 'message']);
    expect(r.headers.get('content-type')).toBe('application/x-amz-json-1.1');
  });

  test('a JSON value of the wrong type → SerializationException', async () => {
    expect((await call('GenerateRandom', '{"NumberOfBytes":"32"}')).body.__type).toBe('SerializationException');
    expect((await call('GenerateRandom', '{"NumberOfBytes":1.5}')).body.__type).toBe('SerializationException');
    expect((await call('Encrypt', '{"KeyId":["x"],"Plaintext":"AA=="}')).body.__type).toBe('SerializationException');
    expect((await call('Encrypt', '[]')).body.__type).toBe('SerializationException');
  });

  test('an unknown member → SerializationException naming it', async () => {
    const r = await call('GenerateRandom', '{"NumberOfBytes":32,"Extra":1}');
    expect(r.body).toEqual({ __type: 'SerializationException', message: "Unrecognized field 'Extra'" });
  });

  test('a member named like an Object.prototype property is unknown too, not silently ignored', async () => {
    for (const name of ['constructor', 'toString', '__proto__']) {
      const r = await call('GenerateRandom', `{"NumberOfBytes":32,"${name}":{}}`);
      expect(r.body).toEqual({ __type: 'SerializationException', message: `Unrecognized field '${name}'` });
    }
  });

  test('an encryption context key "__proto__" is kept and authenticated like any other key', async () => {
    const keyId = (await call('CreateKey', '{}')).body.KeyMetadata as { KeyId: string };
    const enc = await call('Encrypt', JSON.stringify({ KeyId: keyId.KeyId, Plaintext: 'AQID' }).replace(/}$/, ',"EncryptionContext":{"__proto__":"x"}}'));
    expect(enc.status).toBe(200);
    const blob = enc.body.CiphertextBlob as string;
    expect((await call('Decrypt', JSON.stringify({ CiphertextBlob: blob }))).body.__type).toBe('InvalidCiphertextException');
    const ok = await call('Decrypt', `{"CiphertextBlob":"${blob}","EncryptionContext":{"__proto__":"x"}}`);
    expect(ok.body.Plaintext).toBe('AQID');
  });

  test('bad base64 in a blob member → SerializationException', async () => {
    const r = await call('Decrypt', '{"CiphertextBlob":"not*base64"}');
    expect(r.body.__type).toBe('SerializationException');
  });

  test('constraint violations → ValidationException with AWS wording', async () => {
    const r = await call('GenerateRandom', '{"NumberOfBytes":1025}');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      __type: 'ValidationException',
      message: "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    });
    const two = await call('CreateAlias', '{"AliasName":"alias/bad name!"}');
    expect(two.body.message).toBe(
      "2 validation errors detected: Value 'alias/bad name!' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$; Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null",
    );
  });

  test('a body over 1 MiB is refused before parsing, and the server keeps serving', async () => {
    const big = new Uint8Array(MAX_BODY_BYTES + 1).fill(0x20);
    const r = await call('GenerateRandom', big);
    expect(r.status).toBe(400);
    expect(r.body.__type).toBe('ValidationException');
    const ok = await call('GenerateRandom', '{"NumberOfBytes":8}');
    expect(ok.status).toBe(200);
    expect(Buffer.from(ok.body.Plaintext as string, 'base64')).toHaveLength(8);
  });

  test('unknown target → UnknownOperationException; a model operation not implemented → UnsupportedOperationException', async () => {
    expect((await call('NoSuchThing', '{}')).body.__type).toBe('UnknownOperationException');
    expect((await call('UpdateCustomKeyStore', '{}')).body.__type).toBe('UnsupportedOperationException');
    expect((await call('CreateCustomKeyStore', '{}')).body.__type).toBe('UnsupportedOperationException');
  });

  test('property: arbitrary JSON bodies for every target never produce a 5xx', async () => {
    const targets = ['Encrypt', 'Decrypt', 'CreateKey', 'GenerateDataKey', 'CreateGrant', 'PutKeyPolicy', 'ListKeys', 'TagResource', 'ScheduleKeyDeletion', 'Nope'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), fc.jsonValue(), async (t, v) => {
        const r = await call(t, JSON.stringify(v));
        expect(r.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });
});

describe('SigV4 authentication', () => {
  test('no Authorization header → MissingAuthenticationTokenException', async () => {
    const res = await k.app.request('http://localhost/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  test('unknown access key → UnrecognizedClientException', async () => {
    const r = await call('ListKeys', '{}', { accessKeyId: 'AKIANOTAREALKEY00000' });
    expect(r.body.__type).toBe('UnrecognizedClientException');
  });

  test('wrong secret → InvalidSignatureException', async () => {
    const r = await call('ListKeys', '{}', { secret: 'wrong-secret' });
    expect(r.body.__type).toBe('InvalidSignatureException');
  });

  test('a request signed more than 5 minutes ago (or ahead) → InvalidSignatureException "Signature expired"', async () => {
    const stale = await call('ListKeys', '{}', { date: new Date(now - 5 * 60_000 - 1000) });
    expect(stale.body.__type).toBe('InvalidSignatureException');
    expect(stale.body.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    const ahead = await call('ListKeys', '{}', { date: new Date(now + 6 * 60_000) });
    expect(ahead.body.__type).toBe('InvalidSignatureException');
    expect(ahead.body.message).toMatch(/^Signature not yet current/);
    expect((await call('ListKeys', '{}', { date: new Date(now - 4 * 60_000) })).status).toBe(200);
  });

  test('a captured request replayed with an altered body → InvalidSignatureException', async () => {
    const { url, init } = await signedRequest(cred(), '{"NumberOfBytes":8}', { target: 'TrentService.GenerateRandom', date: new Date(now) });
    expect((await k.app.request(url, init)).status).toBe(200);
    const res = await k.app.request(url, { ...init, body: '{"NumberOfBytes":9}' });
    expect(((await res.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
    const retarget = await k.app.request(url, { ...init, headers: { ...init.headers, 'x-amz-target': 'TrentService.ListKeys' } });
    expect(((await retarget.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
  });

  test('a credential scoped to another region or service is refused', async () => {
    const { url, init } = await signedRequest(cred(), '{}', { target: 'TrentService.ListKeys', date: new Date(now), region: 'eu-west-1' });
    expect(await (await k.app.request(url, init)).json()).toEqual({ __type: 'InvalidSignatureException', message: 'Credential should be scoped to a valid region.' });
    const kms = await signedRequest(cred(), '{}', { target: 'TrentService.ListKeys', date: new Date(now) });
    const authorization = (kms.init.headers.authorization ?? '').replace('/kms/aws4_request', '/sts/aws4_request');
    const sts = await k.app.request(kms.url, { ...kms.init, headers: { ...kms.init.headers, authorization } });
    expect(await sts.json()).toEqual({ __type: 'InvalidSignatureException', message: "Credential should be scoped to correct service: 'kms'." });
  });

  test('a DescribeKey signed without X-Amz-Target cannot be replayed as DisableKey: InvalidSignatureException, the key stays enabled', async () => {
    const created = await call('CreateKey', '{}');
    const keyId = (created.body.KeyMetadata as { KeyId: string }).KeyId;
    const body = JSON.stringify({ KeyId: keyId });
    // A correct SigV4 signature whose SignedHeaders leave X-Amz-Target out (host;x-amz-date;…).
    const { url, init } = await signedRequest(cred(), body, { target: 'TrentService.DescribeKey', date: new Date(now), unsigned: ['x-amz-target'] });
    expect(init.headers.authorization).not.toMatch(/x-amz-target/);
    for (const target of ['TrentService.DescribeKey', 'TrentService.DisableKey']) {
      const res = await k.app.request(url, { ...init, headers: { ...init.headers, 'x-amz-target': target } });
      expect([res.status, ((await res.json()) as { __type: string }).__type]).toEqual([400, 'InvalidSignatureException']);
    }
    const state = await call('DescribeKey', body);
    expect((state.body.KeyMetadata as { KeyState: string }).KeyState).toBe('Enabled');
  });

  test.each([
    ['application/json', 400],
    ['text/plain', 400],
    ['application/x-amz-json-1.0', 400],
    ['application/x-amz-json-1.1; charset=utf-8', 200],
    ['Application/X-Amz-Json-1.1', 200],
  ])('Content-Type %s → %i (anything but awsJson1_1 is UnknownOperationException, as AWS answers)', async (contentType, status) => {
    const { url, init } = await signedRequest(cred(), '{"NumberOfBytes":4}', { target: 'TrentService.GenerateRandom', date: new Date(now), contentType });
    const res = await k.app.request(url, init);
    const json = (await res.json()) as { __type?: string };
    expect(res.status).toBe(status);
    if (status === 400) expect(json.__type).toBe('UnknownOperationException');
  });

  test('no Content-Type at all → UnknownOperationException', async () => {
    const { url, init } = await signedRequest(cred(), '{"NumberOfBytes":4}', { target: 'TrentService.GenerateRandom', date: new Date(now), unsigned: ['content-type'] });
    const { 'content-type': _ct, ...headers } = init.headers;
    // Bytes, not a string: fetch would give a string body a text/plain content type.
    const req = new Request(url, { method: 'POST', headers, body: new TextEncoder().encode('{"NumberOfBytes":4}') });
    expect(req.headers.get('content-type')).toBeNull();
    const res = await k.app.request(req);
    expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });

  test('anonymous access only with allowAnonymous', async () => {
    const res = await anon.app.request('http://localhost/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.GenerateRandom' },
      body: '{"NumberOfBytes":4}',
    });
    expect(res.status).toBe(200);
  });
});
