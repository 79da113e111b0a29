// The vsock-proxy end to end: an enclave connects to the proxy's parent port and reaches an
// allowlisted TCP echo server on 127.0.0.1 (bytes hash-checked both ways); a remote that is not
// allowlisted is refused at start and per connection (with the reason logged); close() stops it.
// Once with an in-process Host, once through a real daemon, and once as the CLI command.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../enclave/index.ts';
import { Host, ensureDaemon, startVsockProxy, type DaemonClient, type Lookup } from '../../host/index.ts';
import { RELAY_PORT, WEAK, appEntry, cleanupDaemons, cliProcess, readAll, sha256, tempDir, waitFor } from './helpers.ts';
import { spawn } from 'node:child_process';

let image: Uint8Array;
let echo: net.Server;
let echoPort: number;
let echoConnections = 0;

beforeAll(async () => {
  image = (await buildImage({ entry: appEntry })).image;
  echo = net.createServer({ allowHalfOpen: true }, (s) => {
    echoConnections++;
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as net.AddressInfo).port;
});

const runtimeDirs: string[] = [];
afterAll(async () => {
  echo.close();
  await cleanupDaemons(runtimeDirs);
});

/** Asks the enclave (through its relay port) to connect to parent `port` and pipe `payload` through. */
async function throughEnclave(connect: (port: number) => Promise<Duplex>, parentPort: number, payload: Buffer): Promise<Buffer> {
  const conn = await connect(RELAY_PORT);
  conn.on('error', () => undefined);
  conn.write(`${parentPort}\n`);
  conn.end(payload);
  return readAll(conn).catch(() => Buffer.alloc(0));
}

describe('vsock-proxy with an in-process host', () => {
  let host: Host;
  let cid: number;
  const connect = (port: number): Promise<Duplex> => host.connect(cid, port);

  beforeAll(async () => {
    host = await Host.start({ dataDir: tempDir() });
    cid = (await host.runEnclave(image, { memoryMiB: 128, ...WEAK })).EnclaveCID;
  });
  afterAll(async () => {
    await host.stop();
  });

  it('forwards an enclave connection to an allowlisted TCP endpoint, bytes intact both ways', async () => {
    const logs: string[] = [];
    const proxy = await startVsockProxy({
      host,
      localPort: 8000,
      remote: { address: '127.0.0.1', port: echoPort },
      allowlist: [{ address: '127.0.0.1', port: echoPort }],
      log: (l) => logs.push(l),
    });
    const payload = randomBytes(512 * 1024);
    const before = echoConnections;
    const back = await throughEnclave(connect, 8000, payload);
    expect(back.length).toBe(payload.length);
    expect(sha256(back)).toBe(sha256(payload));
    expect(echoConnections).toBe(before + 1);
    expect(proxy.stats).toMatchObject({ accepted: 1, forwarded: 1, refused: 0 });
    expect(logs.some((l) => l.includes(`forwarding connection from CID ${cid}`))).toBe(true);

    // close(): the port is no longer listened on, so the enclave's connect is refused.
    await proxy.close();
    const after = await throughEnclave(connect, 8000, Buffer.from('x'));
    expect(after.toString()).toBe('ERROR ECONNREFUSED\n');
    expect(await proxy.closed).toEqual({ reason: 'closed' });
  });

  it('refuses to start when the remote is not on the allowlist, or the allowlist is empty', async () => {
    await expect(
      startVsockProxy({ host, localPort: 8001, remote: { address: '127.0.0.1', port: echoPort }, allowlist: [{ address: '127.0.0.1', port: echoPort + 1 }] }),
    ).rejects.toMatchObject({ code: 'ERR_VSOCK_PROXY_NOT_ALLOWED' });
    await expect(startVsockProxy({ host, localPort: 8001, remote: { address: '127.0.0.1', port: echoPort }, allowlist: [] })).rejects.toMatchObject({
      code: 'ERR_VSOCK_PROXY_NOT_ALLOWED',
    });
    // Nothing was left listening by the refused starts.
    expect((await throughEnclave(connect, 8001, Buffer.from('x'))).toString()).toBe('ERROR ECONNREFUSED\n');
  });

  it.each([
    ['neither host nor daemon', { host: undefined }],
    ['both host and daemon', { daemon: {} as DaemonClient }],
    ['a negative local port', { localPort: -1 }],
    ['a local port past 2^32−1', { localPort: 2 ** 32 }],
    ['a remote address that is not a host name or IP', { remote: { address: 'a b', port: 443 } }],
    ['remote port 0', { remote: { address: '127.0.0.1', port: 0 } }],
    ['ipFamily 5', { ipFamily: 5 }],
    ['maxConnections 0', { maxConnections: 0 }],
    ['fractional maxConnections', { maxConnections: 1.5 }],
    ['connectTimeoutMs 0', { connectTimeoutMs: 0 }],
    ['NaN connectTimeoutMs', { connectTimeoutMs: Number.NaN }],
  ])('refuses to start with %s (ERR_VSOCK_PROXY_INVALID_ARGUMENT)', async (_t, bad) => {
    const good = { host, localPort: 8006, remote: { address: '127.0.0.1', port: echoPort }, allowlist: [{ address: '127.0.0.1', port: echoPort }] };
    await expect(startVsockProxy({ ...good, ...bad } as Parameters<typeof startVsockProxy>[0])).rejects.toMatchObject({ code: 'ERR_VSOCK_PROXY_INVALID_ARGUMENT' });
  });

  it('re-checks every connection: a DNS change or an allowlist change refuses it, with the reason logged', async () => {
    // echo.test resolves to 127.0.0.1 (allowlisted by address) until it "moves" to 127.0.0.2.
    let target = '127.0.0.1';
    const lookup: Lookup = async (h) => (h === 'echo.test' ? [target] : [h]);
    const logs: string[] = [];
    const proxy = await startVsockProxy({
      host,
      localPort: 8002,
      remote: { address: 'echo.test', port: echoPort },
      allowlist: [{ address: '127.0.0.1', port: echoPort }],
      lookup,
      log: (l) => logs.push(l),
    });
    try {
      expect((await throughEnclave(connect, 8002, Buffer.from('first'))).toString()).toBe('first');
      target = '127.0.0.2';
      const before = echoConnections;
      expect((await throughEnclave(connect, 8002, Buffer.from('second'))).length).toBe(0);
      expect(echoConnections).toBe(before);
      expect(logs.some((l) => l.startsWith(`refused connection from CID ${cid}`) && l.includes('127.0.0.2') && l.includes('not on the allowlist'))).toBe(true);

      target = '127.0.0.1';
      proxy.setAllowlist([]);
      expect((await throughEnclave(connect, 8002, Buffer.from('third'))).length).toBe(0);
      expect(proxy.stats).toMatchObject({ forwarded: 1, refused: 2 });
    } finally {
      await proxy.close();
    }
  });

  it('ipFamily picks the remote\'s addresses of that family only (AWS --ipv4 / --ipv6)', async () => {
    const lookup: Lookup = async (h) => (h === 'dual.test' ? ['::1', '127.0.0.1'] : [h]);
    const allowlist = [{ address: 'dual.test', port: echoPort }];
    await expect(startVsockProxy({ host, localPort: 8004, remote: { address: '127.0.0.1', port: echoPort }, allowlist: [{ address: '127.0.0.1', port: echoPort }], ipFamily: 6 })).rejects.toMatchObject({
      code: 'ERR_VSOCK_PROXY_NOT_ALLOWED',
    });
    const logs: string[] = [];
    const proxy = await startVsockProxy({ host, localPort: 8004, remote: { address: 'dual.test', port: echoPort }, allowlist, lookup, ipFamily: 4, log: (l) => logs.push(l) });
    try {
      expect((await throughEnclave(connect, 8004, Buffer.from('v4'))).toString()).toBe('v4');
      expect(logs.some((l) => l.includes(`to 127.0.0.1:${echoPort}`))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('maxConnections queues connections past the limit until one ends (AWS --num_workers)', async () => {
    const proxy = await startVsockProxy({ host, localPort: 8005, remote: { address: '127.0.0.1', port: echoPort }, allowlist: [{ address: '127.0.0.1', port: echoPort }], maxConnections: 1 });
    try {
      const before = echoConnections;
      const first = await connect(RELAY_PORT);
      first.on('error', () => undefined);
      first.write('8005\nhold');
      await new Promise<void>((r) => first.once('data', () => r()));
      const second = throughEnclave(connect, 8005, Buffer.from('queued'));
      await new Promise((r) => setTimeout(r, 300));
      // The second waits for a slot: the echo server has seen only the first.
      expect(echoConnections).toBe(before + 1);
      first.end();
      await readAll(first);
      expect((await second).toString()).toBe('queued');
      expect(echoConnections).toBe(before + 2);
    } finally {
      await proxy.close();
    }
  });

  it('logs a refused TCP connect and closes the enclave connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const logs: string[] = [];
    const proxy = await startVsockProxy({ host, localPort: 8003, remote: { address: '127.0.0.1', port: deadPort }, allowlist: [{ address: '127.0.0.1', port: deadPort }], log: (l) => logs.push(l) });
    try {
      expect((await throughEnclave(connect, 8003, Buffer.from('x'))).length).toBe(0);
      await waitFor(() => logs.some((l) => l.includes('ECONNREFUSED')), 'the refusal log');
    } finally {
      await proxy.close();
    }
  });
});

describe('vsock-proxy through the host daemon', () => {
  let client: DaemonClient;
  let runtimeDir: string;
  let cid: number;
  const connect = (port: number): Promise<Duplex> => client.connect(cid, port);

  beforeAll(async () => {
    runtimeDir = tempDir('nsbx-proxy-rt-');
    runtimeDirs.push(runtimeDir);
    client = await ensureDaemon({ runtimeDir, dataDir: tempDir(), idleExitMs: 0 });
    cid = (await client.runEnclave(image, { memoryMiB: 128, ...WEAK })).EnclaveCID;
  });

  it('library: LISTEN/ACCEPT through the daemon carries the bytes intact', async () => {
    const proxy = await startVsockProxy({ daemon: client, localPort: 8100, remote: { address: '127.0.0.1', port: echoPort }, allowlist: [{ address: '127.0.0.1', port: echoPort }] });
    try {
      const payloads = [randomBytes(300 * 1024), randomBytes(1000), randomBytes(64 * 1024)];
      const backs = await Promise.all(payloads.map((p) => throughEnclave(connect, 8100, p)));
      backs.forEach((b, i) => expect(sha256(b)).toBe(sha256(payloads[i]!)));
      expect(proxy.stats).toMatchObject({ accepted: 3, forwarded: 3 });
    } finally {
      await proxy.close();
    }
  });

  it('CLI: refuses a remote that is not allowlisted (exit 1) and forwards an allowlisted one until SIGTERM', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'allowlist.yaml');
    writeFileSync(cfg, `allowlist:\n- {address: 127.0.0.1, port: ${echoPort}}\n`);
    const env = { NITRO_SANDBOX_RUNTIME_DIR: runtimeDir };

    const refused = await cliProcess(['vsock-proxy', '8200', '127.0.0.1', String(echoPort + 1), '--config', cfg], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('ERR_VSOCK_PROXY_NOT_ALLOWED');
    const noFile = await cliProcess(['vsock-proxy', '8200', '127.0.0.1', String(echoPort), '--config', join(dir, 'missing.yaml')], env);
    expect(noFile.code).toBe(1);
    expect(noFile.err).toContain('ERR_VSOCK_PROXY_NOT_ALLOWED');
    const usage = await cliProcess(['vsock-proxy', '8200', '127.0.0.1'], env);
    expect(usage.code).toBe(2);

    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/nitro-sandbox.js'), 'vsock-proxy', '8200', '127.0.0.1', String(echoPort), '--config', cfg], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    try {
      await waitFor(() => err.includes('listening on vsock port 8200'), 'the proxy to listen', 20_000);
      const payload = randomBytes(100 * 1024);
      expect(sha256(await throughEnclave(connect, 8200, payload))).toBe(sha256(payload));
      // SIGHUP reloads the file: emptied, it refuses the next connection, with the reason logged.
      writeFileSync(cfg, 'allowlist: []\n');
      child.kill('SIGHUP');
      await waitFor(() => err.includes(`reloaded ${cfg}`), 'the reload');
      expect((await throughEnclave(connect, 8200, Buffer.from('nope'))).length).toBe(0);
      await waitFor(() => /refused connection from CID \d+ to 127\.0\.0\.1:\d+: .*not on the allowlist/.test(err), 'the refusal log');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(err).toContain('stopped');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
