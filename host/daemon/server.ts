// The host daemon: owns one Host (and so every enclave the CLI starts) and serves the protocol in
// PROTOCOL.md on `<runtime dir>/daemon.sock`. Each request gets its own connection; a bad request
// gets a typed error response and its connection closed, never a crash. Enclave ports are reached
// with CONNECT, parent ports are listened on with LISTEN + ACCEPT, and after the response line the
// connection carries raw bytes spliced to the vsock connection (splice.ts).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { Host, type HostOptions } from '../host.ts';
import type { VsockConnection, VsockListener } from '../../enclave/index.ts';
import { DaemonBadRequestError, DaemonListenerError, DaemonError } from './errors.ts';
import { pidAlive, readLock, releaseLock, removeStaleLock, rewriteLock, tryCreateLock } from './lock.ts';
import { ensureRuntimeDir, type RuntimePaths } from './paths.ts';
import { PROTOCOL_VERSION, encodeLine, errorLine, okLine, parseRequest, readExact, readLine, type ConnectionEvent, type PingResult, type Request } from './protocol.ts';
import { splice } from './splice.ts';

export interface DaemonOptions extends Omit<HostOptions, 'dataDir'> {
  readonly runtimeDir: string;
  /** PKI directory handed to the Host (default: the Host's default). */
  readonly dataDir?: string;
  /**
   * Exit after this long with no running enclave, no open stream and no request in flight
   * (default 0: never; the CLI's daemon uses 10 s). Enclaves are never ended by this.
   */
  readonly idleExitMs?: number;
  /** The pid that created the lock for us (our starter), whose lock we take over. */
  readonly lockHeldBy?: number;
  /** How long a client has to send its request line (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** How long an enclave connection to a parent port waits for its ACCEPT (default 5 s). */
  readonly acceptTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

interface Listening {
  readonly token: string;
  readonly port: number;
  readonly control: net.Socket;
  readonly vsock: VsockListener;
  readonly pending: Map<number, { conn: VsockConnection; timer: NodeJS.Timeout }>;
}

/** Largest console backlog kept for a reader that does not read; past it the reader is dropped. */
const CONSOLE_SLOW_READER = 4 << 20;

export class Daemon {
  readonly host: Host;
  readonly paths: RuntimePaths;
  readonly #server: net.Server;
  readonly #options: DaemonOptions;
  readonly #sockets = new Set<net.Socket>();
  readonly #listeners = new Map<number, Listening>();
  #nextConnection = 1;
  #busy = 0; // requests in flight plus open streams (console, connect, accept, listen)
  #closing: Promise<void> | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #log: (line: string) => void;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  private constructor(host: Host, paths: RuntimePaths, server: net.Server, options: DaemonOptions) {
    this.host = host;
    this.paths = paths;
    this.#server = server;
    this.#options = options;
    this.#log = options.log ?? (() => undefined);
    this.closed = new Promise((r) => (this.#resolveClosed = r));
  }

  /**
   * Takes the lock, replaces a stale socket, starts the Host and listens. Refuses (ERR_HOST_DAEMON)
   * when another live daemon holds the lock or answers on the socket.
   */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const paths = ensureRuntimeDir(options.runtimeDir);
    Daemon.#takeLock(paths, options.lockHeldBy);
    let host: Host | undefined;
    try {
      await Daemon.#clearStaleSocket(paths.socket);
      const { runtimeDir: _r, idleExitMs: _i, lockHeldBy: _l, requestTimeoutMs: _t, acceptTimeoutMs: _a, log: _g, ...hostOptions } = options;
      host = await Host.start(hostOptions);
      const server = net.createServer({ allowHalfOpen: true });
      const daemon = new Daemon(host, paths, server, options);
      server.on('connection', (s) => daemon.#onConnection(s));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(paths.socket, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (e) => daemon.#log(`server error: ${e.message}`));
      chmodSync(paths.socket, 0o600);
      daemon.#watchIdle();
      daemon.#log(`listening on ${paths.socket} (pid ${process.pid}, protocol v${PROTOCOL_VERSION})`);
      return daemon;
    } catch (e) {
      await host?.stop();
      releaseLock(paths.lock);
      throw e instanceof DaemonError ? e : new DaemonError(`daemon failed to start: ${(e as Error).message}`, { cause: e });
    }
  }

  static #takeLock(paths: RuntimePaths, heldBy: number | undefined): void {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryCreateLock(paths.lock)) return;
      const holder = readLock(paths.lock);
      if (holder && heldBy !== undefined && holder.pid === heldBy) {
        rewriteLock(paths.lock);
        return;
      }
      if (holder && pidAlive(holder.pid)) {
        throw new DaemonError(`another daemon (pid ${holder.pid}${holder.pid === process.pid ? ', this process' : ''}) holds ${paths.lock}`);
      }
      removeStaleLock(paths.lock);
    }
    throw new DaemonError(`cannot take the daemon lock ${paths.lock}`);
  }

  /** A socket file nobody answers on is left by a dead daemon: remove it. One that answers is refused. */
  static async #clearStaleSocket(path: string): Promise<void> {
    if (!existsSync(path)) return;
    const alive = await new Promise<boolean>((resolve) => {
      const s = net.connect(path);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (alive) throw new DaemonError(`another daemon answers on ${path}`);
    unlinkSync(path);
  }

  get socketPath(): string {
    return this.paths.socket;
  }

  #watchIdle(): void {
    const idle = this.#options.idleExitMs ?? 0;
    if (idle <= 0) return;
    let since = Date.now();
    const t = setInterval(() => {
      const running = this.host.describeEnclaves().length > 0;
      if (running || this.#busy > 0) since = Date.now();
      else if (Date.now() - since >= idle) {
        this.#log(`idle for ${idle} ms with no enclave: exiting`);
        void this.close();
      }
    }, Math.min(500, idle));
    t.unref();
    this.#idleTimer = t;
  }

  #onConnection(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    this.#busy++;
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#busy--;
    });
    socket.on('error', () => undefined);
    void this.#serve(socket);
  }

  async #serve(socket: net.Socket): Promise<void> {
    const timer = setTimeout(() => socket.destroy(), this.#options.requestTimeoutMs ?? 10_000);
    let req: Request;
    try {
      const line = await readLine(socket);
      clearTimeout(timer);
      if (line === undefined) {
        socket.destroy();
        return;
      }
      req = parseRequest(line);
    } catch (e) {
      clearTimeout(timer);
      this.#fail(socket, e);
      return;
    }
    try {
      await this.#dispatch(req, socket);
    } catch (e) {
      this.#fail(socket, e);
    }
  }

  #fail(socket: net.Socket, e: unknown): void {
    if (!socket.destroyed && socket.writable) socket.end(errorLine(e));
    else socket.destroy();
    socket.resume(); // drain anything else the client sends until it closes
  }

  #reply(socket: net.Socket, result: unknown): void {
    socket.end(okLine(result));
    socket.resume();
  }

  async #dispatch(req: Request, socket: net.Socket): Promise<void> {
    switch (req.op) {
      case 'ping': {
        const r: PingResult = {
          pid: process.pid,
          protocol: PROTOCOL_VERSION,
          runtimeDir: this.paths.dir,
          dataDir: this.#options.dataDir ?? null,
          instanceId: this.host.instanceId,
        };
        this.#reply(socket, r);
        return;
      }
      case 'run-enclave': {
        // The body has the same deadline as the request line: a client that stalls is dropped.
        const timer = setTimeout(() => socket.destroy(), this.#options.requestTimeoutMs ?? 10_000);
        let image: Buffer;
        try {
          image = await readExact(socket, req.imageSize);
        } finally {
          clearTimeout(timer);
        }
        this.#reply(socket, await this.host.runEnclave(image, req.options));
        return;
      }
      case 'describe-enclaves':
        this.#reply(socket, req.ended === true ? this.host.describeEndedEnclaves() : this.host.describeEnclaves({ metadata: req.metadata === true }));
        return;
      case 'terminate-enclave': {
        const t = req.target;
        this.#reply(socket, await this.host.terminate('all' in t ? 'all' : t));
        return;
      }
      case 'console':
        this.#console(req.target, socket);
        return;
      case 'connect': {
        const conn = await this.host.connect(req.cid, req.port);
        socket.write(okLine({ cid: req.cid, port: req.port }));
        void splice(socket, conn);
        return;
      }
      case 'listen':
        this.#listen(req.port, socket);
        return;
      case 'accept':
        this.#accept(req.listener, req.connection, socket);
        return;
      case 'shutdown':
        this.#reply(socket, { pid: process.pid });
        void this.close();
        return;
    }
  }

  #console(target: { id: string } | { name: string }, socket: net.Socket): void {
    let unsubscribe: (() => void) | undefined = undefined;
    let ended = false;
    const onChunk = (chunk: Buffer | null): void => {
      if (ended) return;
      if (chunk === null) {
        ended = true;
        socket.end();
        return;
      }
      if (socket.writableLength > CONSOLE_SLOW_READER) {
        ended = true;
        socket.destroy();
        return;
      }
      socket.write(chunk);
    };
    // host.console checks the target and debug mode (throwing before any reply) and replays the
    // history synchronously: hold it until the OK line is out.
    const history: (Buffer | null)[] = [];
    let live = false;
    unsubscribe = this.host.console(target, (c) => (live ? onChunk(c) : history.push(c)));
    socket.write(okLine({ console: true }));
    for (const c of history) onChunk(c);
    live = true;
    socket.once('close', () => unsubscribe?.());
    // The client sends nothing more: its end (FIN) means it has gone.
    socket.once('end', () => socket.destroy());
    socket.resume();
  }

  #listen(port: number, control: net.Socket): void {
    if (this.#listeners.has(port)) throw new DaemonListenerError(`parent vsock port ${port} is already listened on by another client`);
    const token = randomBytes(16).toString('hex');
    const pending = new Map<number, { conn: VsockConnection; timer: NodeJS.Timeout }>();
    const vsock = this.host.listenParent(port, (conn) => {
      conn.on('error', () => undefined);
      conn.pause();
      const id = this.#nextConnection++;
      const timer = setTimeout(() => {
        pending.delete(id);
        conn.destroy();
        this.#log(`parent port ${port}: connection ${id} from CID ${conn.remoteCid} not accepted in time; reset`);
      }, this.#options.acceptTimeoutMs ?? 5_000);
      pending.set(id, { conn, timer });
      const event: ConnectionEvent = { event: 'connection', connection: id, cid: conn.remoteCid ?? 0, port: conn.remotePort };
      control.write(encodeLine(event));
    });
    const l: Listening = { token, port, control, vsock, pending };
    this.#listeners.set(port, l);
    control.write(okLine({ port, listener: token }));
    // Nothing more is read; the client's end (FIN) or close stops the listener.
    control.once('end', () => control.destroy());
    control.resume();
    control.once('close', () => {
      vsock.close();
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.conn.destroy();
      }
      pending.clear();
      if (this.#listeners.get(port) === l) this.#listeners.delete(port);
    });
  }

  #accept(token: string, id: number, socket: net.Socket): void {
    let found: Listening | undefined;
    for (const l of this.#listeners.values()) if (l.token === token) found = l;
    if (!found) throw new DaemonBadRequestError('accept: no such listener');
    const p = found.pending.get(id);
    if (!p) throw new DaemonBadRequestError(`accept: no pending connection ${id} (already accepted or timed out)`);
    found.pending.delete(id);
    clearTimeout(p.timer);
    socket.write(okLine({ connection: id }));
    void splice(socket, p.conn);
  }

  /** Stops listening, terminates every enclave, removes the socket and releases the lock. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#idleTimer) clearInterval(this.#idleTimer);
      this.#server.close();
      try {
        await this.host.stop();
      } finally {
        for (const s of this.#sockets) s.destroy();
        try {
          unlinkSync(this.paths.socket);
        } catch {
          // already gone
        }
        releaseLock(this.paths.lock);
        this.#log('stopped');
        this.#resolveClosed();
      }
    })();
    return this.#closing;
  }
}
