// The vsock-proxy: listens on a parent vsock port (CID 3) for every enclave and forwards each
// connection to one TCP endpoint, as AWS's vsock-proxy does for KMS. As there, the remote given at
// start must itself be allowlisted or the proxy refuses to start; unlike AWS (which checks once at
// start and then re-resolves the name on DNS TTL expiry without checking again), every connection
// re-resolves the remote and re-checks the current allowlist, and the TCP connection goes to the
// exact address that was checked, so neither a DNS change nor an allowlist reload lets a
// connection through to an endpoint that is not on the list. Each refusal is logged with its reason.
import net, { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Host } from '../host.ts';
import type { DaemonClient } from '../daemon/index.ts';
import { splice } from '../daemon/splice.ts';
import { defaultLookup, findAllowed, validAddress, validPort, type AllowlistEntry, type Endpoint, type Lookup } from './allowlist.ts';
import { RemoteNotAllowedError, VsockProxyArgumentError } from './errors.ts';

export interface VsockProxyOptions {
  /** An in-process host, or … */
  readonly host?: Host;
  /** … the daemon that owns the CLI's enclaves. Exactly one of the two. */
  readonly daemon?: DaemonClient;
  /** The parent vsock port enclaves connect to. */
  readonly localPort: number;
  readonly remote: Endpoint;
  readonly allowlist: readonly AllowlistEntry[];
  readonly lookup?: Lookup;
  /** One line per event (accept, refusal with reason, close); default: none. */
  readonly log?: (line: string) => void;
  /** TCP connect timeout for the remote (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Use only IPv4 or only IPv6 addresses of the remote (AWS's --ipv4 / --ipv6). */
  readonly ipFamily?: 4 | 6;
  /**
   * At most this many connections forwarded at once (AWS's --num_workers, whose thread pool queues
   * the rest). Further enclave connections wait, unread, until one ends. Default: no limit.
   */
  readonly maxConnections?: number;
}

export interface VsockProxyStats {
  readonly accepted: number;
  readonly forwarded: number;
  readonly refused: number;
}

export interface VsockProxy {
  readonly localPort: number;
  readonly remote: Endpoint;
  readonly stats: VsockProxyStats;
  /** Replaces the allowlist for later connections (the CLI reloads its file on SIGHUP). */
  setAllowlist(allowlist: readonly AllowlistEntry[]): void;
  /** Stops listening and resets every forwarded connection. */
  close(): Promise<void>;
  /** Resolves when the proxy stops: after close(), or when the daemon goes away (reason given). */
  readonly closed: Promise<{ reason: string }>;
}

async function resolveRemote(remote: Endpoint, lookup: Lookup, family: 4 | 6 | undefined): Promise<string> {
  const addrs = (await lookup(remote.address)).filter((a) => family === undefined || isIP(a) === family);
  const first = addrs[0];
  if (first === undefined) throw new Error(`${remote.address} resolves to no ${family === undefined ? '' : `IPv${family} `}address`);
  return first;
}

/**
 * The start-up check (AWS's check_allowlist): resolves the remote and finds an allowlist entry
 * admitting it, or throws ERR_VSOCK_PROXY_NOT_ALLOWED. Returns the address that was checked.
 */
export async function checkRemoteAllowed(remote: Endpoint, allowlist: readonly AllowlistEntry[], lookup: Lookup = defaultLookup, family?: 4 | 6): Promise<string> {
  if (!validAddress(remote.address)) throw new VsockProxyArgumentError(`remote address '${String(remote.address)}' is not a host name or IP address`);
  if (!validPort(remote.port)) throw new VsockProxyArgumentError(`remote port must be 1–65535, got ${remote.port}`);
  const where = `${remote.address}:${remote.port}`;
  let ip: string;
  try {
    ip = await resolveRemote(remote, lookup, family);
  } catch (e) {
    throw new RemoteNotAllowedError(`${where}: cannot resolve the remote address (${(e as Error).message}); it cannot be checked against the allowlist`, { cause: e });
  }
  if (!(await findAllowed(allowlist, remote, ip, lookup))) {
    throw new RemoteNotAllowedError(`${where} is not on the allowlist${allowlist.length === 0 ? ' (the allowlist is empty)' : ''}`);
  }
  return ip;
}

/** Starts a proxy; rejects with ERR_VSOCK_PROXY_NOT_ALLOWED when the remote is not allowlisted. */
export async function startVsockProxy(options: VsockProxyOptions): Promise<VsockProxy> {
  const { host, daemon, localPort, remote } = options;
  if ((host === undefined) === (daemon === undefined)) throw new VsockProxyArgumentError('give exactly one of host or daemon');
  if (!Number.isInteger(localPort) || localPort < 0 || localPort > 0xffffffff) throw new VsockProxyArgumentError(`local port must be a vsock port (0–4294967295), got ${localPort}`);
  const lookup = options.lookup ?? defaultLookup;
  const log = options.log ?? (() => undefined);
  let allowlist = [...options.allowlist];
  const where = `${remote.address}:${remote.port}`;

  const family = options.ipFamily;
  const max = options.maxConnections ?? Infinity;
  if (family !== undefined && family !== 4 && family !== 6) throw new VsockProxyArgumentError('ipFamily must be 4 or 6');
  if (!(max === Infinity || (Number.isInteger(max) && max >= 1))) throw new VsockProxyArgumentError('maxConnections must be a positive integer');
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  // setTimeout fires at once for 0, NaN or past 2^31−1 ms: every connect would "time out".
  if (!(connectTimeoutMs >= 1 && connectTimeoutMs <= 2 ** 31 - 1)) throw new VsockProxyArgumentError('connectTimeoutMs must be a number of ms in 1–2^31-1');
  // Also refuses a malformed remote address or port (ERR_VSOCK_PROXY_INVALID_ARGUMENT).
  await checkRemoteAllowed(remote, allowlist, lookup, family);

  const stats = { accepted: 0, forwarded: 0, refused: 0 };
  const active = new Set<Duplex>();
  let stopped = false;
  let resolveClosed!: (v: { reason: string }) => void;
  const closed = new Promise<{ reason: string }>((r) => (resolveClosed = r));

  const refuse = (conn: Duplex, cid: number | undefined, reason: string): void => {
    stats.refused++;
    log(`refused connection from CID ${cid ?? '?'} to ${where}: ${reason}`);
    // Closed with FIN, not reset: the enclave reads an empty stream, as from a proxy that drops
    // the connection. (A reset that reaches the enclave together with the connection's ACCEPT can
    // raise 'error' before its connect() continuation attached a listener.) Whatever the enclave
    // still sends is discarded; the stream is destroyed once it closes its side, or after 5 s.
    conn.end();
    conn.resume();
    const t = setTimeout(() => conn.destroy(), 5_000);
    t.unref();
    conn.once('close', () => clearTimeout(t));
  };

  // Connections being checked or forwarded, and those waiting for a slot (maxConnections).
  let busy = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    busy--;
    waiting.shift()?.();
  };

  const handle = (conn: Duplex, cid: number | undefined): void => {
    stats.accepted++;
    conn.on('error', () => undefined);
    if (stopped) {
      conn.destroy();
      return;
    }
    active.add(conn);
    conn.once('close', () => active.delete(conn));
    const start = (): void => {
      if (conn.destroyed || stopped) {
        waiting.shift()?.();
        return;
      }
      busy++;
      conn.once('close', release);
      forward(conn, cid);
    };
    if (busy < max) start();
    else waiting.push(start);
  };

  const forward = (conn: Duplex, cid: number | undefined): void => {
    void (async () => {
      let target: string;
      try {
        target = await resolveRemote(remote, lookup, family);
      } catch (e) {
        refuse(conn, cid, `cannot resolve ${remote.address}: ${(e as Error).message}`);
        return;
      }
      const entry = await findAllowed(allowlist, remote, target, lookup);
      if (!entry) {
        refuse(conn, cid, `${where} (${target}) is not on the allowlist`);
        return;
      }
      if (conn.destroyed || stopped) return;
      const tcp = net.connect({ host: target, port: remote.port, allowHalfOpen: true });
      active.add(tcp);
      tcp.once('close', () => active.delete(tcp));
      const timer = setTimeout(() => tcp.destroy(new Error('connect timed out')), connectTimeoutMs);
      let connected = false;
      tcp.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (!connected) refuse(conn, cid, `TCP connect to ${target}:${remote.port} failed: ${e.code ?? e.message}`);
      });
      tcp.once('connect', () => {
        connected = true;
        clearTimeout(timer);
        stats.forwarded++;
        log(`forwarding connection from CID ${cid ?? '?'} to ${target}:${remote.port}`);
        void splice(conn, tcp);
      });
      conn.once('close', () => {
        if (tcp.connecting) tcp.destroy();
      });
    })();
  };

  let stopListening: () => void;
  if (host) {
    const l = host.listenParent(localPort, (conn) => handle(conn, conn.remoteCid));
    stopListening = () => l.close();
  } else {
    const l = await daemon!.listenParent(localPort, (conn, info) => handle(conn, info.cid), (e) => log(`accept failed: ${e.message}`));
    stopListening = () => l.close();
    void l.closed.then(() => {
      if (!stopped) {
        stopped = true;
        for (const s of active) s.destroy();
        log('the daemon closed the listening connection; proxy stopped');
        resolveClosed({ reason: 'daemon connection lost' });
      }
    });
  }
  log(`listening on vsock port ${localPort} (CID 3), forwarding to ${where}`);

  return {
    localPort,
    remote,
    get stats() {
      return { ...stats };
    },
    setAllowlist(list) {
      allowlist = [...list];
    },
    async close() {
      if (stopped) return;
      stopped = true;
      stopListening();
      const all = [...active];
      for (const s of all) s.destroy();
      await Promise.all(all.map((s) => (s.destroyed && s.closed ? undefined : new Promise<void>((r) => s.once('close', () => r())))));
      log('stopped');
      resolveClosed({ reason: 'closed' });
    },
    closed,
  };
}
