// The escape suite (issue 5 acceptance): enclave code tries every route out we know of, and each must
// fail inside an enclave. The very same probe code (examples/escape-probe/probes.ts) also runs in a
// plain `node` child outside the sandbox against the very same targets, where each route must
// work, so no route can pass by being broken everywhere. One enclave runs every probe.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../enclave/index.ts';
import { Host, probeIsolation, type EnclaveDescription } from '../../host/index.ts';
import { PROBES, type ProbeOutcome, type ProbeTargets } from '../../examples/escape-probe/probes.ts';
import { PROBE_PORT } from '../../examples/escape-probe/main.ts';
import { repoRoot } from '../enclave/fixtures.ts';

const ROUTES = Object.keys(PROBES);
/** How this machine makes namespaces (null: it cannot; the enclave then runs with Node's layers only). */
const M = probeIsolation();
const NS = M.launcher && M.namespaces ? [M.launcher, '--unshare', M.userNamespace ? 'user,net,pid,ipc,uts' : 'net,pid,ipc,uts', ...(M.userNamespace ? ['--ids', '65534:65534'] : [])] : null;
/** Routes only a PID namespace stops (Node's permission model does not cover signals or priorities). */
const PID_ROUTES = new Set(['process.kill(parent, 0)', 'process.kill(process.ppid, 0)', 'process.kill(1, 0)', 'os.setPriority() of another process', "process.kill(decoy, 'SIGTERM')"]);
const NO_PID_NS = NS === null;
/**
 * Routes only the empty root stops: native code that reads files itself (OpenSSL the system CA
 * store, getpwuid(3) the passwd database) is outside Node's permission model, and so is the module
 * resolver's existence check. Where the machine cannot give the enclave an empty root they stay
 * open, and describe-enclaves says EmptyRoot: false.
 */
const ROOT_ROUTES = new Set(["tls.getCACertificates('system') (the host's CA store)", "os.userInfo() (the host's passwd entry)", 'import() errors as a file-existence oracle']);
const NO_EMPTY_ROOT = probeIsolation().emptyRoot === null;
const TOKEN = `outside-${process.pid}-${Date.now()}`;

/** Any native addon installed under node_modules (which one varies with the platform packages). */
function findAddon(dir = join(repoRoot, 'node_modules'), depth = 0): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isFile() && e.name.endsWith('.node') && !e.name.includes('musl')) return p;
    if (e.isDirectory() && depth < 3) {
      const found = findAddon(p, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}
const ADDON = findAddon() ?? '/nonexistent.node';

/**
 * The isolation layer an error code points to. ERR_ACCESS_DENIED and ERR_DLOPEN_DISABLED come from
 * Node's permission model (checked before any syscall); the socket errors from the network
 * namespace (no interface but a down loopback); ESRCH from the PID namespace; EOF, EBADF and
 * NO_INHERITED_FD from the descriptor layer (stdin on /dev/null, nothing inherited but fd 3);
 * ROOT_CWD from the host starting the enclave in /; ENOENT and "not found" from the empty root
 * (the file is not there to be refused).
 */
function layerOf(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  if (/^ERR_ACCESS_DENIED$|^ERR_DLOPEN_DISABLED$/.test(code)) return 'permission model';
  if (/^(ENETUNREACH|EADDRNOTAVAIL|ECONNREFUSED|EAI_AGAIN|ENOTFOUND|ECONNRESET)$/.test(code)) return 'network namespace';
  if (code === 'ESRCH' || code === 'NO_PARENT' || code === 'SELF') return 'PID namespace';
  if (code === 'EOF' || code === 'EBADF' || code === 'NO_INHERITED_FD') return 'descriptors';
  if (code === 'EMPTY_ENV') return 'empty environment';
  if (code === 'ROOT_CWD') return 'working directory /';
  if (/^(ENOENT|ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND|EMPTY_STORE|NO_ORACLE|NOT_HOST_PASSWD)$/.test(code)) return 'empty root';
  if (code === 'ERR_UNKNOWN_BUILTIN_MODULE') return 'Node flags (API removed)';
  if (code === 'EPERM') return 'syscall filter or no privileges';
  return undefined;
}

const work = mkdtempSync(join(tmpdir(), 'nsbx-escape-'));
const servers: { close(): void }[] = [];
const children: ChildProcess[] = [];
let host: Host | undefined;
let inside: Map<string, ProbeOutcome>;
let outside: Map<string, ProbeOutcome>;
let nsOnly: Map<string, ProbeOutcome> | undefined;
let permissionOnly: Map<string, ProbeOutcome>;
let insideDecoyAlive: boolean;
let insideWritten: string[];
let outsideDecoyAlive: boolean;
let outsideWritten: string[];
let described: EnclaveDescription | undefined;

function listening(server: net.Server | http.Server | tls.Server, ...args: unknown[]): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(...(args as [number, string]), () => resolve((server.address() as net.AddressInfo | null)?.port ?? 0)));
}

/** A one-answer DNS server: every A question gets 10.1.2.3 (RFC 1035 §4.1). */
function dnsServer(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.on('message', (q, from) => {
    let i = 12;
    while (i < q.length && q[i] !== 0) i += (q[i] ?? 0) + 1;
    const question = q.subarray(12, i + 5);
    const head = Buffer.from([q[0] ?? 0, q[1] ?? 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]);
    s.send(Buffer.concat([head, question, answer]), from.port, from.address);
  });
  servers.push(s);
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s.address().port)));
}

function udpEcho(): Promise<number> {
  const s = dgram.createSocket('udp4');
  s.on('message', (_m, from) => s.send(TOKEN, from.port, from.address));
  servers.push(s);
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s.address().port)));
}

function decoy(): ChildProcess {
  const c = spawn('sleep', ['120'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null && c.pid !== undefined && existsSync(`/proc/${c.pid}`);
}

function writtenFiles(dir: string): string[] {
  return ['written-by-probe.txt', 'probe.db', 'report.json'].filter((f) => existsSync(join(dir, f)));
}

async function targets(writeDir: string, decoyPid: number): Promise<ProbeTargets> {
  const serve = (s: net.Socket): void => {
    s.on('error', () => undefined);
    s.end(TOKEN);
  };
  const key = join(work, 'key.pem');
  const cert = join(work, 'cert.pem');
  if (!existsSync(cert)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], {
      stdio: 'ignore',
    });
  }
  const unixPath = join(work, `probe-${servers.length}.sock`);
  const abstractName = `nsbx-escape-${process.pid}-${servers.length}`;
  const [httpPort, tcpPort, tlsPort, udpPort, dnsPort] = await Promise.all([
    listening(http.createServer((_q, r) => r.end(TOKEN)), 0, '127.0.0.1'),
    listening(net.createServer(serve), 0, '127.0.0.1'),
    listening(tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, serve), 0, '127.0.0.1'),
    udpEcho(),
    dnsServer(),
    listening(net.createServer(serve), unixPath),
    listening(net.createServer(serve), `\0${abstractName}`),
  ]);
  mkdirSync(writeDir, { recursive: true });
  return {
    token: TOKEN,
    httpPort: httpPort!,
    tcpPort: tcpPort!,
    tlsPort: tlsPort!,
    udpPort: udpPort!,
    dnsPort: dnsPort!,
    unixPath,
    abstractName,
    secretFile: join(work, 'secret.txt'),
    secretMjs: join(work, 'secret.mjs'),
    secretCjs: join(work, 'secret.cjs'),
    envFile: join(work, 'probe.env'),
    imagePath: join(work, 'escape-probe.eif'),
    writeDir,
    addonPath: ADDON,
    parentPid: process.pid,
    decoyPid,
    hostUser: `${userInfo().username} home ${userInfo().homedir} shell ${userInfo().shell ?? '-'}`,
  };
}

async function runInside(t: ProbeTargets): Promise<ProbeOutcome[]> {
  host = await Host.start({ dataDir: join(work, 'host') });
  const r = await host.runEnclave(readFileSync(t.imagePath), { memoryMiB: 256, allowWeakerIsolation: NS === null });
  described = host.describeEnclaves().find((d) => d.EnclaveID === r.EnclaveID);
  return JSON.parse((await host.request(r.EnclaveCID, PROBE_PORT, JSON.stringify(t))).toString('utf8')) as ProbeOutcome[];
}

/** The same probes in a plain `node` process: normal permissions, an environment, fds 4–6. */
async function runOutside(t: ProbeTargets, prefix: readonly string[] = [], permissionModel = false): Promise<ProbeOutcome[]> {
  const secretFd = openSync(t.secretFile, 'r');
  // fd 6: one end of a pipe (a FIFO opened read-write, so it never blocks), to show pipes are seen.
  const fifo = join(work, `fifo-${children.length}`);
  execFileSync('mkfifo', [fifo]);
  const fifoFd = openSync(fifo, 'r+');
  // Under --permission the process may not even read its own entry file: the probes go in as one
  // bundled string, as in an enclave.
  const entry = permissionModel
    ? ['--permission', '--input-type=module', '--eval', await bundledProbes(t)]
    : [join(repoRoot, 'examples/escape-probe/outside.ts'), JSON.stringify(t)];
  const argv = [...prefix, process.execPath, ...entry];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PROBE_ENV: 'set' },
    stdio: ['pipe', 'pipe', 'ignore', 'ignore', secretFd, 'pipe', fifoFd],
  });
  children.push(child);
  closeSync(secretFd);
  closeSync(fifoFd);
  child.stdin!.end(TOKEN);
  (child.stdio as unknown as net.Socket[])[5]!.end(TOKEN);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(out) as ProbeOutcome[];
}

async function bundledProbes(t: ProbeTargets): Promise<string> {
  const r = await build({
    stdin: {
      contents: `import { runProbes } from './probes.ts';
        const report = await runProbes(${JSON.stringify(t)});
        process.stdout.write(JSON.stringify(report) + '\\n', () => process.exit(0));`,
      resolveDir: join(repoRoot, 'examples/escape-probe'),
      loader: 'ts',
    },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

const byRoute = (report: ProbeOutcome[]): Map<string, ProbeOutcome> => new Map(report.map((o) => [o.route, o]));

beforeAll(async () => {
  writeFileSync(join(work, 'secret.txt'), TOKEN);
  writeFileSync(join(work, 'secret.mjs'), `export default ${JSON.stringify(TOKEN)};\n`);
  writeFileSync(join(work, 'secret.cjs'), `module.exports = ${JSON.stringify(TOKEN)};\n`);
  writeFileSync(join(work, 'probe.env'), `PROBE_TOKEN=${TOKEN}\n`);
  const { image } = await buildImage({ entry: join(repoRoot, 'examples/escape-probe/main.ts'), vsockPorts: [PROBE_PORT] });
  writeFileSync(join(work, 'escape-probe.eif'), image);

  const inDecoy = decoy();
  const inTargets = await targets(join(work, 'inside'), inDecoy.pid!);
  inside = byRoute(await runInside(inTargets));
  await new Promise((r) => setTimeout(r, 100)); // let a delivered SIGTERM land before looking
  insideDecoyAlive = alive(inDecoy);
  insideWritten = writtenFiles(inTargets.writeDir);

  const outDecoy = decoy();
  const outTargets = await targets(join(work, 'outside'), outDecoy.pid!);
  outside = byRoute(await runOutside(outTargets));
  await new Promise((r) => setTimeout(r, 100));
  outsideDecoyAlive = alive(outDecoy);
  outsideWritten = writtenFiles(outTargets.writeDir);

  // The namespaces alone (no permission model): which routes they stop by themselves.
  if (NS) {
    const nsDecoy = decoy();
    nsOnly = byRoute(await runOutside(await targets(join(work, 'ns-only'), nsDecoy.pid!), [...NS, '--']));
  }
  // And Node's permission model alone (no namespaces, an environment, fds 4 and 5 given).
  const permDecoy = decoy();
  permissionOnly = byRoute(await runOutside(await targets(join(work, 'permission-only'), permDecoy.pid!), [], true));
});

afterAll(async () => {
  await host?.stop();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of servers) s.close();
  rmSync(work, { recursive: true, force: true });
});

describe('escape suite: at least 25 routes, each blocked inside an enclave and working outside', () => {
  it('has at least 25 routes, and both runs report every one of them', () => {
    expect(ROUTES.length).toBeGreaterThanOrEqual(25);
    expect([...inside.keys()]).toEqual(ROUTES);
    expect([...outside.keys()]).toEqual(ROUTES);
  });

  it('the enclave ran with every isolation layer this machine offers', () => {
    expect(described?.Isolation).toMatchObject({ PermissionModel: true, EmptyEnvironment: true, StdinClosed: true });
    expect(described?.Isolation.NetworkNamespace).toBe(M.namespaces);
    expect(described?.Isolation.PidNamespace).toBe(M.namespaces);
    expect(described?.Isolation.EmptyRoot).toBe(probeIsolation().emptyRoot !== null);
    expect(described?.Isolation.NodeFlags).toContain('--no-experimental-sqlite');
  });

  describe.each(ROUTES)('%s', (route) => {
    it('works in a plain node process outside the sandbox', () => {
      const o = outside.get(route);
      expect(o, JSON.stringify(o)).toMatchObject({ ok: true });
    });

    // Without a PID namespace these routes are open, and the enclave says so (Isolation.PidNamespace false).
    // Skipped where the machine lacks the one layer that stops the route (and describe says so).
    it.skipIf((NO_PID_NS && PID_ROUTES.has(route)) || (NO_EMPTY_ROOT && ROOT_ROUTES.has(route)))('is blocked inside the enclave, by a recognised isolation layer', () => {
      const o = inside.get(route);
      expect(o, JSON.stringify(o)).toMatchObject({ ok: false });
      expect(layerOf(o?.code), `${route}: ${o?.code} ${o?.message}`).toBeDefined();
    });
  });

  // Defence in depth: the routes the namespaces stop on their own, with Node's permission model
  // out of the way (the same probes under `unshare --net --pid …` without --permission). Loopback
  // listen, getaddrinfo of /etc/hosts and path-named unix sockets are not network-namespaced, so
  // for those (and files, processes, code loading) the permission model is the only barrier.
  const NAMESPACED = [
    'fetch() to a loopback HTTP server',
    'http.get() to a loopback HTTP server',
    'net.connect() TCP to a loopback server',
    'tls.connect() to a loopback TLS server',
    'dgram send to a loopback UDP echo server',
    'dns resolve4 through a loopback DNS server',
    'abstract unix socket (\\0name)',
    'process.kill(parent, 0)',
    'process.kill(process.ppid, 0)',
    'process.kill(1, 0)',
    'os.setPriority() of another process',
    "process.kill(decoy, 'SIGTERM')",
  ];
  // Skipped (not failed) where the kernel refuses new namespaces: then only Node's layers apply.
  it.skipIf(NS === null).each(NAMESPACED)('defence in depth: the namespaces alone also stop %s', (route) => {
    expect(ROUTES).toContain(route);
    const o = nsOnly?.get(route);
    expect(o, JSON.stringify(o)).toMatchObject({ ok: false });
    expect(['network namespace', 'PID namespace']).toContain(layerOf(o?.code));
  });

  // Layer by layer: the same probes under `node --permission` alone (no namespaces; this process
  // is given an environment and fds 4–5, so those routes say nothing here). What it leaves open is
  // exactly why the host adds the other layers; kept as a test so a Node upgrade that changes the
  // answer is noticed.
  const PERMISSION_LEAVES_OPEN = new Map<string, string>([
    ['node:sqlite database file', 'so the host passes --no-experimental-sqlite'],
    ['node:sqlite through process.getBuiltinModule()', 'so the host passes --no-experimental-sqlite'],
    ...[...ROOT_ROUTES].map((r): [string, string] => [r, 'so the host gives the enclave an empty root']),
    ["process.cwd() (the host's working directory)", 'so the host starts enclaves in /'],
    ...[...PID_ROUTES].map((r): [string, string] => [r, 'so the host adds a PID namespace']),
  ]);
  const GIVEN_TO_THIS_RUN = new Set([
    'process.env has variables',
    'inherited descriptors 0–20 (fstat), fd 3 aside',
    'fs.readSync() on inherited files and stdin',
    'new net.Socket({ fd }) on inherited sockets',
  ]);
  it.each([...PERMISSION_LEAVES_OPEN])(`the permission model alone (Node ${process.version}) does not stop %s, %s`, (route) => {
    expect(permissionOnly.get(route), JSON.stringify(permissionOnly.get(route))).toMatchObject({ ok: true });
  });
  it.each(ROUTES.filter((r) => !PERMISSION_LEAVES_OPEN.has(r) && !GIVEN_TO_THIS_RUN.has(r)))('the permission model alone stops %s', (route) => {
    const o = permissionOnly.get(route);
    expect(layerOf(o?.code), JSON.stringify(o)).toBe('permission model');
  });

  it('outside, the descriptor probe sees each kind it was given (file, socket, pipe), so it can see them', () => {
    expect(outside.get('inherited descriptors 0–20 (fstat), fd 3 aside')?.evidence).toBe('fd 0: socket, fd 1: socket, fd 4: file, fd 5: socket, fd 6: pipe');
  });

  it('side effects: outside, the decoy got SIGTERM and the files were written; inside, neither', () => {
    expect(outsideDecoyAlive).toBe(false);
    expect(outsideWritten).toEqual(['written-by-probe.txt', 'probe.db', 'report.json']);
    if (!NO_PID_NS) expect(insideDecoyAlive).toBe(true);
    expect(insideWritten).toEqual([]);
  });
});

afterAll(() => {
  // The per-route verdicts, for the record (which layer stopped what).
  const rows = ROUTES.map((r) => `${r} | outside: ${outside?.get(r)?.ok ? 'works' : `FAILS ${outside?.get(r)?.code}`} | inside: ${inside?.get(r)?.ok ? 'ESCAPED' : `${inside?.get(r)?.code} (${layerOf(inside?.get(r)?.code) ?? '?'})`} | namespaces only: ${nsOnly?.get(r)?.ok ? 'works' : nsOnly?.get(r)?.code} | permission model only: ${permissionOnly?.get(r)?.ok ? 'works' : permissionOnly?.get(r)?.code}`);
  if (process.env.ESCAPE_REPORT) console.log(rows.join('\n'));
});
