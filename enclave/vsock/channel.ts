// The multiplexer: many vsock stream connections and the NSM device over ONE byte stream (the
// socket pair between host and enclave process). Protocol in PROTOCOL.md. Hand-written because the
// existing multiplexers (yamux, mplex, HTTP/2) bring either a dependency tree or a protocol far
// larger than the seven frame types vsock semantics need.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, VsockConnection, type ConnectionHost } from './connection.ts';
import { MalformedFrameError, ProtocolError, VsockError } from './errors.ts';
import {
  encodeAccept,
  encodeDataHeader,
  encodeDataSmall,
  encodeEmpty,
  encodeOpen,
  encodeWithPayload,
  FrameDecoder,
  FrameType,
  frameTypeName,
  MAX_DATA_PAYLOAD,
  MAX_U32,
  NSM_REQUEST_MAX_SIZE,
  NSM_RESPONSE_MAX_SIZE,
  NsmErrorReason,
  type FrameSink,
} from './frame.ts';

export type ChannelRole = 'host' | 'enclave';

/** Host side: answers the enclave's NSM requests (CBOR in, CBOR out). */
export type NsmHandler = (request: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export type ConnectionHandler = (conn: VsockConnection) => void;

export interface ChannelOptions {
  /** Which end this is. Host-opened streams get even ids, enclave-opened ones odd ids. */
  readonly role: ChannelRole;
  /**
   * Receive window per connection in bytes: the most a peer may have in flight. Default 256 KiB,
   * Linux vsock's default socket buffer (VSOCK_DEFAULT_BUFFER_SIZE), whose virtio transport uses
   * the same credit scheme (buf_alloc / fwd_cnt).
   */
  readonly window?: number;
  /** Largest DATA frame this side sends (default 64 KiB, at most 1 MiB). */
  readonly maxFrameSize?: number;
  /**
   * Concurrent connections; OPENs beyond it are refused (default 1024). With the window this bounds
   * what a peer can make us buffer: maxConnections × (window + readableHighWaterMark).
   */
  readonly maxConnections?: number;
  /** Transport bytes queued above which data senders pause until 'drain' (default 256 KiB). */
  readonly highWaterMark?: number;
  /**
   * Transport bytes queued above which the channel is torn down (default 8 MiB). Only control
   * frames can push the queue past highWaterMark, so this trips only for a peer that floods the
   * channel without reading its side.
   */
  readonly hardLimit?: number;
  readonly nsmHandler?: NsmHandler;
  readonly localCid?: number;
  readonly remoteCid?: number;
}

export interface VsockListener {
  readonly port: number;
  close(): void;
}

/** NSM requests outstanding at once; more wait locally on the enclave side (the device is serial). */
export const MAX_NSM_IN_FLIGHT = 16;
/** Linux vsock hands out ephemeral ports from 1024 up (net/vmw_vsock/af_vsock.c, LAST_RESERVED_PORT). */
const FIRST_EPHEMERAL_PORT = 1024;
/** VMADDR_PORT_ANY: not a port one can listen on or connect to. */
export const VMADDR_PORT_ANY = MAX_U32;

export function assertPort(port: unknown, what = 'port'): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port >= VMADDR_PORT_ANY) {
    throw new VsockError('ERR_VSOCK_INVALID_PORT', `${what} must be an integer in [0, 2^32-2], got ${String(port)}`);
  }
}

function ignore(): void {}

function positiveInt(v: number | undefined, dflt: number, max: number, what: string): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < 1 || x > max) {
    throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', `${what} must be an integer in [1, ${max}], got ${x}`);
  }
  return x;
}

interface PendingNsm {
  readonly resolve: (b: Uint8Array) => void;
  readonly reject: (e: Error) => void;
}

/**
 * Emits 'close' (reason: VsockError) once, when the channel is torn down; 'nsm-error' (error) when
 * the host's NSM handler fails. Never emits 'error': a hostile peer must not be able to crash a host
 * that forgot a listener. The reason is also on `closeReason`.
 */
export class Channel extends EventEmitter implements ConnectionHost {
  readonly role: ChannelRole;
  readonly window: number;
  readonly maxFrameSize: number;
  readonly maxConnections: number;
  readonly highWaterMark: number;
  readonly hardLimit: number;
  localCid: number | undefined;
  remoteCid: number | undefined;

  readonly #transport: Duplex;
  readonly #decoder: FrameDecoder;
  readonly #conns = new Map<number, VsockConnection>();
  readonly #listeners = new Map<number, { handler: ConnectionHandler; options: ConnectionOptions | undefined }>();
  #nextId: number;
  #peerMaxId = 0;
  #nextLocalPort = FIRST_EPHEMERAL_PORT;

  // Output batching: frames queued during one tick go out in one write (or one writev).
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushScheduled = false;
  #congested = false;
  #drainWaiters: VsockConnection[] = [];
  readonly #waiting = new Set<VsockConnection>();

  // NSM.
  #nsmHandler: NsmHandler | undefined;
  #nsmNextId = 1;
  readonly #nsmPending = new Map<number, PendingNsm>();
  readonly #nsmBacklog: { bytes: Uint8Array; pending: PendingNsm }[] = [];
  #nsmServing = 0;
  #nsmChain: Promise<void> = Promise.resolve();

  #closeReason: VsockError | undefined;
  #graceful = false;
  readonly #closed: Promise<VsockError>;
  #resolveClosed!: (e: VsockError) => void;

  constructor(transport: Duplex, options: ChannelOptions) {
    super();
    if (options.role !== 'host' && options.role !== 'enclave') {
      throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', `role must be 'host' or 'enclave'`);
    }
    this.role = options.role;
    this.window = positiveInt(options.window, 256 * 1024, MAX_U32, 'window');
    this.maxFrameSize = positiveInt(options.maxFrameSize, 64 * 1024, MAX_DATA_PAYLOAD, 'maxFrameSize');
    this.maxConnections = positiveInt(options.maxConnections, 1024, 1 << 30, 'maxConnections');
    this.highWaterMark = positiveInt(options.highWaterMark, 256 * 1024, 1 << 30, 'highWaterMark');
    this.hardLimit = positiveInt(options.hardLimit, 8 << 20, 1 << 30, 'hardLimit');
    this.localCid = options.localCid;
    this.remoteCid = options.remoteCid;
    this.#nsmHandler = options.nsmHandler;
    this.#nextId = this.role === 'host' ? 2 : 1;
    this.#closed = new Promise((r) => (this.#resolveClosed = r));

    this.#transport = transport;
    this.#decoder = new FrameDecoder(this.#sink);
    transport.on('data', this.#onTransportData);
    transport.on('end', this.#onTransportEnd);
    transport.on('error', this.#onTransportError);
    transport.on('close', this.#onTransportClose);
    transport.on('drain', this.#onDrain);
  }

  // ---- public API -------------------------------------------------------------------------

  get alive(): boolean {
    return this.#closeReason === undefined;
  }
  get closeReason(): VsockError | undefined {
    return this.#closeReason;
  }
  /** Resolves with the reason once the channel is torn down. */
  get closed(): Promise<VsockError> {
    return this.#closed;
  }
  get connectionCount(): number {
    return this.#conns.size;
  }
  /** Bytes queued for the transport: ours not yet written plus the transport's own buffer. */
  get transportBuffered(): number {
    return this.#outBytes + this.#transport.writableLength;
  }
  get congested(): boolean {
    return this.#congested;
  }

  /** Accepts connections to `port` on this channel. Throws EADDRINUSE if someone already listens. */
  listen(port: number, handler: ConnectionHandler, options?: ConnectionOptions): VsockListener {
    assertPort(port);
    if (typeof handler !== 'function') throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', 'handler must be a function');
    if (this.#listeners.has(port)) throw new VsockError('EADDRINUSE', `vsock port ${port} is already listened on`);
    const entry = { handler, options };
    this.#listeners.set(port, entry);
    return {
      port,
      close: () => {
        if (this.#listeners.get(port) === entry) this.#listeners.delete(port);
      },
    };
  }

  isListening(port: number): boolean {
    return this.#listeners.has(port);
  }

  /**
   * Opens a stream to the peer's `port` and returns it at once, like net.connect(): it emits
   * 'connect' when accepted, or 'error' with code ECONNREFUSED. Writes before 'connect' are buffered.
   */
  createConnection(port: number, options?: ConnectionOptions): VsockConnection {
    assertPort(port);
    if (!this.alive) throw this.#channelClosedError();
    if (this.#conns.size >= this.maxConnections) {
      throw new VsockError('ERR_VSOCK_TOO_MANY_CONNECTIONS', `at most ${this.maxConnections} connections per channel`);
    }
    if (this.#nextId > MAX_U32) {
      throw new VsockError('ERR_VSOCK_TOO_MANY_CONNECTIONS', 'stream ids exhausted on this channel');
    }
    const id = this.#nextId;
    this.#nextId += 2;
    const localPort = this.#nextLocalPort;
    this.#nextLocalPort = localPort >= VMADDR_PORT_ANY - 1 ? FIRST_EPHEMERAL_PORT : localPort + 1;
    const conn = new VsockConnection({ host: this, id, localPort, remotePort: port, window: this.window, peerWindow: undefined, options });
    this.#conns.set(id, conn);
    this.sendControl(encodeOpen(id, port, localPort, this.window));
    return conn;
  }

  /**
   * Opens a stream and resolves once the peer accepted it; rejects with ECONNREFUSED etc. The
   * stream may already be reset when the caller gets it (its error is then on `errored`).
   */
  connect(port: number, options?: ConnectionOptions): Promise<VsockConnection> {
    let conn: VsockConnection;
    try {
      conn = this.createConnection(port, options);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      // Stays on the stream: a RESET in the same read as the ACCEPT emits 'error' (next tick)
      // before the caller's await resumes and can listen, and a peer must not be able to raise an
      // uncaught exception in its caller that way. The caller's own listeners still get the error.
      conn.on('error', ignore);
      const onError = (err: Error): void => {
        conn.off('connect', onConnect);
        reject(err);
      };
      const onConnect = (): void => {
        conn.off('error', onError);
        resolve(conn);
      };
      conn.once('error', onError);
      conn.once('connect', onConnect);
    });
  }

  /** Host side: installs (or removes, with undefined) the handler that answers NSM requests. */
  setNsmHandler(handler: NsmHandler | undefined): void {
    this.#nsmHandler = handler;
  }

  /** Enclave side: sends one NSM request (CBOR bytes) to the host's NSM model; resolves with its response. */
  nsmRequest(request: Uint8Array): Promise<Uint8Array> {
    if (this.role !== 'enclave') {
      return Promise.reject(new VsockError('ERR_VSOCK_NSM_UNAVAILABLE', 'only the enclave side has an NSM device'));
    }
    if (!(request instanceof Uint8Array)) {
      return Promise.reject(new VsockError('ERR_VSOCK_INVALID_ARGUMENT', 'NSM request must be a Uint8Array'));
    }
    if (request.length < 1 || request.length > NSM_REQUEST_MAX_SIZE) {
      return Promise.reject(
        new VsockError('ERR_VSOCK_NSM_TOO_LARGE', `NSM request must be 1..${NSM_REQUEST_MAX_SIZE} bytes, got ${request.length}`),
      );
    }
    if (!this.alive) return Promise.reject(this.#channelClosedError());
    const bytes = Uint8Array.prototype.slice.call(request); // copy in: the caller may reuse its buffer
    return new Promise((resolve, reject) => {
      const pending = { resolve, reject };
      if (this.#nsmPending.size >= MAX_NSM_IN_FLIGHT) this.#nsmBacklog.push({ bytes, pending });
      else this.#sendNsm(bytes, pending);
    });
  }

  /**
   * Tears the channel down. With a reason (a peer violation, a failed transport), every open
   * connection fails with ERR_VSOCK_CHANNEL_CLOSED carrying it as `cause`; without one (the host
   * chose to close), connections are destroyed quietly, as socket.destroy() does.
   */
  destroy(reason?: Error): void {
    if (this.#closeReason) return;
    const err =
      reason instanceof VsockError ? reason : new VsockError('ERR_VSOCK_CHANNEL_CLOSED', 'vsock channel closed', reason ? { cause: reason } : undefined);
    this.#closeReason = err;
    const connErr =
      reason === undefined
        ? undefined
        : err.code === 'ERR_VSOCK_CHANNEL_CLOSED'
          ? err
          : new VsockError('ERR_VSOCK_CHANNEL_CLOSED', 'vsock channel closed', { cause: err });
    for (const conn of [...this.#conns.values()]) conn._onChannelClosed(connErr);
    this.#conns.clear();
    const nsmErr = connErr ?? err;
    for (const p of this.#nsmPending.values()) p.reject(nsmErr);
    this.#nsmPending.clear();
    for (const b of this.#nsmBacklog) b.pending.reject(nsmErr);
    this.#nsmBacklog.length = 0;
    this.#drainWaiters = [];
    this.#waiting.clear();
    this.#out = [];
    this.#outBytes = 0;
    const t = this.#transport;
    t.off('data', this.#onTransportData);
    t.off('drain', this.#onDrain);
    // Keep an error listener: a late EPIPE on a dead transport must not become an uncaught error.
    if (this.#graceful) t.end(() => t.destroy());
    else t.destroy();
    this.#resolveClosed(err);
    this.emit('close', err);
  }

  /**
   * Graceful close: frames already queued are still written, then the transport is ended; open
   * connections are destroyed quietly here and fail with ERR_VSOCK_CHANNEL_CLOSED on the peer.
   */
  close(): Promise<VsockError> {
    if (this.alive) {
      this.#flush();
      this.#graceful = true;
      this.destroy();
    }
    return this.#closed;
  }

  // ---- ConnectionHost (used by VsockConnection) -------------------------------------------

  /** @internal */
  sendData(id: number, chunk: Buffer, start: number, end: number): void {
    if (!this.alive) return;
    const n = end - start;
    // Small payloads: one buffer (header + copy) is cheaper than two; bulk: no copy.
    if (n <= 1024) this.#enqueue(encodeDataSmall(id, chunk.subarray(start, end)));
    else {
      this.#enqueue(encodeDataHeader(id, n));
      this.#enqueue(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
    }
  }

  /** @internal */
  sendControl(frame: Buffer): void {
    if (!this.alive) return;
    this.#enqueue(frame);
    if (this.#outBytes + this.#transport.writableLength > this.hardLimit) {
      this.destroy(new VsockError('ERR_VSOCK_TRANSPORT_OVERFLOW', 'peer does not read the channel'));
    }
  }

  /** @internal */
  waitForDrain(conn: VsockConnection): void {
    if (this.#waiting.has(conn)) return;
    this.#waiting.add(conn);
    this.#drainWaiters.push(conn);
  }

  /** @internal */
  forget(id: number, conn: VsockConnection): void {
    if (this.#conns.get(id) === conn) this.#conns.delete(id);
    this.#waiting.delete(conn);
  }

  // ---- output -----------------------------------------------------------------------------

  #enqueue(buf: Buffer): void {
    this.#out.push(buf);
    this.#outBytes += buf.length;
    if (this.#outBytes >= this.highWaterMark) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flushTick);
    }
  }

  readonly #flushTick = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const out = this.#out;
    if (out.length === 0 || !this.alive) return;
    const bytes = this.#outBytes;
    this.#out = [];
    this.#outBytes = 0;
    const t = this.#transport;
    let ok: boolean;
    if (out.length === 1) ok = t.write(out[0]);
    else if (bytes <= 16 * 1024) ok = t.write(Buffer.concat(out, bytes));
    else {
      // cork/uncork turns the batch into one writev without copying bulk payloads.
      t.cork();
      ok = true;
      for (const b of out) ok = t.write(b);
      t.uncork();
    }
    if (!ok) this.#congested = true;
  }

  readonly #onDrain = (): void => {
    this.#congested = false;
    // Round robin: resume waiters in the order they blocked; one that blocks again goes to the back.
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    this.#waiting.clear();
    for (let i = 0; i < waiters.length; i++) {
      if (this.#congested) {
        // The stream that just blocked again re-queued itself; put the ones not yet served first.
        const blockedAgain = this.#drainWaiters;
        this.#drainWaiters = [];
        this.#waiting.clear();
        for (let j = i; j < waiters.length; j++) this.waitForDrain(waiters[j]!);
        for (const c of blockedAgain) this.waitForDrain(c);
        break;
      }
      const c = waiters[i]!;
      if (!c.destroyed) c._resume();
    }
  };

  // ---- input ------------------------------------------------------------------------------

  readonly #onTransportData = (chunk: Buffer): void => {
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      if (err instanceof MalformedFrameError || err instanceof ProtocolError) {
        // Anything the peer can cause lands here as a typed error and ends only this channel.
        this.destroy(err);
        return;
      }
      // Only a bug of this module can get here (#applicationThrew handles the application's):
      // the rest of this read is lost, so the channel cannot go on.
      this.destroy(new ProtocolError(`internal error while decoding: ${String(err)}`));
    }
  };

  readonly #onTransportEnd = (): void => {
    if (!this.#decoder.idle) this.destroy(new VsockError('ERR_VSOCK_MALFORMED_FRAME', 'channel ended in the middle of a frame'));
    else this.destroy(new VsockError('ERR_VSOCK_CHANNEL_CLOSED', 'peer closed the channel'));
  };

  readonly #onTransportError = (err: Error): void => {
    this.destroy(new VsockError('ERR_VSOCK_CHANNEL_CLOSED', `vsock transport failed: ${err.message}`, { cause: err }));
  };

  readonly #onTransportClose = (): void => {
    this.destroy(new VsockError('ERR_VSOCK_CHANNEL_CLOSED', 'vsock transport closed'));
  };

  #channelClosedError(): VsockError {
    const r = this.#closeReason;
    return r && r.code === 'ERR_VSOCK_CHANNEL_CLOSED' ? r : new VsockError('ERR_VSOCK_CHANNEL_CLOSED', 'vsock channel closed', { cause: r });
  }

  /** Ids the peer opens have the peer's parity; ours the other. */
  #isPeerId(id: number): boolean {
    return (id & 1) === (this.role === 'host' ? 1 : 0);
  }

  /**
   * Finds the stream a frame is for. A frame for a stream that existed and is gone (we reset it, or
   * it closed) is stale and ignored: it crossed our RESET on the wire. A frame for an id that was
   * never opened is a protocol violation.
   */
  #stream(type: number, id: number): VsockConnection | undefined {
    const conn = this.#conns.get(id);
    if (conn) return conn;
    const everOpened = this.#isPeerId(id) ? id <= this.#peerMaxId : id < this.#nextId;
    if (!everOpened) throw new ProtocolError(`${frameTypeName(type)} for stream ${id} that was never opened`);
    return undefined;
  }

  /**
   * Delivering a frame runs application code synchronously ('data' and 'connect' listeners, write
   * callbacks). If that throws, it is the application's exception: raised uncaught, as it would be
   * from a net.Socket handler, while the channel and its other streams go on. The peer's faults
   * (MalformedFrameError, ProtocolError) propagate and tear the channel down.
   */
  #applicationThrew(err: unknown): void {
    if (err instanceof MalformedFrameError || err instanceof ProtocolError) throw err;
    process.nextTick(() => {
      throw err;
    });
  }

  readonly #sink: FrameSink = {
    onData: (id, piece) => {
      if (!this.alive) return;
      const conn = this.#stream(FrameType.DATA, id);
      if (!conn) return;
      try {
        conn._onData(piece);
      } catch (err) {
        this.#applicationThrew(err);
      }
    },
    onControl: (type, id, payload) => {
      if (!this.alive) return;
      try {
        this.#dispatchControl(type, id, payload);
      } catch (err) {
        this.#applicationThrew(err);
      }
    },
  };

  #dispatchControl(type: number, id: number, payload: Buffer): void {
    switch (type) {
      case FrameType.OPEN:
        return this.#onOpen(id, payload.readUInt32BE(0), payload.readUInt32BE(4), payload.readUInt32BE(8));
      case FrameType.ACCEPT: {
        if (this.#isPeerId(id)) throw new ProtocolError(`ACCEPT for stream ${id} opened by the peer`);
        const w = payload.readUInt32BE(0);
        if (w === 0) throw new ProtocolError(`ACCEPT for stream ${id} with a zero window`);
        return this.#stream(type, id)?._onAccept(w);
      }
      case FrameType.REFUSE:
        if (this.#isPeerId(id)) throw new ProtocolError(`REFUSE for stream ${id} opened by the peer`);
        return this.#stream(type, id)?._onRefuse();
      case FrameType.CREDIT: {
        const inc = payload.readUInt32BE(0);
        if (inc === 0) throw new ProtocolError(`CREDIT of 0 on stream ${id}`, 'ERR_VSOCK_FLOW_CONTROL');
        return this.#stream(type, id)?._onCredit(inc);
      }
      case FrameType.FIN:
        return this.#stream(type, id)?._onFin();
      case FrameType.RESET:
        return this.#stream(type, id)?._onReset();
      case FrameType.NSM_REQUEST:
        return this.#onNsmRequest(id, payload);
      case FrameType.NSM_RESPONSE:
      case FrameType.NSM_ERROR:
        return this.#onNsmResponse(type, id, payload);
      default:
        // checkHeader already refused unknown types; this guards a future type added there only.
        throw new ProtocolError(`unexpected ${frameTypeName(type)} frame`);
    }
  }

  #onOpen(id: number, port: number, srcPort: number, peerWindow: number): void {
    if (!this.#isPeerId(id) || id <= this.#peerMaxId) {
      throw new ProtocolError(`OPEN with stream id ${id} out of sequence`);
    }
    if (peerWindow === 0) throw new ProtocolError(`OPEN for stream ${id} with a zero window`);
    this.#peerMaxId = id;
    const entry = port === VMADDR_PORT_ANY ? undefined : this.#listeners.get(port);
    if (!entry || this.#conns.size >= this.maxConnections) {
      this.sendControl(encodeEmpty(FrameType.REFUSE, id));
      return;
    }
    const conn = new VsockConnection({
      host: this,
      id,
      localPort: port,
      remotePort: srcPort,
      window: this.window,
      peerWindow,
      options: entry.options,
    });
    this.#conns.set(id, conn);
    this.sendControl(encodeAccept(id, this.window));
    // Deferred like net.Server's 'connection': a throwing handler is the application's bug, not
    // something to be reported as a protocol error of this channel.
    process.nextTick(entry.handler, conn);
  }

  // ---- NSM --------------------------------------------------------------------------------

  #sendNsm(bytes: Uint8Array, pending: PendingNsm): void {
    let id = this.#nsmNextId;
    while (this.#nsmPending.has(id)) id = id >= MAX_U32 ? 1 : id + 1;
    this.#nsmNextId = id >= MAX_U32 ? 1 : id + 1;
    this.#nsmPending.set(id, pending);
    this.sendControl(encodeWithPayload(FrameType.NSM_REQUEST, id, bytes));
  }

  #onNsmResponse(type: number, id: number, payload: Buffer): void {
    if (this.role !== 'enclave') throw new ProtocolError(`${frameTypeName(type)} sent to the host`);
    const pending = this.#nsmPending.get(id);
    if (!pending) throw new ProtocolError(`${frameTypeName(type)} for NSM request ${id} that is not outstanding`);
    this.#nsmPending.delete(id);
    if (type === FrameType.NSM_RESPONSE) pending.resolve(new Uint8Array(payload)); // copy out of the read buffer
    else if (payload[0] === NsmErrorReason.NO_HANDLER) {
      pending.reject(new VsockError('ERR_VSOCK_NSM_UNAVAILABLE', 'the host has no NSM device for this enclave'));
    } else pending.reject(new VsockError('ERR_VSOCK_NSM_FAILED', 'NSM request failed'));
    const next = this.#nsmBacklog.shift();
    if (next) this.#sendNsm(next.bytes, next.pending);
  }

  #onNsmRequest(id: number, payload: Buffer): void {
    if (this.role !== 'host') throw new ProtocolError('NSM_REQUEST sent to the enclave');
    if (this.#nsmServing >= MAX_NSM_IN_FLIGHT) {
      throw new ProtocolError(`more than ${MAX_NSM_IN_FLIGHT} NSM requests outstanding`);
    }
    this.#nsmServing++;
    const request = new Uint8Array(payload); // copy: the handler may run after this read buffer is reused
    // Requests are answered one at a time in arrival order, like the single NSM device: an
    // ExtendPCR followed by a DescribePCR must see the extension.
    this.#nsmChain = this.#nsmChain.then(async () => {
      let frame: Buffer;
      try {
        const handler = this.#nsmHandler;
        if (!handler) frame = encodeWithPayload(FrameType.NSM_ERROR, id, Uint8Array.of(NsmErrorReason.NO_HANDLER));
        else {
          const response = await handler(request);
          if (!(response instanceof Uint8Array) || response.length < 1 || response.length > NSM_RESPONSE_MAX_SIZE) {
            throw new VsockError('ERR_VSOCK_NSM_TOO_LARGE', `NSM response must be 1..${NSM_RESPONSE_MAX_SIZE} bytes`);
          }
          frame = encodeWithPayload(FrameType.NSM_RESPONSE, id, response);
        }
      } catch (err) {
        this.emit('nsm-error', err);
        frame = encodeWithPayload(FrameType.NSM_ERROR, id, Uint8Array.of(NsmErrorReason.FAILED));
      }
      this.#nsmServing--;
      this.sendControl(frame);
    });
  }
}
