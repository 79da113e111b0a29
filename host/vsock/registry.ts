// Host-side vsock addressing: which enclave (CID) is behind which channel, connections to
// (CID, port), and listeners on the parent's ports (CID 3) that every enclave can reach — the way a
// parent process binding VMADDR_CID_ANY:port accepts vsock connections from all its enclaves.
import type { Channel, ConnectionHandler, ConnectionOptions, VsockConnection, VsockListener } from '../../enclave/index.ts';
import { VsockError, assertPort } from '../../enclave/index.ts';
import { MAX_ENCLAVE_CID, MIN_ENCLAVE_CID, VMADDR_CID_PARENT, validateEnclaveCid } from './cid.ts';

export interface VsockRegistryOptions {
  /** First CID tried by auto-assignment (default 16, as in AWS's run-enclave examples). */
  readonly firstAutoCid?: number;
}

interface ParentListener {
  readonly handler: ConnectionHandler;
  readonly options: ConnectionOptions | undefined;
  readonly perChannel: Map<Channel, VsockListener>;
}

export class VsockRegistry {
  readonly #firstAuto: number;
  /** Reserved CIDs; the channel is attached once the enclave process is up. */
  readonly #cids = new Map<number, Channel | null>();
  readonly #parentListeners = new Map<number, ParentListener>();

  constructor(options: VsockRegistryOptions = {}) {
    const first = options.firstAutoCid ?? 16;
    validateEnclaveCid(first);
    this.#firstAuto = first;
  }

  /**
   * Reserves a CID: the requested one after nitro-cli's checks (0, 1, 2, 3 and ≥ 2^32−1 refused),
   * or, with none requested, the first free CID from firstAutoCid up, wrapping to 4.
   */
  reserve(requested?: number): number {
    if (requested === undefined) return this.#reserveAuto();
    validateEnclaveCid(requested);
    if (this.#cids.has(requested)) throw new VsockError('ERR_VSOCK_CID_IN_USE', `CID ${requested} is already in use`);
    this.#cids.set(requested, null);
    return requested;
  }

  // Each loop stops at the first free CID, so it walks at most (number of reserved CIDs) steps.
  #reserveAuto(): number {
    for (let cid = this.#firstAuto; cid <= MAX_ENCLAVE_CID; cid++) {
      if (!this.#cids.has(cid)) {
        this.#cids.set(cid, null);
        return cid;
      }
    }
    for (let cid = MIN_ENCLAVE_CID; cid < this.#firstAuto; cid++) {
      if (!this.#cids.has(cid)) {
        this.#cids.set(cid, null);
        return cid;
      }
    }
    throw new VsockError('ERR_VSOCK_CID_IN_USE', 'no free CID left');
  }

  /** Binds a reserved CID to the enclave's channel (role 'host'); released when the channel closes. */
  attach(cid: number, channel: Channel): void {
    validateEnclaveCid(cid);
    if (channel.role !== 'host') throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', "the host attaches channels with role 'host'");
    if (!this.#cids.has(cid)) throw new VsockError('ERR_VSOCK_UNKNOWN_CID', `CID ${cid} was not reserved`);
    if (this.#cids.get(cid)) throw new VsockError('ERR_VSOCK_CID_IN_USE', `CID ${cid} already has a channel`);
    if (!channel.alive) throw new VsockError('ERR_VSOCK_CHANNEL_CLOSED', 'cannot attach a closed channel');
    channel.localCid = VMADDR_CID_PARENT;
    channel.remoteCid = cid;
    this.#cids.set(cid, channel);
    for (const [port, l] of this.#parentListeners) {
      // A listener the channel already has on that port is more specific than the parent-wide one
      // (like a bind to one address beside a wildcard bind) and keeps it.
      if (!channel.isListening(port)) l.perChannel.set(channel, channel.listen(port, l.handler, l.options));
    }
    void channel.closed.then(() => {
      if (this.#cids.get(cid) === channel) this.release(cid);
    });
  }

  /** Frees a CID (and forgets its channel, without closing it). */
  release(cid: number): void {
    const channel = this.#cids.get(cid);
    this.#cids.delete(cid);
    if (channel) for (const l of this.#parentListeners.values()) l.perChannel.delete(channel);
  }

  channel(cid: number): Channel | undefined {
    return this.#cids.get(cid) ?? undefined;
  }

  get cids(): number[] {
    return [...this.#cids.keys()].sort((a, b) => a - b);
  }

  /** Connects to `port` of the enclave with `cid`. Unknown CID → ERR_VSOCK_UNKNOWN_CID; nobody listening → ECONNREFUSED. */
  connect(cid: number, port: number, options?: ConnectionOptions): Promise<VsockConnection> {
    try {
      validateEnclaveCid(cid);
      assertPort(port);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const channel = this.#cids.get(cid);
    if (!channel || !channel.alive) {
      return Promise.reject(new VsockError('ERR_VSOCK_UNKNOWN_CID', `no running enclave with CID ${cid}`));
    }
    return channel.connect(port, options);
  }

  /**
   * Listens on the parent's `port` (CID 3) for every enclave, present and future. Each connection's
   * `remoteCid` says which enclave it came from.
   */
  listen(port: number, handler: ConnectionHandler, options?: ConnectionOptions): VsockListener {
    assertPort(port);
    if (this.#parentListeners.has(port)) throw new VsockError('EADDRINUSE', `parent vsock port ${port} is already listened on`);
    const l: ParentListener = { handler, options, perChannel: new Map() };
    for (const channel of this.#cids.values()) {
      // Channels with their own listener on the port keep it (see attach).
      if (channel?.alive && !channel.isListening(port)) l.perChannel.set(channel, channel.listen(port, handler, options));
    }
    this.#parentListeners.set(port, l);
    return {
      port,
      close: () => {
        if (this.#parentListeners.get(port) !== l) return;
        this.#parentListeners.delete(port);
        for (const pl of l.perChannel.values()) pl.close();
        l.perChannel.clear();
      },
    };
  }
}
