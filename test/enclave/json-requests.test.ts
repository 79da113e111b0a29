// serveJsonRequests (enclave SDK): one JSON request per vsock connection, every failure answered
// with a stable code. In process over a real vsock Channel pair (the multiplexer both ends use),
// the enclave end standing in for ctx.vsock; the client is what Host.request does: write, half-close,
// read to the end. The example apps built on it run in real enclaves in test/e2e and test/examples.
import { duplexPair } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, readAll, type VsockConnection } from '../../enclave/vsock/index.ts';
import { DEFAULT_JSON_REQUEST_MAX_BYTES, JsonRequestError, serveJsonRequests, type JsonRequestHandler, type ServeJsonRequestsOptions } from '../../enclave/sdk/index.ts';
import { EnclaveError } from '../../enclave/index.ts';

const PORT = 5010;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(handler: JsonRequestHandler, options?: ServeJsonRequestsOptions) {
  const [a, b] = duplexPair();
  const host = new Channel(a, { role: 'host' });
  const enclave = new Channel(b, { role: 'enclave' });
  const warnings: unknown[][] = [];
  const accepted: VsockConnection[] = [];
  const ctx = {
    vsock: {
      listen: (port: number, h: (c: VsockConnection) => void) =>
        enclave.listen(port, (c) => {
          accepted.push(c);
          h(c);
        }),
      connect: () => Promise.reject(new Error('unused')),
    },
    log: { info: () => undefined, warn: (...a: unknown[]) => warnings.push(a), error: () => undefined },
  };
  const listener = serveJsonRequests(ctx, PORT, handler, options);
  cleanups.push(() => {
    host.destroy();
    enclave.destroy();
  });
  /** Host.request: send, half-close, read until the enclave ends the stream. */
  const request = async (data: string | Uint8Array): Promise<any> => {
    const conn = host.createConnection(PORT);
    const answer = readAll(conn);
    conn.end(data);
    return JSON.parse((await answer).toString('utf8'));
  };
  return { host, listener, request, warnings, accepted };
}

const until = async (f: () => boolean): Promise<void> => {
  while (!f()) await new Promise((r) => setTimeout(r, 5));
};

describe('serveJsonRequests', () => {
  it('answers the JSON the handler returns (sync or async) and ends the stream', async () => {
    const seen: unknown[] = [];
    const { request } = setup(async (req) => {
      seen.push(req);
      return { ok: true, echo: req };
    });
    const req = { op: 'decrypt', n: 1, nested: { list: [1, 'two', null] }, text: 'é ✓' };
    expect(await request(JSON.stringify(req))).toEqual({ ok: true, echo: req });
    expect(seen).toEqual([req]);
    const sync = setup((req) => ({ sum: (req as number[]).reduce((x, y) => x + y, 0) }));
    expect(await sync.request('[1,2,3]')).toEqual({ sum: 6 });
  });

  it('serves each connection on its own, concurrently', async () => {
    const { request } = setup(async (req) => {
      const { id, wait } = req as { id: number; wait: number };
      await new Promise((r) => setTimeout(r, wait));
      return { id };
    });
    const got = await Promise.all([request('{"id":1,"wait":30}'), request('{"id":2,"wait":0}'), request('{"id":3,"wait":10}')]);
    expect(got).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it('invalid JSON, an empty request and invalid UTF-8 are ERR_JSON_REQUEST_INVALID; the handler is not called', async () => {
    let calls = 0;
    const { request } = setup(() => ++calls);
    for (const bad of ['{"op":', 'not json', '', Buffer.from([0x22, 0xff, 0x22])]) {
      expect(await request(bad)).toEqual({ ok: false, name: 'JsonRequestError', code: 'ERR_JSON_REQUEST_INVALID', message: expect.stringMatching(/^the request is not valid (JSON|UTF-8)/) });
    }
    expect(calls).toBe(0);
  });

  it('a request over maxBytes is ERR_VSOCK_READ_TOO_LARGE, answered, and the stream ended', async () => {
    let calls = 0;
    const { request } = setup(() => ++calls, { maxBytes: 16 });
    expect(await request('"0123456789abcd"')).toBe(1); // exactly 16 bytes is accepted
    // Far past the bound and past the channel's window: the rest is read and discarded, not stalled.
    const big = JSON.stringify({ pad: 'x'.repeat(1 << 20) });
    expect(await request(big)).toEqual({ ok: false, name: 'VsockError', code: 'ERR_VSOCK_READ_TOO_LARGE', message: 'the peer sent more than 16 bytes' });
    expect(calls).toBe(1);
  });

  it('the default bound is 1 MiB', async () => {
    const { request } = setup((req) => (req as string).length);
    const fits = JSON.stringify('x'.repeat(DEFAULT_JSON_REQUEST_MAX_BYTES - 2));
    expect(await request(fits)).toBe(DEFAULT_JSON_REQUEST_MAX_BYTES - 2);
    expect(await request(`${fits} `)).toMatchObject({ ok: false, code: 'ERR_VSOCK_READ_TOO_LARGE' });
  });

  it("a handler that throws: the error's name, code and message pass through", async () => {
    class AccessDeniedError extends Error {
      readonly code = 'ERR_KMS_SERVICE';
      override readonly name = 'AccessDeniedException';
    }
    const { request } = setup(() => {
      throw new AccessDeniedError('no attestation, no key');
    });
    expect(await request('{}')).toEqual({ ok: false, name: 'AccessDeniedException', code: 'ERR_KMS_SERVICE', message: 'no attestation, no key' });
  });

  it('an error without a string code (a TypeError in the handler) gets ERR_JSON_REQUEST_HANDLER_FAILED', async () => {
    const { request } = setup(async (req) => (req as { credentials: { accessKeyId: string } }).credentials.accessKeyId);
    expect(await request('{}')).toEqual({ ok: false, name: 'TypeError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED', message: expect.stringContaining('accessKeyId') });
  });

  it('a handler rejecting with a non-Error value is ERR_JSON_REQUEST_HANDLER_FAILED, never an unhandled rejection', async () => {
    for (const [value, shown] of [['boom', 'boom'], [undefined, 'undefined'], [42, '42'], [Object.create(null), 'object']] as const) {
      const { request } = setup(() => Promise.reject(value));
      expect(await request('{}')).toEqual({ ok: false, name: 'JsonRequestError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED', message: `the handler threw a non-Error value: ${shown}` });
    }
  });

  it('an error whose properties throw when read still gets an answer with a code', async () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('gotcha'); } });
    const { request } = setup(() => {
      throw hostile;
    });
    expect(await request('{}')).toEqual({ ok: false, name: 'JsonRequestError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED', message: 'the handler threw a value that cannot be described' });
  });

  it('an answer JSON cannot encode (undefined, a BigInt) is ERR_JSON_REQUEST_HANDLER_FAILED', async () => {
    const none = setup(() => undefined);
    expect(await none.request('{}')).toEqual({ ok: false, name: 'JsonRequestError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED', message: "the handler's answer is not JSON-serializable (undefined)" });
    const big = setup(() => ({ n: 1n }));
    expect(await big.request('{}')).toMatchObject({ ok: false, name: 'TypeError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED' });
  });

  it('decorateError adds fields to every error answer; a decorator that throws leaves the default answer', async () => {
    const seen: unknown[] = [];
    const { request } = setup(
      (req) => {
        if ((req as { fail?: boolean }).fail) throw new JsonRequestError('ERR_JSON_REQUEST_HANDLER_FAILED', 'asked to');
        return { ok: true };
      },
      { decorateError: (a, e) => (seen.push(e), { ...a, app: 'my-app/1' }) },
    );
    expect(await request('{}')).toEqual({ ok: true }); // not applied to answers that succeed
    expect(await request('{"fail":true}')).toEqual({ ok: false, app: 'my-app/1', name: 'JsonRequestError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED', message: 'asked to' });
    expect(await request('nope')).toMatchObject({ app: 'my-app/1', code: 'ERR_JSON_REQUEST_INVALID' });
    expect(seen[0]).toBeInstanceOf(JsonRequestError);
    expect(seen[1]).toBeInstanceOf(EnclaveError);
    const broken = setup(() => 1n, { decorateError: () => { throw new Error('decorator bug'); } });
    expect(await broken.request('{}')).toEqual({ ok: false, name: 'TypeError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED', message: expect.any(String) });
  });

  it('a peer that resets mid-request is dropped: no handler call, no unhandled rejection, a warning', async () => {
    let calls = 0;
    const { host, warnings, accepted } = setup(() => ++calls);
    const conn = host.createConnection(PORT);
    conn.on('error', () => undefined);
    conn.write('{"op":"dec');
    await until(() => accepted.length === 1);
    conn.destroy();
    await until(() => accepted[0]!.destroyed);
    await until(() => warnings.length === 1);
    expect(warnings[0]?.join(' ')).toMatch(/request dropped: connection reset by peer/);
    expect(calls).toBe(0);
  });

  it('a peer that resets while the handler runs: the answer is not written, nothing is thrown', async () => {
    let release!: () => void;
    const running = new Promise<void>((r) => (release = r));
    let finished = false;
    const { host, accepted } = setup(async () => {
      await running;
      finished = true;
      return { ok: true };
    });
    const conn = host.createConnection(PORT);
    conn.on('error', () => undefined);
    conn.end('{}');
    await until(() => accepted.length === 1);
    conn.destroy();
    await until(() => accepted[0]!.destroyed);
    release();
    await until(() => finished);
    await new Promise((r) => setTimeout(r, 10));
    expect(accepted[0]!.destroyed).toBe(true);
  });

  it('returns the listener: close() stops accepting connections (ECONNREFUSED)', async () => {
    const { host, listener, request } = setup(() => 'yes');
    expect(listener.port).toBe(PORT);
    expect(await request('{}')).toBe('yes');
    listener.close();
    const conn = host.createConnection(PORT);
    const refused = await new Promise((r) => conn.once('error', r));
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('refuses a bad handler or maxBytes at once with ERR_INVALID_ARGUMENT', () => {
    const ctx = { vsock: { listen: () => { throw new Error('must not listen'); }, connect: () => Promise.reject(new Error('unused')) }, log: console };
    for (const [handler, options] of [
      ['not a function', {}],
      [() => 1, { maxBytes: -1 }],
      [() => 1, { maxBytes: Number.NaN }],
      [() => 1, { maxBytes: 1.5 }],
      [() => 1, { decorateError: 'x' }],
    ] as const) {
      expect(() => serveJsonRequests(ctx as never, PORT, handler as never, options as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
  });
});
