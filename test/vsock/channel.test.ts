// The multiplexer in one process, over a real Unix socket pair or a scripted transport: API rules,
// flow control and transport backpressure, NSM routing, and every protocol violation a hostile
// peer can commit (each with its code). Two-process behaviour is in process.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, MAX_NSM_IN_FLIGHT, openEnclaveChannel, type ChannelOptions, type VsockConnection } from '../../enclave/vsock/index.ts';
import { openHostChannel } from '../../host/vsock/index.ts';
import {
  encodeAccept,
  encodeCredit,
  encodeDataSmall,
  encodeEmpty,
  encodeOpen,
  encodeWithPayload,
  FrameType,
} from '../../enclave/vsock/frame.ts';
import { readAll, socketPair, until } from './helpers.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function pair(hostOpts: Partial<ChannelOptions> = {}, enclaveOpts: Partial<ChannelOptions> = {}) {
  const sp = await socketPair();
  const host = new Channel(sp.a, { ...hostOpts, role: 'host' });
  const enclave = new Channel(sp.b, { ...enclaveOpts, role: 'enclave' });
  cleanups.push(() => {
    host.destroy();
    enclave.destroy();
    sp.close();
  });
  return { host, enclave, sp };
}

/** A host channel whose peer is this test, writing raw frames. */
async function rawPeer(role: 'host' | 'enclave' = 'host', opts: Partial<ChannelOptions> = {}) {
  const sp = await socketPair();
  const channel = new Channel(sp.a, { ...opts, role });
  const received: Buffer[] = [];
  sp.b.on('data', (d: Buffer) => received.push(d));
  sp.b.on('error', () => {});
  cleanups.push(() => {
    channel.destroy();
    sp.close();
  });
  return { channel, peer: sp.b, received: () => Buffer.concat(received) };
}

/** A transport that records writes and never completes them when `stuck`. */
function scriptedTransport(stuck = false) {
  const written: Buffer[] = [];
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      if (!stuck) cb();
    },
  });
  return { d, written };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('API rules', () => {
  it('refuses bad ports with ERR_VSOCK_INVALID_PORT', async () => {
    const { host } = await pair();
    for (const port of [-1, 1.5, 2 ** 32 - 1, 2 ** 32, Number.NaN, '80' as unknown as number]) {
      expect(() => host.listen(port, () => {})).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_PORT' }));
      await expect(host.connect(port)).rejects.toMatchObject({ code: 'ERR_VSOCK_INVALID_PORT' });
    }
  });

  it('refuses a second listener on a port with EADDRINUSE, and frees the port on close()', async () => {
    const { host } = await pair();
    const l = host.listen(80, () => {});
    expect(() => host.listen(80, () => {})).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    l.close();
    expect(() => host.listen(80, () => {})).not.toThrow();
  });

  it('refuses bad options with ERR_VSOCK_INVALID_ARGUMENT', () => {
    const { d } = scriptedTransport();
    expect(() => new Channel(d, { role: 'guest' as 'host' })).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }));
    expect(() => new Channel(d, { role: 'host', window: 0 })).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }));
    expect(() => new Channel(d, { role: 'host', maxFrameSize: (1 << 20) + 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }),
    );
  });

  it('refuses to open channel ends on things that are not the channel', () => {
    expect(() => openEnclaveChannel({ fd: -1 })).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }));
    expect(() => openEnclaveChannel({ fd: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }));
    // A descriptor that is not open: Node says ERR_INVALID_FD_TYPE, we say the channel is not there.
    expect(() => openEnclaveChannel({ fd: 999 })).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_CHANNEL_CLOSED' }));
    expect(() => openHostChannel(null)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }));
    expect(() => openHostChannel({} as Duplex)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }));
  });

  it('fails connects on a closed channel with ERR_VSOCK_CHANNEL_CLOSED', async () => {
    const { host } = await pair();
    host.destroy();
    await expect(host.connect(1)).rejects.toMatchObject({ code: 'ERR_VSOCK_CHANNEL_CLOSED' });
  });

  it('fails open streams with ERR_VSOCK_CHANNEL_CLOSED when the peer process goes away', async () => {
    const { host, enclave, sp } = await pair();
    const enclaveSide: string[] = [];
    enclave.listen(1, (s) => s.on('error', (e: NodeJS.ErrnoException) => enclaveSide.push(String(e.code))));
    const c = await host.connect(1);
    const err = new Promise<NodeJS.ErrnoException>((r) => c.once('error', r));
    sp.b.destroy();
    expect((await err).code).toBe('ERR_VSOCK_CHANNEL_CLOSED');
    expect((await host.closed).code).toBe('ERR_VSOCK_CHANNEL_CLOSED');
    // The side whose transport died fails its streams the same way.
    await until(() => enclaveSide.length > 0, 'enclave stream failed');
    expect(enclaveSide).toEqual(['ERR_VSOCK_CHANNEL_CLOSED']);
  });

  it('destroy() without a reason closes streams quietly; close() ends the transport gracefully', async () => {
    const { host, enclave } = await pair();
    enclave.listen(1, (s) => s.on('error', () => {}));
    const c = await host.connect(1);
    const errors: unknown[] = [];
    c.on('error', (e) => errors.push(e));
    const closed = new Promise((r) => c.once('close', r));
    await host.close();
    await closed;
    expect(errors).toEqual([]);
    expect((await enclave.closed).code).toBe('ERR_VSOCK_CHANNEL_CLOSED');
  });

  it('caps connections: local opens fail with ERR_VSOCK_TOO_MANY_CONNECTIONS, remote ones are refused', async () => {
    const { host, enclave } = await pair({ maxConnections: 2 }, { maxConnections: 2 });
    enclave.listen(1, (c) => c.resume());
    host.listen(1, (c) => c.resume());
    await host.connect(1);
    await host.connect(1);
    await expect(host.connect(1)).rejects.toMatchObject({ code: 'ERR_VSOCK_TOO_MANY_CONNECTIONS' });
    // The enclave side already holds two streams, so its own connect is refused by the cap there.
    await expect(enclave.connect(1)).rejects.toMatchObject({ code: 'ERR_VSOCK_TOO_MANY_CONNECTIONS' });
  });

  it('buffers writes and end() made before the peer accepts', async () => {
    const { host, enclave } = await pair();
    enclave.listen(9, (c) => c.pipe(c));
    const c = host.createConnection(9);
    expect(c.state).toBe('opening');
    const reply = readAll(c);
    c.end('early bytes');
    expect((await reply).toString()).toBe('early bytes');
  });

  it('exposes addressing on both ends', async () => {
    const { host, enclave } = await pair({ localCid: 3, remoteCid: 16 }, { remoteCid: 3 });
    const accepted = new Promise<VsockConnection>((r) => enclave.listen(5005, r));
    const c = await host.connect(5005);
    const s = await accepted;
    expect([c.localCid, c.remoteCid, c.remotePort]).toEqual([3, 16, 5005]);
    expect([s.remoteCid, s.localPort, s.remotePort]).toEqual([3, 5005, c.localPort]);
    expect(c.localPort).toBeGreaterThanOrEqual(1024);
  });
});

describe('streams', () => {
  it('round-trips data both ways on many interleaved streams', async () => {
    const { host, enclave } = await pair({ window: 4096 }, { window: 4096 });
    enclave.listen(1, (c) => c.pipe(c));
    const ok = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const c = await host.connect(1);
        const data = randomBytes(20_000);
        const reply = readAll(c);
        c.end(data);
        return sha(await reply) === sha(data);
      }),
    );
    expect(ok.every(Boolean)).toBe(true);
  });

  it('reset before accept reaches the peer as ECONNRESET on the accepted stream', async () => {
    const { host, enclave } = await pair();
    const codes: string[] = [];
    const accepted = new Promise<VsockConnection>((r) =>
      enclave.listen(1, (c) => {
        c.on('error', (e: NodeJS.ErrnoException) => codes.push(String(e.code)));
        r(c);
      }),
    );
    host.createConnection(1).destroy();
    const s = await accepted;
    await until(() => s.destroyed, 'accepted stream reset');
    expect(codes).toEqual(['ECONNRESET']);
  });

  it('a peer that accepts and resets in one write: connect() resolves with no uncaught error, and readAll is ECONNRESET', async () => {
    const { channel, peer } = await rawPeer('host');
    peer.once('data', (open: Buffer) => {
      const id = open.readUInt32BE(1);
      peer.write(Buffer.concat([encodeAccept(id, 65536), encodeEmpty(FrameType.RESET, id)]));
    });
    const conn = await channel.connect(7);
    await expect(readAll(conn)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(channel.alive).toBe(true);
  });

  it('ignores frames that crossed a RESET on the wire (stale stream ids)', async () => {
    const { channel, peer, received } = await rawPeer('host');
    const c = channel.createConnection(1); // id 2
    c.on('error', () => {});
    peer.write(encodeAccept(2, 65536));
    await until(() => c.state === 'open', 'accepted');
    c.destroy();
    // Stale frames for stream 2, then an OPEN to a closed port: its REFUSE proves all were processed.
    peer.write(Buffer.concat([encodeDataSmall(2, Buffer.from('late')), encodeCredit(2, 1), encodeEmpty(FrameType.FIN, 2), encodeOpen(1, 4242, 1024, 10)]));
    const refuse = encodeEmpty(FrameType.REFUSE, 1);
    await until(() => received().includes(refuse), 'REFUSE for stream 1');
    expect(channel.alive).toBe(true);
  });

  it('one-byte DATA frames to a paused reader are gathered, not kept as 65 536 separate buffers', async () => {
    const { channel, peer } = await rawPeer('host', { window: 65536 });
    const accepted = new Promise<VsockConnection>((r) => channel.listen(1, r));
    peer.write(encodeOpen(1, 1, 1024, 65536));
    const c = await accepted;
    c.pause();
    c.read(0); // a paused reader that has asked once: Node's buffer would take every push up to its high-water mark
    const frames = Buffer.concat(Array.from({ length: 65536 }, () => encodeDataSmall(1, Buffer.of(0x61))));
    for (let off = 0; off < frames.length; off += 997) peer.write(frames.subarray(off, off + 997)); // many small reads
    await until(() => c.bytesReceived === 65536, 'whole window received');
    expect(channel.alive).toBe(true);
    expect(c.receiveBuffered).toBe(65536);
    // Node's own buffer (an undocumented but stable BufferList) holds a couple of entries, not 65 536.
    expect((c as unknown as { readableBuffer: { length: number } }).readableBuffer.length).toBeLessThanOrEqual(2);
    const all = await new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      c.on('data', (d: Buffer) => {
        parts.push(d);
        if (parts.reduce((a, p) => a + p.length, 0) === 65536) resolve(Buffer.concat(parts));
      });
      c.resume();
    });
    expect(all.equals(Buffer.alloc(65536, 0x61))).toBe(true);
  });

  it('transport backpressure bounds the bytes queued even when credit does not', async () => {
    // A 64 MiB window takes flow control out of the picture; the peer process does not read its socket.
    const { host, enclave, sp } = await pair({ window: 64 << 20 }, { window: 64 << 20 });
    enclave.listen(1, () => {});
    const c = await host.connect(1);
    sp.b.pause();
    const chunk = Buffer.alloc(64 * 1024);
    let writes = 0;
    const more = (): void => {
      while (writes < 1024 && c.write(chunk)) writes++;
      if (writes < 1024) c.once('drain', more);
    };
    more();
    await until(() => host.congested && c.writableLength >= c.writableHighWaterMark, 'sender blocked on the transport');
    expect(host.transportBuffered).toBeLessThanOrEqual(host.highWaterMark + host.maxFrameSize + 64 * 1024 + 1024);
    expect(c.sendCredit).toBeGreaterThan(32 << 20);
    expect(writes).toBeLessThan(1024);
  });
});

describe('fairness under transport congestion', () => {
  it('streams waiting for the transport to drain take turns (round robin)', async () => {
    // A transport whose writes complete only when the test says so.
    const pendingCbs: (() => void)[] = [];
    const written: Buffer[] = [];
    const t = new Duplex({
      read() {},
      writableHighWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk);
        pendingCbs.push(cb);
      },
    });
    const channel = new Channel(t, { role: 'host', maxFrameSize: 1024, highWaterMark: 2048 });
    const streams = [0, 1, 2].map(() => channel.createConnection(1));
    for (const s of streams) t.push(encodeAccept(s.id, 1 << 20));
    await until(() => streams.every((s) => s.state === 'open'), 'accepted');
    // Each stream has 64 KiB to send, in one write: nothing but the transport holds it back.
    for (const s of streams) s.write(Buffer.alloc(64 * 1024, s.id));
    for (let round = 0; round < 10_000 && streams.some((s) => s.bytesSent < 64 * 1024); round++) {
      while (pendingCbs.length > 0) pendingCbs.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    // Decode what went out and look at the order of DATA frames.
    const ids: number[] = [];
    const { FrameDecoder: Decoder } = await import('../../enclave/vsock/frame.ts');
    const dec = new Decoder({ onControl: () => {}, onData: (id, _p, end) => end && ids.push(id) });
    for (const w of written) dec.push(w);
    expect(ids.length).toBe(3 * 64);
    // Past the first burst (written before the transport pushed back), every six consecutive
    // frames carry all three streams: each drain serves each waiting stream in turn.
    for (let i = 6; i + 6 <= 150; i++) expect(new Set(ids.slice(i, i + 6)).size).toBe(3);
    channel.destroy();
  });
});

describe('NSM routing', () => {
  it('answers in arrival order, one at a time, queueing beyond MAX_NSM_IN_FLIGHT on the enclave side', async () => {
    const { host, enclave } = await pair();
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    host.setNsmHandler(async (req) => {
      active++;
      maxActive = Math.max(maxActive, active);
      seen.push(req[0]!);
      await new Promise((r) => setImmediate(r));
      active--;
      return Uint8Array.of(req[0]! + 1);
    });
    const n = MAX_NSM_IN_FLIGHT * 3;
    const res = await Promise.all(Array.from({ length: n }, (_, i) => enclave.nsmRequest(Uint8Array.of(i))));
    expect(res.map((r) => r[0])).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(maxActive).toBe(1);
  });

  it('rejects requests the device would refuse', async () => {
    const { host, enclave } = await pair();
    await expect(enclave.nsmRequest(new Uint8Array(0))).rejects.toMatchObject({ code: 'ERR_VSOCK_NSM_TOO_LARGE' });
    await expect(enclave.nsmRequest(new Uint8Array(4097))).rejects.toMatchObject({ code: 'ERR_VSOCK_NSM_TOO_LARGE' });
    await expect(enclave.nsmRequest('a1' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'ERR_VSOCK_INVALID_ARGUMENT' });
    await expect(host.nsmRequest(Uint8Array.of(1))).rejects.toMatchObject({ code: 'ERR_VSOCK_NSM_UNAVAILABLE' });
  });

  it('turns a failing or oversized handler answer into ERR_VSOCK_NSM_FAILED and reports it on the host', async () => {
    const { host, enclave } = await pair();
    const hostErrors: unknown[] = [];
    host.on('nsm-error', (e) => hostErrors.push(e));
    host.setNsmHandler(() => new Uint8Array(0x3001));
    await expect(enclave.nsmRequest(Uint8Array.of(1))).rejects.toMatchObject({ code: 'ERR_VSOCK_NSM_FAILED' });
    host.setNsmHandler(() => Promise.reject(new Error('boom')));
    await expect(enclave.nsmRequest(Uint8Array.of(1))).rejects.toMatchObject({ code: 'ERR_VSOCK_NSM_FAILED' });
    expect(hostErrors).toHaveLength(2);
    expect(enclave.alive).toBe(true);
  });

  it('rejects outstanding requests with ERR_VSOCK_CHANNEL_CLOSED when the channel goes', async () => {
    const { host, enclave } = await pair();
    let reached = false;
    host.setNsmHandler(() => {
      reached = true;
      return new Promise<Uint8Array>(() => {});
    });
    const p = enclave.nsmRequest(Uint8Array.of(1));
    await until(() => reached, 'request reached the host');
    host.destroy();
    await expect(p).rejects.toMatchObject({ code: 'ERR_VSOCK_CHANNEL_CLOSED' });
  });
});

describe('a hostile peer: each violation tears down the channel with its code', () => {
  const open = (id: number, port = 1, window = 65536): Buffer => encodeOpen(id, port, 1024, window);
  const cases: [string, 'host' | 'enclave', () => Buffer, string][] = [
    ['OPEN with the other side’s id parity', 'host', () => open(2), 'ERR_VSOCK_PROTOCOL'],
    ['OPEN reusing an id', 'host', () => Buffer.concat([open(3), open(3)]), 'ERR_VSOCK_PROTOCOL'],
    ['OPEN with ids going backwards', 'host', () => Buffer.concat([open(5), open(3)]), 'ERR_VSOCK_PROTOCOL'],
    ['OPEN with a zero window', 'host', () => open(1, 1, 0), 'ERR_VSOCK_PROTOCOL'],
    ['ACCEPT for a stream the peer opened', 'host', () => Buffer.concat([open(1), encodeAccept(1, 10)]), 'ERR_VSOCK_PROTOCOL'],
    ['ACCEPT for a stream never opened', 'host', () => encodeAccept(2, 10), 'ERR_VSOCK_PROTOCOL'],
    ['REFUSE for a stream never opened', 'host', () => encodeEmpty(FrameType.REFUSE, 4), 'ERR_VSOCK_PROTOCOL'],
    ['DATA for a stream never opened', 'host', () => encodeDataSmall(1, Buffer.from('x')), 'ERR_VSOCK_PROTOCOL'],
    ['DATA after FIN', 'host', () => Buffer.concat([open(1), encodeEmpty(FrameType.FIN, 1), encodeDataSmall(1, Buffer.from('x'))]), 'ERR_VSOCK_PROTOCOL'],
    ['a second FIN', 'host', () => Buffer.concat([open(1), encodeEmpty(FrameType.FIN, 1), encodeEmpty(FrameType.FIN, 1)]), 'ERR_VSOCK_PROTOCOL'],
    ['DATA beyond the window', 'host', () => Buffer.concat([open(1), encodeDataSmall(1, Buffer.alloc(1000))]), 'ERR_VSOCK_FLOW_CONTROL'],
    ['CREDIT of zero', 'host', () => Buffer.concat([open(1), encodeCredit(1, 0)]), 'ERR_VSOCK_FLOW_CONTROL'],
    ['CREDIT for bytes never sent', 'host', () => Buffer.concat([open(1), encodeCredit(1, 1)]), 'ERR_VSOCK_FLOW_CONTROL'],
    ['NSM_RESPONSE sent to the host', 'host', () => encodeWithPayload(FrameType.NSM_RESPONSE, 1, Uint8Array.of(1)), 'ERR_VSOCK_PROTOCOL'],
    ['NSM_REQUEST sent to the enclave', 'enclave', () => encodeWithPayload(FrameType.NSM_REQUEST, 1, Uint8Array.of(1)), 'ERR_VSOCK_PROTOCOL'],
    ['NSM_RESPONSE nobody asked for', 'enclave', () => encodeWithPayload(FrameType.NSM_RESPONSE, 9, Uint8Array.of(1)), 'ERR_VSOCK_PROTOCOL'],
    ['NSM_ERROR nobody asked for', 'enclave', () => encodeWithPayload(FrameType.NSM_ERROR, 9, Uint8Array.of(2)), 'ERR_VSOCK_PROTOCOL'],
    [
      `more than ${MAX_NSM_IN_FLIGHT} NSM requests outstanding`,
      'host',
      () => Buffer.concat(Array.from({ length: MAX_NSM_IN_FLIGHT + 1 }, (_, i) => encodeWithPayload(FrameType.NSM_REQUEST, i + 1, Uint8Array.of(1)))),
      'ERR_VSOCK_PROTOCOL',
    ],
    ['an unknown frame type', 'host', () => Buffer.from('200000000100000000', 'hex'), 'ERR_VSOCK_MALFORMED_FRAME'],
  ];
  it.each(cases)('%s (%s side) → %s', async (_what, role, bytes, code) => {
    const { channel, peer } = await rawPeer(role, { window: 512 });
    channel.listen(1, (c) => c.on('error', () => {}));
    channel.setNsmHandler(() => new Promise<Uint8Array>(() => {}));
    peer.write(bytes());
    const reason = await channel.closed;
    expect(reason.code).toBe(code);
  });

  it('a frame cut off by the end of the stream → ERR_VSOCK_MALFORMED_FRAME', async () => {
    const { channel, peer } = await rawPeer('host');
    peer.end(encodeOpen(1, 1, 1024, 10).subarray(0, 15));
    expect((await channel.closed).code).toBe('ERR_VSOCK_MALFORMED_FRAME');
  });

  it('a clean end of the stream → ERR_VSOCK_CHANNEL_CLOSED', async () => {
    const { channel, peer } = await rawPeer('host');
    peer.end();
    expect((await channel.closed).code).toBe('ERR_VSOCK_CHANNEL_CLOSED');
  });

  it('a peer that floods OPENs without reading its side → ERR_VSOCK_TRANSPORT_OVERFLOW', async () => {
    const { d } = scriptedTransport(true);
    const channel = new Channel(d, { role: 'host', hardLimit: 64 * 1024 });
    const flood = Buffer.concat(Array.from({ length: 20_000 }, (_, i) => encodeOpen(2 * i + 1, 7, 1024, 100)));
    d.push(flood);
    expect((await channel.closed).code).toBe('ERR_VSOCK_TRANSPORT_OVERFLOW');
  });
});

describe('channel fuzzing (fast-check): random frame sequences never crash the host', () => {
  const frame = fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 8 }), fc.constantFrom(1, 2, 3), fc.integer({ min: 0, max: 4096 })).map(([id, port, w]) => encodeOpen(id, port, 1024, w)),
    fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 4096 })).map(([id, w]) => encodeAccept(id, w)),
    fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 300 })).map(([id, n]) => encodeCredit(id, n)),
    fc.tuple(fc.integer({ min: 1, max: 8 }), fc.uint8Array({ minLength: 1, maxLength: 700 })).map(([id, p]) => encodeDataSmall(id, p)),
    fc.tuple(fc.constantFrom(FrameType.REFUSE, FrameType.FIN, FrameType.RESET), fc.integer({ min: 1, max: 8 })).map(([t, id]) => encodeEmpty(t, id)),
    fc.tuple(fc.constantFrom(FrameType.NSM_REQUEST, FrameType.NSM_RESPONSE), fc.integer({ min: 1, max: 4 })).map(([t, id]) => encodeWithPayload(t, id, Uint8Array.of(1))),
    fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Buffer.from(b)),
  );
  it.each(['host', 'enclave'] as const)('as the %s side', async (role) => {
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 25 }), async (frames) => {
        const { d } = scriptedTransport();
        const channel = new Channel(d, { role, window: 1024 });
        const errors: string[] = [];
        const accept = (c: VsockConnection): void => {
          c.on('error', (e: NodeJS.ErrnoException) => errors.push(String(e.code)));
          c.resume();
        };
        channel.listen(1, accept);
        channel.listen(2, (c) => c.on('error', () => {}));
        channel.setNsmHandler((r) => r);
        // Our own streams (even ids for the host, odd for the enclave) so ACCEPT/CREDIT can hit them.
        for (let i = 0; i < 3; i++) {
          const c = channel.createConnection(1);
          c.on('error', () => {});
          c.write(Buffer.alloc(200));
        }
        for (const f of frames) d.push(f);
        await new Promise((r) => setImmediate(r));
        const reason = channel.closeReason;
        if (reason) expect(['ERR_VSOCK_PROTOCOL', 'ERR_VSOCK_FLOW_CONTROL', 'ERR_VSOCK_MALFORMED_FRAME']).toContain(reason.code);
        for (const e of errors) expect(['ECONNRESET', 'ERR_VSOCK_CHANNEL_CLOSED']).toContain(e);
        channel.destroy();
        await new Promise((r) => setImmediate(r));
      }),
      { numRuns: 300 },
    );
  });
});

describe('application errors', () => {
  it('an exception from a listener is raised uncaught as from a socket, and is not blamed on the peer', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const script = fileURLToPath(new URL('./fixtures/app-throws.ts', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.once('exit', r));
    expect(JSON.parse(out)).toEqual({ uncaught: ['application bug'], echo: 'still flowing', hostAlive: true, enclaveAlive: true });
  });
});
