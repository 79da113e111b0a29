// The daemon protocol (host/daemon/PROTOCOL.md): the request validator, property-tested, and a live
// in-process daemon answering malformed requests with typed errors and staying up.
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, DaemonBadRequestError, DaemonVersionError, parseRequest } from '../../host/daemon/index.ts';
import { readExact, readLine } from '../../host/daemon/protocol.ts';
import { cleanupDaemons, codeOf, rawRequest, tempDir, waitFor } from './helpers.ts';

describe('parseRequest', () => {
  it('accepts every op of PROTOCOL.md with its fields', () => {
    expect(parseRequest('{"v":1,"op":"ping"}')).toEqual({ v: 1, op: 'ping' });
    expect(parseRequest('{"v":1,"op":"run-enclave","imageSize":10,"options":{"memoryMiB":128,"cpuIds":[0,1],"debugMode":true,"name":"x"}}')).toEqual({
      v: 1,
      op: 'run-enclave',
      imageSize: 10,
      options: { memoryMiB: 128, cpuIds: [0, 1], debugMode: true, name: 'x' },
    });
    expect(parseRequest('{"v":1,"op":"terminate-enclave","target":{"all":true}}')).toEqual({ v: 1, op: 'terminate-enclave', target: { all: true } });
    expect(parseRequest('{"v":1,"op":"describe-enclaves"}')).toEqual({ v: 1, op: 'describe-enclaves' });
    expect(parseRequest('{"v":1,"op":"describe-enclaves","metadata":true}')).toEqual({ v: 1, op: 'describe-enclaves', metadata: true });
    expect(parseRequest('{"v":1,"op":"describe-enclaves","ended":true}')).toEqual({ v: 1, op: 'describe-enclaves', ended: true });
    expect(parseRequest('{"v":1,"op":"console","target":{"name":"a"}}')).toEqual({ v: 1, op: 'console', target: { name: 'a' } });
    expect(parseRequest('{"v":1,"op":"connect","cid":16,"port":5005}')).toEqual({ v: 1, op: 'connect', cid: 16, port: 5005 });
    expect(parseRequest('{"v":1,"op":"listen","port":8000}')).toEqual({ v: 1, op: 'listen', port: 8000 });
    expect(parseRequest('{"v":1,"op":"accept","listener":"ab","connection":3}')).toEqual({ v: 1, op: 'accept', listener: 'ab', connection: 3 });
  });

  it.each([
    ['not JSON', '{"v":1,', 'ERR_DAEMON_BAD_REQUEST'],
    ['not an object', '[1]', 'ERR_DAEMON_BAD_REQUEST'],
    ['wrong version', '{"v":2,"op":"ping"}', 'ERR_DAEMON_VERSION'],
    ['missing version', '{"op":"ping"}', 'ERR_DAEMON_VERSION'],
    ['unknown op', '{"v":1,"op":"format-disk"}', 'ERR_DAEMON_BAD_REQUEST'],
    ['unknown field', '{"v":1,"op":"ping","x":1}', 'ERR_DAEMON_BAD_REQUEST'],
    ['describe metadata not a boolean', '{"v":1,"op":"describe-enclaves","metadata":"yes"}', 'ERR_DAEMON_BAD_REQUEST'],
    ['describe unknown field', '{"v":1,"op":"describe-enclaves","all":true}', 'ERR_DAEMON_BAD_REQUEST'],
    ['unknown run option', '{"v":1,"op":"run-enclave","imageSize":1,"options":{"memoryMiB":1,"evil":true}}', 'ERR_DAEMON_BAD_REQUEST'],
    ['image size 0', '{"v":1,"op":"run-enclave","imageSize":0,"options":{"memoryMiB":1}}', 'ERR_DAEMON_BAD_REQUEST'],
    ['image over 64 MiB', `{"v":1,"op":"run-enclave","imageSize":${64 * 1024 * 1024 + 1},"options":{"memoryMiB":1}}`, 'ERR_DAEMON_BAD_REQUEST'],
    ['memory a string', '{"v":1,"op":"run-enclave","imageSize":1,"options":{"memoryMiB":"1"}}', 'ERR_DAEMON_BAD_REQUEST'],
    ['cpuIds not integers', '{"v":1,"op":"run-enclave","imageSize":1,"options":{"memoryMiB":1,"cpuIds":[0.5]}}', 'ERR_DAEMON_BAD_REQUEST'],
    ['two targets', '{"v":1,"op":"terminate-enclave","target":{"id":"a","name":"b"}}', 'ERR_DAEMON_BAD_REQUEST'],
    ['console of all', '{"v":1,"op":"console","target":{"all":true}}', 'ERR_DAEMON_BAD_REQUEST'],
    ['negative port', '{"v":1,"op":"connect","cid":16,"port":-1}', 'ERR_DAEMON_BAD_REQUEST'],
    ['fractional cid', '{"v":1,"op":"connect","cid":16.5,"port":1}', 'ERR_DAEMON_BAD_REQUEST'],
    ['accept without listener', '{"v":1,"op":"accept","connection":1}', 'ERR_DAEMON_BAD_REQUEST'],
  ])('refuses %s', (_t, line, code) => {
    expect(codeOf(() => parseRequest(line))).toBe(code);
  });

  it('throws only its own typed errors on arbitrary input (property)', () => {
    const jsonish = fc.oneof(
      fc.string(),
      fc.json(),
      fc.record({ v: fc.constantFrom(1, 2, '1'), op: fc.constantFrom('ping', 'run-enclave', 'connect', 'listen', 'accept', 'console', 'terminate-enclave', 'x'), target: fc.anything(), cid: fc.anything(), port: fc.anything(), options: fc.anything(), imageSize: fc.anything() }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(jsonish, (line) => {
        try {
          const r = parseRequest(line);
          // Whatever is accepted re-validates to itself (the validator is a projection).
          expect(parseRequest(JSON.stringify(r))).toEqual(r);
        } catch (e) {
          expect(e instanceof DaemonBadRequestError || e instanceof DaemonVersionError).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** A stream that delivers `pieces` one chunk each, then ends (unless `end` is false). */
function streamOf(pieces: readonly (string | Buffer)[], end = true): PassThrough {
  const s = new PassThrough();
  for (const p of pieces) s.write(p);
  if (end) s.end();
  return s;
}

async function rest(s: PassThrough): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('readLine and readExact (the request line, then the image body or raw bytes)', () => {
  it('read a line and then a body however the client splits them, leaving what follows readable (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme-ascii' }).filter((l) => !l.includes('\n')), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.string(), fc.array(fc.nat(), { maxLength: 6 }), async (line, body, tail, cuts) => {
        const bytes = Buffer.concat([Buffer.from(`${line}\n`), body, Buffer.from(tail)]);
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const pieces = [0, ...at].map((from, i) => bytes.subarray(from, at[i] ?? bytes.length)).filter((p) => p.length > 0);
        const s = streamOf(pieces);
        expect(await readLine(s)).toBe(line);
        expect(Buffer.from(await readExact(s, body.length))).toEqual(Buffer.from(body));
        expect(await rest(s)).toBe(tail);
      }),
      { numRuns: 300 },
    );
  });

  it('readLine resolves undefined when the stream ends before a newline', async () => {
    expect(await readLine(streamOf(['no newline']))).toBeUndefined();
    expect(await readLine(streamOf([]))).toBeUndefined();
  });

  it('readLine refuses a line past its limit with ERR_DAEMON_BAD_REQUEST, in the chunk with the newline or before it', async () => {
    await expect(readLine(streamOf(['12345', '678\n']), 7)).rejects.toMatchObject({ code: 'ERR_DAEMON_BAD_REQUEST', message: 'line longer than 7 bytes' });
    await expect(readLine(streamOf(['1234', '5678'], false), 7)).rejects.toMatchObject({ code: 'ERR_DAEMON_BAD_REQUEST' });
    expect(await readLine(streamOf(['1234', '567\n']), 7)).toBe('1234567');
  });

  it('readExact refuses a body that ends short with ERR_DAEMON_BAD_REQUEST', async () => {
    await expect(readExact(streamOf(['abc']), 4)).rejects.toMatchObject({ code: 'ERR_DAEMON_BAD_REQUEST', message: 'body ended after 3 of 4 bytes' });
  });

  it('both pass on the stream\'s error', async () => {
    const boom = new Error('boom');
    const a = streamOf(['abc'], false);
    const line = readLine(a);
    a.destroy(boom);
    await expect(line).rejects.toBe(boom);
    const b = streamOf(['abc'], false);
    const body = readExact(b, 4);
    b.destroy(boom);
    await expect(body).rejects.toBe(boom);
  });
});

describe('a live daemon and malformed requests', () => {
  let daemon: Daemon;
  let runtimeDir: string;
  beforeAll(async () => {
    runtimeDir = tempDir();
    daemon = await Daemon.start({ runtimeDir, dataDir: tempDir(), requestTimeoutMs: 2000 });
  });
  afterAll(async () => {
    await daemon.close();
    await cleanupDaemons([runtimeDir]);
  });

  const ask = async (bytes: string | Buffer): Promise<{ ok: boolean; error?: { code: string }; result?: unknown }> => {
    const text = await rawRequest(daemon.socketPath, bytes);
    return JSON.parse(text.split('\n')[0]!) as { ok: boolean; error?: { code: string } };
  };

  it('answers each bad request with its code and keeps serving', async () => {
    expect((await ask('garbage\n')).error?.code).toBe('ERR_DAEMON_BAD_REQUEST');
    expect((await ask('{"v":9,"op":"ping"}\n')).error?.code).toBe('ERR_DAEMON_VERSION');
    expect((await ask('{"v":1,"op":"nope"}\n')).error?.code).toBe('ERR_DAEMON_BAD_REQUEST');
    expect((await ask(`${'x'.repeat((1 << 20) + 10)}\n`)).error?.code).toBe('ERR_DAEMON_BAD_REQUEST');
    // A run-enclave whose body ends early.
    expect((await ask('{"v":1,"op":"run-enclave","imageSize":1000,"options":{"memoryMiB":128}}\nshort')).error?.code).toBe('ERR_DAEMON_BAD_REQUEST');
    // A body that is not an image: the image loader's own code comes back.
    expect((await ask(`{"v":1,"op":"run-enclave","imageSize":16,"options":{"memoryMiB":128}}\n${'z'.repeat(16)}`)).error?.code).toMatch(/^ERR_IMAGE_/);
    expect((await ask('{"v":1,"op":"connect","cid":3,"port":1}\n')).error?.code).toBe('ERR_VSOCK_INVALID_CID');
    expect((await ask('{"v":1,"op":"connect","cid":77,"port":1}\n')).error?.code).toBe('ERR_VSOCK_UNKNOWN_CID');
    expect((await ask('{"v":1,"op":"console","target":{"name":"ghost"}}\n')).error?.code).toBe('ERR_ENCLAVE_NOT_FOUND');
    expect((await ask('{"v":1,"op":"accept","listener":"00","connection":1}\n')).error?.code).toBe('ERR_DAEMON_BAD_REQUEST');
    const ping = await ask('{"v":1,"op":"ping"}\n');
    expect(ping.ok).toBe(true);
    expect(ping.result).toMatchObject({ pid: process.pid, protocol: 1, runtimeDir });
  });

  it('survives arbitrary bytes on its socket (fuzz): every answer is a typed error, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 200 }).map((t) => new TextEncoder().encode(`${t}\n`))), async (bytes) => {
        const text = await rawRequest(daemon.socketPath, Buffer.from(bytes));
        if (text === '') return; // no complete line: dropped at end of input
        const r = JSON.parse(text.split('\n')[0]!) as { ok: boolean; error?: { code: string } };
        if (!r.ok) expect(r.error?.code).toMatch(/^(ERR_[A-Z_]+|ECONNREFUSED)$/);
      }),
      { numRuns: 300 },
    );
    expect((await ask('{"v":1,"op":"ping"}\n')).ok).toBe(true);
  });

  it('refuses a second listener on the same parent port', async () => {
    const { DaemonClient } = await import('../../host/daemon/index.ts');
    const client = new DaemonClient(runtimeDir);
    const l = await client.listenParent(8123, () => undefined);
    await expect(client.listenParent(8123, () => undefined)).rejects.toMatchObject({ code: 'ERR_DAEMON_LISTENER' });
    l.close();
    await l.closed;
    // Closing the LISTEN connection frees the port (once the daemon has seen the close).
    let again: Awaited<ReturnType<typeof client.listenParent>> | undefined;
    await waitFor(async () => {
      again = await client.listenParent(8123, () => undefined).catch(() => undefined);
      return again !== undefined;
    }, 'the port to be free again');
    again!.close();
  });

  it('drops a client that never finishes its request line or its image body', async () => {
    const [line, body] = await Promise.all([
      rawRequest(daemon.socketPath, '{"v":1,', false),
      rawRequest(daemon.socketPath, '{"v":1,"op":"run-enclave","imageSize":1000,"options":{"memoryMiB":128}}\nonly a little', false),
    ]);
    expect(line).toBe('');
    expect(body).toBe('');
    expect((await ask('{"v":1,"op":"ping"}\n')).ok).toBe(true);
  });

  it('refuses to start a second daemon on the same runtime directory', async () => {
    await expect(Daemon.start({ runtimeDir })).rejects.toMatchObject({ code: 'ERR_HOST_DAEMON', message: expect.stringContaining('holds') });
    // Even with the lock gone, a daemon answering on the socket is not replaced.
    const { unlinkSync } = await import('node:fs');
    unlinkSync(daemon.paths.lock);
    await expect(Daemon.start({ runtimeDir })).rejects.toMatchObject({ code: 'ERR_HOST_DAEMON', message: expect.stringContaining('answers on') });
    expect((await ask('{"v":1,"op":"ping"}\n')).ok).toBe(true);
  });
});

describe('the client', () => {
  afterAll(() => cleanupDaemons([]));

  it('gives up on a daemon that accepts but never answers (ERR_HOST_DAEMON), and on an answer that is not the protocol', async () => {
    const { createServer } = await import('node:net');
    const { DaemonClient, runtimePaths } = await import('../../host/daemon/index.ts');
    const dir = tempDir();
    let reply: string | undefined;
    const server = createServer((s) => {
      s.on('error', () => undefined);
      if (reply !== undefined) s.end(reply);
    });
    await new Promise<void>((r) => server.listen(runtimePaths(dir).socket, () => r()));
    try {
      const client = new DaemonClient(dir, { responseTimeoutMs: 200 });
      await expect(client.ping()).rejects.toMatchObject({ code: 'ERR_HOST_DAEMON', message: expect.stringContaining('did not answer') });
      reply = 'HTTP/1.1 400 Bad Request\r\n\r\n\n';
      await expect(client.ping()).rejects.toMatchObject({ code: 'ERR_HOST_DAEMON', message: expect.stringContaining('not JSON') });
      reply = '{"v":2,"ok":true}\n';
      await expect(client.ping()).rejects.toMatchObject({ code: 'ERR_HOST_DAEMON', message: expect.stringContaining('not a v1 response') });
      reply = '{"v":1,"ok":false,"error":{"code":"ERR_SOMETHING","message":"no"}}\n';
      await expect(client.ping()).rejects.toMatchObject({ code: 'ERR_SOMETHING', message: 'no' });
      reply = '';
      await expect(client.ping()).rejects.toMatchObject({ code: 'ERR_HOST_DAEMON', message: expect.stringContaining('without a response') });
    } finally {
      server.close();
    }
  });
});
