// The daemon's client: what the CLI commands and the vsock-proxy use. Every call opens a fresh
// connection to `<runtime dir>/daemon.sock`, sends one request line (PROTOCOL.md) and reads one
// response line; streams (console, connect, accept) then carry raw bytes on the same socket.
// `ensureDaemon` starts the daemon when none answers (detached, surviving the caller), under the
// lock file, so two concurrent first `run-enclave`s start one daemon between them.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EnclaveDescription, EndedEnclaveDescription, RunOptions, RunResult } from '../host.ts';
import { DaemonRemoteError, DaemonError } from './errors.ts';
import { pidAlive, readLock, releaseLock, removeStaleLock, tryCreateLock } from './lock.ts';
import { ensureRuntimeDir, runtimePaths } from './paths.ts';
import { PROTOCOL_VERSION, encodeLine, parseResponse, readLine, type ConnectionEvent, type PingResult, type Target } from './protocol.ts';

const DAEMON_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');

export interface TerminateResult {
  readonly EnclaveName: string;
  readonly EnclaveID: string;
  readonly Terminated: boolean;
}

export interface ParentConnectionInfo {
  readonly cid: number;
  readonly port: number;
}

export interface DaemonParentListener {
  readonly port: number;
  /** Stops listening (the daemon closes the parent port and resets unaccepted connections). */
  close(): void;
  /** Resolves when the listening ends, by close() or because the daemon went away. */
  readonly closed: Promise<void>;
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

export class DaemonClient {
  readonly runtimeDir: string;
  readonly socketPath: string;

  readonly #responseTimeoutMs: number;
  readonly #runTimeoutMs: number;

  constructor(runtimeDir: string, options: { responseTimeoutMs?: number; runTimeoutMs?: number } = {}) {
    this.runtimeDir = runtimeDir;
    this.socketPath = runtimePaths(runtimeDir).socket;
    this.#responseTimeoutMs = options.responseTimeoutMs ?? 10_000;
    this.#runTimeoutMs = options.runTimeoutMs ?? 60_000;
  }

  #open(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path: this.socketPath, allowHalfOpen: true });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
  }

  /** Sends a request (plus an optional body) and returns the socket after a successful response line. */
  async #start(request: Record<string, unknown>, body?: Uint8Array): Promise<{ socket: net.Socket; result: unknown }> {
    let socket: net.Socket;
    try {
      socket = await this.#open();
    } catch (e) {
      throw new DaemonError(`no daemon answers on ${this.socketPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
    }
    socket.on('error', () => undefined);
    socket.write(encodeLine({ v: PROTOCOL_VERSION, ...request }));
    if (body) socket.write(body);
    // A daemon that accepts but never answers (hung) must not hang the CLI with it. run-enclave
    // waits for the enclave's boot (the host's boot timeout is 20 s), everything else is immediate.
    const limitMs = request.op === 'run-enclave' ? this.#runTimeoutMs : this.#responseTimeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, limitMs);
    let line: string | undefined;
    try {
      line = await readLine(socket);
    } catch (e) {
      socket.destroy();
      throw new DaemonError(`reading the daemon's response failed: ${(e as Error).message}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    if (line === undefined) {
      socket.destroy();
      throw new DaemonError(timedOut ? `the daemon did not answer ${String(request.op)} within ${limitMs} ms` : 'the daemon closed the connection without a response');
    }
    const r = parseResponse(line);
    if (!r.ok) {
      socket.destroy();
      throw new DaemonRemoteError(r.error.code, r.error.message);
    }
    return { socket, result: r.result };
  }

  async #call<T>(request: Record<string, unknown>, body?: Uint8Array): Promise<T> {
    const { socket, result } = await this.#start(request, body);
    socket.destroy();
    return result as T;
  }

  ping(): Promise<PingResult> {
    return this.#call({ op: 'ping' });
  }

  runEnclave(image: Uint8Array, options: RunOptions): Promise<RunResult> {
    return this.#call({ op: 'run-enclave', imageSize: image.byteLength, options }, image);
  }

  /** nitro-cli's describe-enclaves: the enclaves that exist (`metadata` adds ImageName, ImageVersion, Metadata). */
  describeEnclaves(opts: { metadata?: boolean } = {}): Promise<EnclaveDescription[]> {
    return this.#call({ op: 'describe-enclaves', ...(opts.metadata === true ? { metadata: true } : {}) });
  }

  /** The enclaves that ended recently, with their exit reason. */
  describeEndedEnclaves(): Promise<EndedEnclaveDescription[]> {
    return this.#call({ op: 'describe-enclaves', ended: true });
  }

  terminate(target: Target | 'all'): Promise<TerminateResult[]> {
    return this.#call({ op: 'terminate-enclave', target: target === 'all' ? { all: true } : target });
  }

  /** Asks the daemon to terminate its enclaves and exit. */
  shutdown(): Promise<{ pid: number }> {
    return this.#call({ op: 'shutdown' });
  }

  /** The enclave's console (history, then live) as a readable socket that ends when the enclave does. */
  async console(target: Target): Promise<net.Socket> {
    const { socket } = await this.#start({ op: 'console', target });
    return socket; // destroy() it to stop reading; the daemon takes our FIN as a disconnect
  }

  /**
   * A byte stream to (cid, port) of an enclave, through the daemon. ECONNREFUSED when nobody listens.
   * Like every stream this client returns, the socket comes paused (bytes that followed the
   * response line are kept for the reader): consume it with pipe(), `for await` or resume().
   */
  async connect(cid: number, port: number): Promise<net.Socket> {
    const { socket } = await this.#start({ op: 'connect', cid, port });
    return socket;
  }

  /**
   * Listens on the parent's vsock `port` for every enclave, through the daemon: each enclave
   * connection is announced on the LISTEN connection and taken with ACCEPT on a fresh one.
   */
  async listenParent(port: number, handler: (conn: net.Socket, info: ParentConnectionInfo) => void, onError?: (e: Error) => void): Promise<DaemonParentListener> {
    const { socket, result } = await this.#start({ op: 'listen', port });
    const token = (result as { listener: string }).listener;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let ev: ConnectionEvent;
        try {
          ev = JSON.parse(line) as ConnectionEvent;
        } catch {
          continue;
        }
        if (ev.event !== 'connection') continue;
        this.#start({ op: 'accept', listener: token, connection: ev.connection }).then(
          ({ socket: conn }) => handler(conn, { cid: ev.cid, port: ev.port }),
          (e: Error) => onError?.(e),
        );
      }
    });
    socket.resume();
    return { port, close: () => socket.destroy(), closed };
  }
}

/** The daemon for this runtime directory if one answers, else undefined. */
export async function findDaemon(runtimeDir: string): Promise<DaemonClient | undefined> {
  const client = new DaemonClient(runtimeDir);
  try {
    await client.ping();
    return client;
  } catch (e) {
    if (e instanceof DaemonError && isMissing(e.cause)) return undefined;
    throw e;
  }
}

export interface EnsureDaemonOptions {
  readonly runtimeDir: string;
  readonly dataDir?: string;
  /** Passed to a daemon we start (default 10 s; 0 = stay until shut down). */
  readonly idleExitMs?: number;
  readonly startTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-6).join('\n').trim();
  } catch {
    return '';
  }
}

/**
 * Returns a client for the running daemon, starting one first if none answers. A daemon started
 * with another --data-dir than requested is refused rather than silently used.
 */
export async function ensureDaemon(options: EnsureDaemonOptions): Promise<DaemonClient> {
  const paths = ensureRuntimeDir(options.runtimeDir);
  const client = new DaemonClient(paths.dir);
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  const checkDataDir = (ping: PingResult): DaemonClient => {
    if (options.dataDir !== undefined && ping.dataDir !== options.dataDir) {
      throw new DaemonError(`the daemon (pid ${ping.pid}) runs with data dir ${ping.dataDir ?? '(default)'}, not ${options.dataDir}; terminate its enclaves and let it exit, or use the same --data-dir`);
    }
    return client;
  };
  for (;;) {
    let ping: PingResult | undefined;
    try {
      ping = await client.ping();
    } catch (e) {
      if (!(e instanceof DaemonError && isMissing(e.cause))) throw e;
    }
    if (ping) return checkDataDir(ping);
    if (Date.now() > deadline) {
      const holder = readLock(paths.lock);
      throw new DaemonError(`the daemon did not come up in time${holder ? ` (lock held by pid ${holder.pid})` : ''}${logTail(paths.log) ? `; daemon.log:\n${logTail(paths.log)}` : ''}`);
    }
    if (tryCreateLock(paths.lock)) {
      await startDaemonProcess(paths.dir, paths.lock, paths.log, paths.socket, options, deadline);
      continue;
    }
    const holder = readLock(paths.lock);
    if (holder && holder.pid !== process.pid && !pidAlive(holder.pid)) removeStaleLock(paths.lock);
    else await sleep(25);
  }
}

async function startDaemonProcess(dir: string, lock: string, log: string, socket: string, options: EnsureDaemonOptions, deadline: number): Promise<void> {
  // We hold the lock, so a socket file here belongs to a dead daemon.
  if (existsSync(socket)) {
    try {
      unlinkSync(socket);
    } catch {
      // the daemon checks again
    }
  }
  const args = [DAEMON_MAIN, '--runtime-dir', dir, '--lock-held-by', String(process.pid), '--idle-exit-ms', String(options.idleExitMs ?? 10_000)];
  if (options.dataDir !== undefined) args.push('--data-dir', options.dataDir);
  const logFd = openSync(log, 'a', 0o600);
  let exited: string | undefined;
  try {
    // detached: its own session, so it outlives the CLI and its terminal.
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], env: process.env });
    child.once('exit', (code, signal) => (exited = signal ?? String(code)));
    child.once('error', (e) => (exited = e.message));
    const client = new DaemonClient(dir);
    while (exited === undefined && Date.now() < deadline) {
      try {
        await client.ping();
        child.unref();
        return;
      } catch {
        await sleep(25);
      }
    }
    child.unref();
    if (exited === undefined) child.kill('SIGKILL');
  } finally {
    closeSync(logFd);
  }
  releaseLock(lock);
  throw new DaemonError(`the daemon failed to start (${exited ?? 'timed out'})${logTail(log) ? `; daemon.log:\n${logTail(log)}` : ''}`);
}
