// `nitro-sandbox vsock-proxy LOCAL_PORT REMOTE_ADDR REMOTE_PORT [--config allowlist.yaml]`: AWS's
// vsock-proxy (aws-nitro-enclaves-cli/vsock_proxy) for the sandbox. It listens on the parent's vsock
// port through the host daemon (starting it if needed) and forwards allowlisted connections.
import { resolve } from 'node:path';
import { defaultRuntimeDir } from '../../index.ts';
import { DaemonError, ensureDaemon } from '../../daemon/index.ts';
import { checkRemoteAllowed, loadAllowlist, startVsockProxy } from '../../vsock-proxy/index.ts';
import { UsageError, flagOpt, intOpt, stringOpt, type Command } from '../command.ts';

/** AWS's default allowlist location (vsock_proxy README). */
export const DEFAULT_ALLOWLIST = '/etc/nitro_enclaves/vsock-proxy.yaml';

function port(text: string, what: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${what} must be a port number (${min}–${max}), got '${text}'`);
  return Number(text);
}

export const vsockProxy: Command = {
  help: `Usage: nitro-sandbox vsock-proxy LOCAL_PORT REMOTE_ADDR REMOTE_PORT [--config allowlist.yaml]
                                 [-4 | -6] [-w N] [--data-dir DIR]

Listens on the parent's vsock port LOCAL_PORT (CID 3) for every enclave of the host daemon
(starting the daemon if none runs) and forwards each connection to REMOTE_ADDR:REMOTE_PORT over
TCP, as AWS's vsock-proxy does (e.g. vsock-proxy 8000 kms.us-east-1.amazonaws.com 443).

The allowlist file has AWS's format:
  allowlist:
  - {address: kms.us-east-1.amazonaws.com, port: 443}
An entry admits the remote when its port matches and its address is REMOTE_ADDR as written or
resolves to REMOTE_ADDR's address. REMOTE_ADDR:REMOTE_PORT must be on the list or the proxy refuses
to start (ERR_VSOCK_PROXY_NOT_ALLOWED, exit 1); a missing file or empty list allows nothing. Every
connection is checked again (fresh DNS resolution, current list) and a refusal is logged on stderr
with its reason. SIGHUP reloads the file; SIGINT/SIGTERM stop the proxy (exit 0).

Options:
  --config FILE          allowlist file (default ${DEFAULT_ALLOWLIST})
  -4, --ipv4             use only IPv4 addresses of REMOTE_ADDR
  -6, --ipv6             use only IPv6 addresses of REMOTE_ADDR
  -w, --num_workers N    at most N connections forwarded at once; more wait their turn (default 4)
  --data-dir DIR         PKI directory for a daemon this command starts
`,
  options: {
    config: { type: 'string' },
    ipv4: { type: 'boolean', short: '4' },
    ipv6: { type: 'boolean', short: '6' },
    num_workers: { type: 'string', short: 'w' },
    'data-dir': { type: 'string' },
  },
  positionals: { min: 3, max: 3 },
  async run(args, io) {
    const [lp, addr, rp] = args.positionals as [string, string, string];
    const localPort = port(lp, 'LOCAL_PORT', 0, 0xffffffff);
    const remotePort = port(rp, 'REMOTE_PORT', 1, 65535);
    const configPath = stringOpt(args, 'config') ?? DEFAULT_ALLOWLIST;
    const allowlist = loadAllowlist(configPath);
    const remote = { address: addr, port: remotePort };
    if (flagOpt(args, 'ipv4') && flagOpt(args, 'ipv6')) throw new UsageError('--ipv4 and --ipv6 cannot be used together');
    const ipFamily = flagOpt(args, 'ipv4') ? 4 : flagOpt(args, 'ipv6') ? 6 : undefined;
    const maxConnections = intOpt(args, 'num_workers', 1, 65536) ?? 4;
    // Refuse a remote that is not allowlisted before any daemon is started (AWS refuses at start too).
    await checkRemoteAllowed(remote, allowlist, undefined, ipFamily);
    const dataDir = stringOpt(args, 'data-dir');
    const log = (line: string): void => io.err(`vsock-proxy: ${line}\n`);
    const daemon = await ensureDaemon({ runtimeDir: defaultRuntimeDir(), ...(dataDir !== undefined ? { dataDir: resolve(dataDir) } : {}) });
    const proxy = await startVsockProxy({ daemon, localPort, remote, allowlist, log, maxConnections, ...(ipFamily !== undefined ? { ipFamily } : {}) });
    const onHup = (): void => {
      try {
        proxy.setAllowlist(loadAllowlist(configPath));
        log(`reloaded ${configPath}`);
      } catch (e) {
        log(`reload of ${configPath} failed, keeping the previous allowlist: ${(e as Error).message}`);
      }
    };
    const stop = (): void => void proxy.close();
    process.on('SIGHUP', onHup);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const { reason } = await proxy.closed;
      if (reason !== 'closed') throw new DaemonError(`vsock-proxy stopped: ${reason}`);
      return 0;
    } finally {
      process.off('SIGHUP', onHup);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
