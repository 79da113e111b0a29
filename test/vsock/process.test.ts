// The channel between two real Node processes: the child runs under `node --permission` with no
// grants, an empty environment and only fd 3, exactly as an enclave does.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VsockConnection } from '../../enclave/vsock/index.ts';
import { VsockRegistry } from '../../host/vsock/index.ts';
import { deterministicStream, PORTS, sha256Hex } from './fixtures/shared.ts';
import { control, readAll, spawnAgent, until, type EnclaveProcess } from './helpers.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('channel to an enclave process under the permission model', () => {
  let enc: EnclaveProcess;
  beforeAll(async () => {
    enc = await spawnAgent();
  });
  afterAll(async () => {
    await enc.stop();
  });

  it('works over the inherited fd 3 while the network is denied (no --allow-net, no fs grants, empty env)', async () => {
    const probe = await control<Record<string, unknown>>(enc.channel, { op: 'probe' });
    expect(probe).toEqual({
      connect: 'ERR_ACCESS_DENIED',
      listen: 'ERR_ACCESS_DENIED',
      permissionNet: false,
      permissionFsRead: false,
      envKeys: 0,
    });
  });

  it('carries 200 concurrent host→enclave connections with hash-checked payloads', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const payload = randomBytes(32 * 1024 + Math.floor(Math.random() * 32 * 1024));
        const c = await enc.channel.connect(PORTS.sinkHash);
        const reply = readAll(c);
        c.end(payload);
        return (await reply).toString() === sha(payload);
      }),
    );
    expect(results.filter(Boolean).length).toBe(200);
    expect(enc.channel.connectionCount).toBe(0);
  });

  it('carries 200 concurrent enclave→host connections (the parent listens, CID-addressed)', async () => {
    const listener = enc.channel.listen(9000, (c) => {
      const h = createHash('sha256');
      c.on('data', (d: Buffer) => h.update(d));
      c.on('end', () => c.end(h.digest('hex')));
    });
    try {
      const res = await control<{ ok: number; count: number }>(enc.channel, {
        op: 'connect-many',
        port: 9000,
        count: 200,
        size: 48 * 1024,
      });
      expect(res).toEqual({ ok: 200, count: 200 });
    } finally {
      listener.close();
    }
  });

  it('keeps other connections flowing past a stalled reader, with the stalled stream bounded by its window', async () => {
    const window = enc.channel.window;
    const total = 8 << 20;
    const payload = randomBytes(total);
    const stalled = await enc.channel.connect(PORTS.stall);
    const stalledReply = readAll(stalled);
    // A well-behaved writer: writes until write() says stop, resumes on 'drain'.
    let written = 0;
    const writeMore = (): void => {
      while (written < total) {
        const chunk = payload.subarray(written, written + 64 * 1024);
        written += chunk.length;
        if (!stalled.write(chunk)) return void stalled.once('drain', writeMore);
      }
      stalled.end();
    };
    writeMore();
    await until(() => stalled.sendCredit === 0, 'stalled stream used its whole window');

    // Twenty other connections move 1 MiB each while that stream is stuck.
    const others = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const data = randomBytes(1 << 20);
        const c = await enc.channel.connect(PORTS.sinkHash);
        const reply = readAll(c);
        c.end(data);
        return (await reply).toString() === sha(data);
      }),
    );
    expect(others.every(Boolean)).toBe(true);

    // Memory held for the stalled stream, on both sides, is bounded by the window and the stream's
    // own high-water marks; nothing else queued up.
    expect(stalled.bytesSent).toBe(window);
    expect(stalled.inFlight).toBe(window);
    expect(stalled.writableLength).toBeLessThanOrEqual(stalled.writableHighWaterMark + 64 * 1024);
    expect(written).toBeLessThan(total);
    expect(enc.channel.transportBuffered).toBeLessThanOrEqual(enc.channel.highWaterMark);
    const stats = await control<{ stalled: { receiveBuffered: number; bytesReceived: number }[] }>(enc.channel, { op: 'stats' });
    expect(stats.stalled).toEqual([{ receiveBuffered: window, bytesReceived: window }]);

    // Once the reader resumes, everything arrives intact.
    await control(enc.channel, { op: 'resume' });
    expect((await stalledReply).toString()).toBe(sha(payload));
  });

  it('half-closes host→enclave: the enclave still answers after the host’s FIN', async () => {
    const c = await enc.channel.connect(PORTS.sinkHash);
    const reply = readAll(c);
    c.end('some bytes');
    // The agent answers only on 'end', i.e. after our FIN, on the same stream.
    expect((await reply).toString()).toBe(sha(Buffer.from('some bytes')));
  });

  it('half-closes enclave→host: the host reads EOF and can still send', async () => {
    const c = await enc.channel.connect(PORTS.halfClose);
    const fromEnclave = readAll(c);
    expect((await fromEnclave).toString()).toBe('hello from the enclave');
    const data = randomBytes(300_000); // more than one window: credit keeps flowing after the peer's FIN
    await new Promise<void>((r) => c.end(data, r));
    const seen = await control<Record<string, string>>(enc.channel, { op: 'halfclose' });
    expect(seen[String(c.localPort)]).toBe(sha(data));
  });

  it('refuses a connect to a port nobody listens on, in both directions, with ECONNREFUSED', async () => {
    await expect(enc.channel.connect(4242)).rejects.toMatchObject({ code: 'ECONNREFUSED', port: 4242 });
    await expect(control(enc.channel, { op: 'connect', port: 4343 })).resolves.toEqual({ code: 'ECONNREFUSED' });
    expect(enc.channel.alive).toBe(true);
  });

  it('propagates resets both ways as ECONNRESET without disturbing the channel', async () => {
    // Host resets: the enclave's stream errors with ECONNRESET.
    const a = await enc.channel.connect(PORTS.reset);
    a.write('x');
    a.destroy();
    await until(() => enc.channel.connectionCount === 0, 'host stream forgotten');
    // Enclave resets (on seeing 'R'): the host's stream errors with ECONNRESET.
    const b = await enc.channel.connect(PORTS.reset);
    const err = new Promise<NodeJS.ErrnoException>((r) => b.once('error', r));
    b.write('R');
    expect((await err).code).toBe('ECONNRESET');
    expect(await control(enc.channel, { op: 'resets' })).toEqual(['ECONNRESET']);
    expect(enc.channel.alive).toBe(true);
  });

  it('moves 64 MiB each way intact (SHA-256)', async () => {
    const size = 64 << 20;
    const expected = sha256Hex(deterministicStream(7, size));

    // host → enclave
    const up = await enc.channel.connect(PORTS.sinkHash);
    const upReply = readAll(up);
    for (const chunk of deterministicStream(7, size)) {
      if (!up.write(chunk)) await new Promise((r) => up.once('drain', r));
    }
    up.end();
    expect((await upReply).toString()).toBe(expected);

    // enclave → host
    const down = await enc.channel.connect(PORTS.source);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(7, 0);
    head.writeUInt32BE(size, 4);
    const h = createHash('sha256');
    let n = 0;
    down.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    const ended = new Promise((r) => down.on('end', r));
    down.end(head);
    await ended;
    expect(n).toBe(size);
    expect(h.digest('hex')).toBe(expected);
  });

  it('routes NSM requests to the host handler, one at a time, and reports a missing handler', async () => {
    await expect(control(enc.channel, { op: 'nsm', hex: 'a1' })).resolves.toEqual({ code: 'ERR_VSOCK_NSM_UNAVAILABLE' });
    enc.channel.setNsmHandler((req) => Uint8Array.from(req).reverse());
    await expect(control(enc.channel, { op: 'nsm', hex: '010203' })).resolves.toEqual({ hex: '030201' });
    enc.channel.setNsmHandler(() => {
      throw new Error('model failure');
    });
    await expect(control(enc.channel, { op: 'nsm', hex: '01' })).resolves.toEqual({ code: 'ERR_VSOCK_NSM_FAILED' });
    enc.channel.setNsmHandler(undefined);
  });
});

describe('host addressing over real enclave processes', () => {
  const procs: EnclaveProcess[] = [];
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });

  it('connects by (CID, port) and lets every enclave reach a parent listener on CID 3', async () => {
    const registry = new VsockRegistry();
    const cids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const p = await spawnAgent();
      procs.push(p);
      const cid = registry.reserve();
      registry.attach(cid, p.channel);
      cids.push(cid);
    }
    expect(cids).toEqual([16, 17]);
    const seen: (number | undefined)[] = [];
    const l = registry.listen(9100, (c: VsockConnection) => {
      seen.push(c.remoteCid);
      const h = createHash('sha256');
      c.on('data', (d: Buffer) => h.update(d));
      c.on('end', () => c.end(h.digest('hex')));
    });
    for (const cid of cids) {
      const c = await registry.connect(cid, PORTS.echo);
      expect(c.remoteCid).toBe(cid);
      expect(c.localCid).toBe(3);
      const reply = readAll(c);
      c.end(`hello ${cid}`);
      expect((await reply).toString()).toBe(`hello ${cid}`);
      const r = await control<{ ok: number }>(registry.channel(cid)!, { op: 'connect-many', port: 9100, count: 1, size: 10 });
      expect(r.ok).toBe(1);
    }
    expect(seen).toEqual(cids);
    l.close();
    await expect(registry.connect(99, PORTS.echo)).rejects.toMatchObject({ code: 'ERR_VSOCK_UNKNOWN_CID' });
    // An enclave that goes away releases its CID.
    await procs[0]!.stop();
    await until(() => !registry.cids.includes(16), 'CID 16 released');
    await expect(registry.connect(16, PORTS.echo)).rejects.toMatchObject({ code: 'ERR_VSOCK_UNKNOWN_CID' });
  });
});

describe('a hostile enclave process', () => {
  let good: EnclaveProcess;
  beforeAll(async () => {
    good = await spawnAgent();
  });
  afterAll(async () => {
    await good.stop();
  });
  const open = Buffer.alloc(21); // OPEN(id 1, port 9200, src 1024, window 64 KiB)
  open[0] = 0x01;
  open.writeUInt32BE(1, 1);
  open.writeUInt32BE(12, 5);
  open.writeUInt32BE(9200, 9);
  open.writeUInt32BE(1024, 13);
  open.writeUInt32BE(65536, 17);
  const cases: [string, string, string][] = [
    ['an unknown frame type', 'ERR_VSOCK_MALFORMED_FRAME', '7f0000000100000000'],
    ['a DATA frame longer than the 1 MiB limit', 'ERR_VSOCK_MALFORMED_FRAME', '040000000100100001'],
    ['DATA for a stream it never opened', 'ERR_VSOCK_PROTOCOL', '04000000010000000161'],
    // An accepted stream, then a 300 000-byte DATA frame: more than the host's 256 KiB window.
    ['more DATA than the window allows', 'ERR_VSOCK_FLOW_CONTROL', `${open.toString('hex')}0400000001000493e0:300000`],
  ];
  it.each(cases)('sending %s tears down its channel with %s, and only that channel', async (_what, code, bytes) => {
    const p = await spawnAgent(`raw:${bytes}`);
    try {
      const errors: string[] = [];
      p.channel.listen(9200, (c) => c.on('error', (e: NodeJS.ErrnoException) => errors.push(String(e.code))));
      const reason = await p.channel.closed;
      expect(reason.code).toBe(code);
      expect(p.channel.alive).toBe(false);
      await expect(p.channel.connect(1)).rejects.toMatchObject({ code: 'ERR_VSOCK_CHANNEL_CLOSED' });
      // The stream the hostile enclave had opened fails with its channel …
      await until(() => errors.length > 0 || code !== 'ERR_VSOCK_FLOW_CONTROL', 'accepted stream failed');
      expect(errors).toEqual(code === 'ERR_VSOCK_FLOW_CONTROL' ? ['ERR_VSOCK_CHANNEL_CLOSED'] : []);
      // … while the host keeps serving a well-behaved enclave.
      const echo = await good.channel.connect(PORTS.echo);
      const reply = readAll(echo);
      echo.end('still here');
      expect((await reply).toString()).toBe('still here');
      expect(good.channel.alive).toBe(true);
    } finally {
      await p.stop();
    }
  });
});
