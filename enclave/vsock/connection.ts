// One logical vsock stream connection, multiplexed on a channel. A Node Duplex so it drops into
// pipeline(), pipe() and async iteration like a net.Socket: end() sends FIN (half-close), destroy()
// sends RESET, errors carry `code`s from errors.ts.
import { Duplex } from 'node:stream';
import { ConnectionRefusedError, ConnectionResetError, ProtocolError, type VsockError } from './errors.ts';
import { encodeCredit, encodeEmpty, FrameType } from './frame.ts';

/** What a connection needs from its channel (implemented by Channel; not public API). */
export interface ConnectionHost {
  readonly alive: boolean;
  readonly congested: boolean;
  readonly maxFrameSize: number;
  readonly localCid: number | undefined;
  readonly remoteCid: number | undefined;
  sendData(id: number, chunk: Buffer, start: number, end: number): void;
  sendControl(frame: Buffer): void;
  waitForDrain(conn: VsockConnection): void;
  forget(id: number, conn: VsockConnection): void;
}

export interface ConnectionOptions {
  /** Keep the writable side open after the peer's FIN (default true, like a Duplex). */
  readonly allowHalfOpen?: boolean;
  /** Readable high-water mark in bytes (default 64 KiB). */
  readonly readableHighWaterMark?: number;
  /** Writable high-water mark in bytes (default 64 KiB). */
  readonly writableHighWaterMark?: number;
}

export interface ConnectionInit {
  readonly host: ConnectionHost;
  readonly id: number;
  readonly localPort: number;
  readonly remotePort: number;
  /** Our receive window: how many unacknowledged bytes the peer may send. */
  readonly window: number;
  /** The peer's window if already known (accepted side), else undefined until ACCEPT. */
  readonly peerWindow: number | undefined;
  readonly options: ConnectionOptions | undefined;
}

export type ConnectionState = 'opening' | 'open' | 'closed';

/** Received pieces smaller than this are gathered into BLOCK_SIZE blocks while queued. */
const SMALL_PIECE = 4096;
const BLOCK_SIZE = 16 * 1024;

export class VsockConnection extends Duplex {
  readonly id: number;
  readonly localPort: number;
  readonly remotePort: number;
  readonly #host: ConnectionHost;
  #state: ConnectionState;

  // Send side: bytes we may still send before the peer grants more credit.
  #sendCredit: number;
  #pending: Buffer | null = null;
  #pendingOff = 0;
  #pendingCb: ((err?: Error | null) => void) | null = null;
  #bytesSent = 0;

  // Receive side.
  readonly #creditThreshold: number;
  #recvWindowLeft: number;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #block: Buffer | null = null; // where small pieces are gathered (see #enqueue)
  #blockStart = 0;
  #blockUsed = 0;
  #blockQueued = false; // the queue's last entry is block[blockStart, blockUsed)
  #wantRead = false;
  #unacked = 0;
  #bytesReceived = 0;

  #finSent = false;
  #finReceived = false;
  #eofPushed = false;
  #silent = false; // no RESET on destroy: peer already reset, refused, or channel gone

  constructor(init: ConnectionInit) {
    const o = init.options ?? {};
    super({
      allowHalfOpen: o.allowHalfOpen ?? true,
      readableHighWaterMark: o.readableHighWaterMark ?? 64 * 1024,
      writableHighWaterMark: o.writableHighWaterMark ?? 64 * 1024,
    });
    this.#host = init.host;
    this.id = init.id;
    this.localPort = init.localPort;
    this.remotePort = init.remotePort;
    this.#recvWindowLeft = init.window;
    // Acknowledge in quarter-window steps: few CREDIT frames, and the sender never idles waiting.
    this.#creditThreshold = Math.max(1, Math.floor(init.window / 4));
    this.#state = init.peerWindow === undefined ? 'opening' : 'open';
    this.#sendCredit = init.peerWindow ?? 0;
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get localCid(): number | undefined {
    return this.#host.localCid;
  }
  get remoteCid(): number | undefined {
    return this.#host.remoteCid;
  }
  /** Bytes the peer still allows us to send before it grants more. */
  get sendCredit(): number {
    return this.#sendCredit;
  }
  /** Bytes handed to the channel so far (on the wire or in the channel's transport queue). */
  get bytesSent(): number {
    return this.#bytesSent;
  }
  get bytesReceived(): number {
    return this.#bytesReceived;
  }
  /** Received bytes not yet read by the application (ours plus the Readable's buffer). */
  get receiveBuffered(): number {
    return this.#queuedBytes + this.readableLength;
  }
  /** Bytes sent but not yet acknowledged by the peer: never more than its window. */
  get inFlight(): number {
    return this.#bytesSent - this.#acked;
  }
  #acked = 0;

  // ---- events from the channel -------------------------------------------------------------

  /** @internal */
  _onAccept(peerWindow: number): void {
    if (this.#state !== 'opening') throw new ProtocolError(`ACCEPT for stream ${this.id} that is not opening`);
    this.#state = 'open';
    this.#sendCredit = peerWindow;
    this.#pump(); // writes made while opening go first, whatever a 'connect' listener does
    this.emit('connect');
  }

  /** @internal */
  _onRefuse(): void {
    if (this.#state !== 'opening') throw new ProtocolError(`REFUSE for stream ${this.id} that is not opening`);
    this.#silent = true;
    this.destroy(new ConnectionRefusedError(this.remotePort));
  }

  /** @internal */
  _onData(piece: Buffer): void {
    if (this.#state !== 'open') throw new ProtocolError(`DATA on stream ${this.id} before ACCEPT`);
    if (this.#finReceived) throw new ProtocolError(`DATA on stream ${this.id} after FIN`);
    const n = piece.length;
    if (n > this.#recvWindowLeft) {
      throw new ProtocolError(`stream ${this.id} exceeded its receive window`, 'ERR_VSOCK_FLOW_CONTROL');
    }
    this.#recvWindowLeft -= n;
    this.#bytesReceived += n;
    if (this.destroyed) return;
    if (this.#wantRead && this.#queue.length === 0 && this.readableFlowing === true && this.readableLength === 0) {
      // Fast path: push() hands the bytes straight to a 'data' listener; nothing is kept.
      this.#consumed(n); // account first: the listener may throw
      this.#wantRead = this.push(piece);
      return;
    }
    this.#enqueue(piece);
    // Hand over only into an empty Readable buffer; otherwise read() does it once the application
    // has emptied that buffer. Pushing every piece would let a peer that sends one-byte frames to
    // a paused reader fill the Readable buffer with tens of thousands of tiny entries, each
    // costing far more memory than its byte; queued here, they are gathered into blocks.
    if (this.#wantRead && this.readableLength === 0) this.#drain();
  }

  /**
   * Readable.read, plus: once the application has emptied the Readable buffer, hand over what was
   * held back above. Node does not call _read() again until we push, so this is the hook that
   * keeps a held-back queue from stalling the stream. flow() and 'readable' consumers all go
   * through read().
   */
  override read(size?: number): any {
    const r: unknown = super.read(size);
    if (this.#wantRead && this.#queue.length > 0 && this.readableLength === 0) this.#drain();
    return r;
  }

  /**
   * Queues received bytes, bounded in memory by the window whatever the peer's framing: pieces
   * under SMALL_PIECE are copied together into shared blocks, and a bigger piece that is a small
   * part of a larger socket read is copied so it does not pin the whole read buffer.
   */
  #enqueue(piece: Buffer): void {
    const n = piece.length;
    this.#queuedBytes += n;
    if (n < SMALL_PIECE) {
      let block = this.#block;
      if (block === null || this.#blockUsed + n > block.length) {
        block = this.#block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
        this.#blockStart = this.#blockUsed = 0;
        this.#blockQueued = false;
      }
      piece.copy(block, this.#blockUsed);
      this.#blockUsed += n;
      const view = block.subarray(this.#blockStart, this.#blockUsed);
      if (this.#blockQueued) this.#queue[this.#queue.length - 1] = view;
      else {
        this.#queue.push(view);
        this.#blockQueued = true;
      }
      return;
    }
    if (piece.byteLength * 2 < piece.buffer.byteLength) piece = Buffer.from(piece);
    this.#queue.push(piece);
    this.#sealBlock();
  }

  /** Later small pieces start a new view: the current one is no longer the queue's last entry. */
  #sealBlock(): void {
    this.#blockQueued = false;
    this.#blockStart = this.#blockUsed;
  }

  /** Pushes queued bytes while the Readable wants them. */
  #drain(): void {
    while (this.#wantRead && this.#queue.length > 0) {
      const piece = this.#queue.shift()!;
      if (this.#queue.length === 0 && this.#blockQueued) this.#sealBlock();
      this.#queuedBytes -= piece.length;
      this.#consumed(piece.length);
      this.#wantRead = this.push(piece);
    }
    if (this.#queuedBytes === 0 && this.#finReceived) this.#pushEof();
  }

  /** @internal */
  _onCredit(increment: number): void {
    if (this.#state !== 'open') throw new ProtocolError(`CREDIT on stream ${this.id} before ACCEPT`);
    // The peer may never have granted more than it could buffer: its initial window plus what we
    // actually sent. More is a broken or hostile peer.
    this.#acked += increment;
    if (this.#acked > this.#bytesSent) {
      throw new ProtocolError(`stream ${this.id} credited bytes it never received`, 'ERR_VSOCK_FLOW_CONTROL');
    }
    this.#sendCredit += increment;
    this.#pump();
  }

  /** @internal */
  _onFin(): void {
    if (this.#state !== 'open') throw new ProtocolError(`FIN on stream ${this.id} before ACCEPT`);
    if (this.#finReceived) throw new ProtocolError(`second FIN on stream ${this.id}`);
    this.#finReceived = true;
    if (this.#queuedBytes === 0) this.#pushEof();
  }

  /** @internal */
  _onReset(): void {
    this.#silent = true;
    this.destroy(new ConnectionResetError());
  }

  /** @internal The channel is gone: no frames may be sent any more. */
  _onChannelClosed(err: VsockError | undefined): void {
    this.#silent = true;
    if (err === undefined || (this.#finSent && this.#finReceived)) this.destroy();
    else this.destroy(err);
  }

  /** @internal Called by the channel when the transport drained. */
  _resume(): void {
    this.#pump();
  }

  // ---- Readable ---------------------------------------------------------------------------

  override _read(): void {
    this.#wantRead = true;
    this.#drain();
  }

  #pushEof(): void {
    if (this.#eofPushed) return;
    this.#eofPushed = true;
    this.push(null);
  }

  /** Bytes left our buffer for the application: give the peer that much window back. */
  #consumed(n: number): void {
    this.#unacked += n;
    if (this.#unacked >= this.#creditThreshold && !this.#finReceived && this.#host.alive && !this.destroyed) {
      this.#recvWindowLeft += this.#unacked;
      this.#host.sendControl(encodeCredit(this.id, this.#unacked));
      this.#unacked = 0;
    }
  }

  // ---- Writable ---------------------------------------------------------------------------

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (chunk.length === 0) {
      cb();
      return;
    }
    this.#pending = chunk;
    this.#pendingOff = 0;
    this.#pendingCb = cb;
    this.#pump();
  }

  /** Sends as much of the pending chunk as credit and the transport allow. */
  #pump(): void {
    const chunk = this.#pending;
    if (chunk === null || this.#state !== 'open') return;
    const host = this.#host;
    const max = host.maxFrameSize;
    while (this.#pendingOff < chunk.length && this.#sendCredit > 0) {
      if (host.congested) {
        host.waitForDrain(this);
        return;
      }
      const n = Math.min(chunk.length - this.#pendingOff, this.#sendCredit, max);
      host.sendData(this.id, chunk, this.#pendingOff, this.#pendingOff + n);
      this.#pendingOff += n;
      this.#sendCredit -= n;
      this.#bytesSent += n;
    }
    if (this.#pendingOff === chunk.length) {
      const cb = this.#pendingCb!;
      this.#pending = null;
      this.#pendingCb = null;
      cb();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    const send = (): void => {
      if (!this.#host.alive) return cb();
      this.#finSent = true;
      this.#host.sendControl(encodeEmpty(FrameType.FIN, this.id));
      cb();
    };
    // end() before ACCEPT: the FIN waits for the stream to open, like a connecting net.Socket.
    if (this.#state === 'opening') this.once('connect', send);
    else send();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const wasOpen = this.#state !== 'closed';
    this.#state = 'closed';
    this.#pending = null;
    this.#pendingCb = null;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#block = null;
    if (wasOpen) {
      if (!this.#silent && this.#host.alive && !(this.#finSent && this.#finReceived)) {
        this.#host.sendControl(encodeEmpty(FrameType.RESET, this.id));
      }
      this.#host.forget(this.id, this);
    }
    cb(err);
  }
}
