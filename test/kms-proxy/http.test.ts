// Over a real socket: oversized bodies (declared or chunked) are refused before parsing with a
// 400, a client that disconnects mid-body is a client error, and the server keeps serving.
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { GenerateRandomCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { createKmsApp, MAX_BODY_BYTES } from '../../kms-proxy/index.ts';
import { auditRecords, startFixture, tempDir, type Fixture } from './helpers.ts';
import { signedRequest } from './sign.ts';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => f.stop());

function post(body: Buffer, chunked: boolean): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(f.server.endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'TrentService.GenerateRandom',
          ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    if (chunked) {
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(body);
  });
}

test.each([
  ['with Content-Length', false],
  ['chunked, without Content-Length', true],
])('a 2 MiB body %s → 400 ValidationException, and the next request is served', async (_what, chunked) => {
  const r = await post(Buffer.alloc(2 * MAX_BODY_BYTES, 0x20), chunked);
  expect(r.status).toBe(400);
  expect(r.json).toEqual({ __type: 'ValidationException', message: `Request body exceeds the maximum size of ${MAX_BODY_BYTES} bytes.` });
  expect((await f.kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))).Plaintext).toHaveLength(16);
});

test('an unsigned request of exactly 1 MiB is read, then refused for missing authentication (not for size)', async () => {
  const r = await post(Buffer.alloc(MAX_BODY_BYTES, 0x20), false);
  expect(r.json.__type).toBe('MissingAuthenticationTokenException');
});

test('a client whose clock is 10 minutes slow is refused, then the SDK corrects its skew from the Date header and succeeds', async () => {
  const slow = new KMSClient({ endpoint: f.server.endpoint, region: 'us-east-1', credentials: f.server.credential, systemClockOffset: -10 * 60_000, maxAttempts: 3 });
  try {
    const r = await slow.send(new ListKeysCommand({}));
    // Attempt 1 was InvalidSignatureException "Signature expired…", which the SDK recognizes as
    // clock skew only when the error and the Date header look like AWS's.
    expect(r.$metadata.attempts).toBe(2);
  } finally {
    slow.destroy();
  }
  const strict = new KMSClient({ endpoint: f.server.endpoint, region: 'us-east-1', credentials: f.server.credential, systemClockOffset: -10 * 60_000, maxAttempts: 1 });
  try {
    const e = await strict.send(new ListKeysCommand({})).then(() => undefined, (err: unknown) => err as Error);
    expect(e?.name).toBe('InvalidSignatureException');
    expect(e?.message).toMatch(/^Signature expired: /);
  } finally {
    strict.destroy();
  }
});

const CLOSED_EARLY = 'The connection closed before the request body was complete.';

test('a client that sends part of a declared body and disconnects: the read settles as ValidationException (counted in the audit summary as an unauthenticated refusal, not reported as an internal error), the next request is served, and the server closes', async () => {
  const reported: unknown[] = [];
  const g = await startFixture({ onInternalError: (e) => reported.push(e) });
  try {
    const url = new URL(g.server.endpoint);
    const sock = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    await new Promise<void>((resolve) => sock.write('POST / HTTP/1.1\r\nHost: kms\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Length: 1000\r\n\r\n{"NumberOf', () => resolve()));
    sock.destroy();
    // Every request is counted once its handler settles; a read that never settles is never counted.
    const counted = async () => (await auditRecords(g.server, g.dir, ['RequestSummary'])).flatMap((s) => s.counts as Record<string, unknown>[]);
    await vi.waitFor(async () => expect(await counted()).toHaveLength(1), { timeout: 3000 });
    expect((await counted())[0]).toMatchObject({ kind: 'unauthenticated', errorCode: 'ValidationException', eventName: 'GenerateRandom', count: 1 });
    expect(reported).toEqual([]);
    expect((await g.kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))).Plaintext).toHaveLength(16);
  } finally {
    await g.stop();
  }
});

test.each([
  ['already destroyed (its close was emitted before the read began)', async (s: PassThrough) => {
    s.destroy();
    await new Promise((resolve) => s.once('close', resolve));
  }],
  ['destroyed mid-body without an error (close, no end, no error)', (s: PassThrough) => {
    s.write('{"NumberOf');
    setImmediate(() => s.destroy());
  }],
] as const)('a request stream %s is answered ValidationException (the read used to wait for ever)', async (_what, prepare) => {
  const dir = tempDir('kms-body-');
  const k = await createKmsApp({ dataDir: dir, allowAnonymous: true });
  try {
    const incoming = new PassThrough();
    await prepare(incoming);
    const res = await k.app.request('http://localhost/', { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.GenerateRandom', 'content-length': '1000' }, body: '' }, { incoming });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ __type: 'ValidationException', message: CLOSED_EARLY });
  } finally {
    await k.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The raw text of one GenerateRandom of `n` bytes, signed with `secret` (the fixture's credential's by default). */
async function rawGenerateRandom(n: number, host: string, secret = f.server.credential.secretAccessKey): Promise<string> {
  const body = JSON.stringify({ NumberOfBytes: n });
  const signed = await signedRequest({ accessKeyId: f.server.credential.accessKeyId, secretAccessKey: secret }, body, { target: 'TrentService.GenerateRandom', host });
  const headers = Object.entries({ ...signed.init.headers, 'content-length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}\r\n`);
  return `POST / HTTP/1.1\r\n${headers.join('')}\r\n${body}`;
}

interface RawAnswer {
  readonly status: number;
  readonly requestId: string;
  readonly json: Record<string, unknown>;
}

/** Sends `text` on one new connection in one write; resolves with the first `count` answers, in the order they came. */
function exchange(text: string, count: number): Promise<RawAnswer[]> {
  const url = new URL(f.server.endpoint);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname, () => sock.write(text));
    let buf = Buffer.alloc(0);
    const answers: RawAnswer[] = [];
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
        if (buf.length < end + 4 + length) break;
        answers.push({
          status: Number(head.split(' ')[1]),
          requestId: /\r\nx-amzn-requestid: ([^\r]+)/i.exec(head)?.[1] ?? '',
          json: JSON.parse(buf.subarray(end + 4, end + 4 + length).toString('utf8')) as Record<string, unknown>,
        });
        buf = buf.subarray(end + 4 + length);
      }
      if (answers.length >= count) {
        sock.destroy();
        resolve(answers);
      }
    });
    sock.on('close', () => reject(new Error(`connection closed after ${answers.length} of ${count} answers`)));
  });
}

// The server answers the requests that arrive in one turn of the event loop as one batch
// (server.ts): every request still gets its own answer, in its connection's order, and its own
// audit record.
test('requests that arrive together, pipelined on one connection and on many at once, each get their own answer in order and their own audit record', async () => {
  const url = new URL(f.server.endpoint);
  const host = `${url.hostname}:${url.port}`;
  // One connection, four requests in one write; the third is signed with a wrong secret.
  const pipelined = [await rawGenerateRandom(5, host), await rawGenerateRandom(6, host), await rawGenerateRandom(7, host, 'not-the-secret'), await rawGenerateRandom(8, host)];
  // Forty connections, one request each, all written in the same turn.
  const single = await Promise.all(Array.from({ length: 40 }, (_, i) => rawGenerateRandom(9 + i, host)));
  const [onOne, ...onMany] = await Promise.all([exchange(pipelined.join(''), 4), ...single.map((t) => exchange(t, 1))]);
  expect(onOne?.map((a) => a.status)).toEqual([200, 200, 400, 200]);
  expect(onOne?.[2]?.json.__type).toBe('InvalidSignatureException');
  expect([0, 1, 3].map((i) => Buffer.from(onOne?.[i]?.json.Plaintext as string, 'base64').length)).toEqual([5, 6, 8]);
  expect(onMany.map((a) => Buffer.from(a[0]?.json.Plaintext as string, 'base64').length)).toEqual(single.map((_, i) => 9 + i));
  const answered = [...(onOne ?? []), ...onMany.flat()].filter((a) => a.status === 200);
  expect(new Set(answered.map((a) => a.requestId)).size).toBe(43);
  const records = new Map((await auditRecords(f.server, f.dir)).map((r) => [r.requestID as string, r]));
  for (const a of answered) {
    const bytes = Buffer.from(a.json.Plaintext as string, 'base64').length;
    expect(records.get(a.requestId)?.requestParameters).toEqual({ numberOfBytes: bytes });
  }
});
