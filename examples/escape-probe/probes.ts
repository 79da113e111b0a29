// Routes out of an enclave, each tried for real. The same code runs inside an enclave (bundled into
// the image by main.ts) and in a plain `node` process outside the sandbox (outside.ts), so the
// escape suite (test/host/escape.test.ts) can show that every route works out there and fails in
// here: a probe that fails everywhere would prove nothing.
//
// A probe resolves with evidence that the route worked (data read from the outside world, a file
// written, a process signalled) and throws when it was stopped; the report keeps the error's `code`
// so the suite can say which isolation layer stopped it (ERR_ACCESS_DENIED: Node's permission
// model; ENETUNREACH/EADDRNOTAVAIL/ECONNREFUSED: the network namespace; ESRCH: the PID namespace;
// EBADF or /dev/null: the descriptor layer; an empty process.env: the environment layer).
import childProcess from 'node:child_process';
import dgram from 'node:dgram';
import dns from 'node:dns';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';

/** Where the outside world is, as the test sets it up (the enclave learns it over the channel). */
export interface ProbeTargets {
  /** What every outside service answers and every planted file contains. */
  readonly token: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly tlsPort: number;
  readonly udpPort: number;
  readonly dnsPort: number;
  readonly unixPath: string;
  /** Name of an abstract unix socket, without the leading NUL. */
  readonly abstractName: string;
  /** A file holding `token`. */
  readonly secretFile: string;
  /** `token` as an ES module (`export default`) and as a CommonJS module. */
  readonly secretMjs: string;
  readonly secretCjs: string;
  /** `.env` file setting PROBE_TOKEN=token. */
  readonly envFile: string;
  /** The enclave's own image file on the host's disk. */
  readonly imagePath: string;
  /** A directory the probes try to create files in. */
  readonly writeDir: string;
  /** A native addon that loads in this Node. */
  readonly addonPath: string;
  /** The process that started the prober (the host, or the test runner outside). */
  readonly parentPid: number;
  /** A throwaway process the probes try to signal. */
  readonly decoyPid: number;
  /** The host's passwd entry for its user, as os.userInfo() shows it: `name home H shell S`. */
  readonly hostUser: string;
}

export interface ProbeOutcome {
  readonly route: string;
  /** True when the route worked (an escape when inside an enclave). */
  readonly ok: boolean;
  readonly evidence?: string;
  readonly code?: string;
  readonly message?: string;
}

type Probe = (t: ProbeTargets) => Promise<string> | string;

const TIMEOUT_MS = 3000;

/** A route that gave nothing away without an error (EOF on /dev/null, an empty environment…). */
class Blocked extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Blocked('ETIMEDOUT', `${what}: no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Reads a stream until it has produced `token` (or ends, or fails). */
function readToken(s: net.Socket, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if (got.includes(token)) {
        s.destroy();
        resolve(`read ${JSON.stringify(got.slice(0, 40))}`);
      }
    });
    s.once('error', reject);
    s.once('end', () => reject(new Blocked('EOF', `stream ended after ${JSON.stringify(got.slice(0, 40))}`)));
  });
}

function connectAndRead(opts: net.NetConnectOpts, token: string): Promise<string> {
  const s = net.connect(opts);
  s.on('error', () => undefined);
  return withTimeout(readToken(s, token), 'net.connect');
}

function expectToken(text: string, token: string, what: string): string {
  if (!text.includes(token)) throw new Blocked('ENOTOKEN', `${what} did not contain the token`);
  return `${what}: ${text.length} bytes incl. the token`;
}

function fstat(fd: number): fs.Stats | undefined {
  try {
    return fs.fstatSync(fd);
  } catch {
    return undefined; // EBADF: not open
  }
}

/**
 * Inodes of the pipes this process holds both ends of: Node's own self-pipes (libuv's signal and
 * async wake-ups). A pipe end whose other end is not here came from outside.
 */
function ownPipes(): Set<number> {
  const seen = new Map<number, number>();
  for (let fd = 0; fd < 256; fd++) {
    const st = fstat(fd);
    if (st?.isFIFO()) seen.set(st.ino, (seen.get(st.ino) ?? 0) + 1);
  }
  return new Set([...seen].filter(([, n]) => n > 1).map(([ino]) => ino));
}

/** Is this descriptor something a process could use to reach the world? */
function inheritedKind(fd: number, own = ownPipes()): string | undefined {
  const st = fstat(fd);
  if (!st) return undefined;
  // Node's own descriptors exist in every Node process: epoll, eventfd and timerfd are anonymous
  // inodes with no file type, its self-pipes have both ends here. /dev/null is char device 1:3.
  const devNull = st.isCharacterDevice() && st.rdev === ((1 << 8) | 3);
  // Node 26 holds a descriptor of its own on the root directory (opened O_CLOEXEC when it sets up
  // its standard streams; strace), so a directory here says nothing about inheritance.
  if (devNull || st.isDirectory() || (st.mode & fs.constants.S_IFMT) === 0 || (st.isFIFO() && own.has(st.ino))) return undefined;
  if (st.isFIFO()) return 'pipe';
  if (st.isSocket()) return 'socket';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return `char device ${st.rdev}`;
  return `mode ${st.mode.toString(8)}`;
}

const CHANNEL_FD = 3;
const FDS = Array.from({ length: 21 }, (_, i) => i).filter((fd) => fd !== CHANNEL_FD);

export const PROBES: Readonly<Record<string, Probe>> = {
  // ---- network -------------------------------------------------------------------------------
  'fetch() to a loopback HTTP server': async (t) =>
    expectToken(await withTimeout(fetch(`http://127.0.0.1:${t.httpPort}/`).then((r) => r.text()), 'fetch'), t.token, 'fetch body'),

  'http.get() to a loopback HTTP server': (t) =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: t.httpPort, path: '/' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(expectToken(body, t.token, 'http body')));
        });
        req.on('error', reject);
      }),
      'http.get',
    ),

  'net.connect() TCP to a loopback server': (t) => connectAndRead({ host: '127.0.0.1', port: t.tcpPort }, t.token),

  'net.createServer().listen() on loopback': () =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        // Node 26 raises a denied listen() as an uncaught exception on the next tick instead of an
        // 'error' event (it would crash the enclave), so catch it for the duration of this probe.
        process.setUncaughtExceptionCaptureCallback(reject);
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
          const port = (srv.address() as net.AddressInfo).port;
          srv.close();
          resolve(`listened on 127.0.0.1:${port}`);
        });
      }).finally(() => process.setUncaughtExceptionCaptureCallback(null)),
      'listen',
    ),

  'tls.connect() to a loopback TLS server': (t) =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: t.tlsPort, rejectUnauthorized: false });
        s.on('error', reject);
        readToken(s, t.token).then(resolve, reject);
      }),
      'tls.connect',
    ),

  'dgram send to a loopback UDP echo server': (t) =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const s = dgram.createSocket('udp4');
        s.on('error', (e) => {
          s.close();
          reject(e);
        });
        s.on('message', (m) => {
          s.close();
          resolve(expectToken(m.toString(), t.token, 'udp reply'));
        });
        s.send('probe', t.udpPort, '127.0.0.1', (e) => {
          if (e) {
            s.close();
            reject(e);
          }
        });
      }),
      'dgram',
    ),

  "dns.lookup('localhost') (getaddrinfo)": async () => {
    const r = await withTimeout(dns.promises.lookup('localhost'), 'dns.lookup');
    return `localhost is ${r.address}`;
  },

  'dns resolve4 through a loopback DNS server': async (t) => {
    const resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${t.dnsPort}`]);
    const a = await withTimeout(resolver.resolve4('escape.test'), 'dns.resolve4');
    return `escape.test is ${a.join(',')}`;
  },

  'unix socket by path': (t) => connectAndRead({ path: t.unixPath }, t.token),

  'abstract unix socket (\\0name)': (t) => connectAndRead({ path: `\0${t.abstractName}` }, t.token),

  // ---- files ---------------------------------------------------------------------------------
  'read /etc/passwd': () => expectToken(fs.readFileSync('/etc/passwd', 'utf8'), 'root:', '/etc/passwd'),

  'stat /etc/passwd': () => `size ${fs.statSync('/etc/passwd').size}`,

  'read a planted secret file': (t) => expectToken(fs.readFileSync(t.secretFile, 'utf8'), t.token, 'secret file'),

  'read its own image file': (t) => `image: ${fs.readFileSync(t.imagePath).length} bytes`,

  'read /proc/self/environ': () => `environ: ${fs.readFileSync('/proc/self/environ').length} bytes`,

  'read /proc/1/cmdline': () => `pid 1: ${JSON.stringify(fs.readFileSync('/proc/1/cmdline', 'latin1').replaceAll('\0', ' ').slice(0, 40))}`,

  'read /proc/self/exe (the Node binary)': () => {
    const fd = fs.openSync('/proc/self/exe', 'r');
    try {
      return `exe: ${fs.fstatSync(fd).size} bytes`;
    } finally {
      fs.closeSync(fd);
    }
  },

  'write a file under the temp dir': (t) => {
    fs.writeFileSync(`${t.writeDir}/written-by-probe.txt`, t.token);
    return 'wrote written-by-probe.txt';
  },

  'fs.openAsBlob()': async (t) => expectToken(await (await fs.openAsBlob(t.secretFile)).text(), t.token, 'blob'),

  'process.loadEnvFile()': (t) => {
    process.loadEnvFile(t.envFile);
    return expectToken(process.env.PROBE_TOKEN ?? '', t.token, 'PROBE_TOKEN');
  },

  'process.report.writeReport() to a file': (t) => `report at ${process.report.writeReport(`${t.writeDir}/report.json`)}`,

  'node:sqlite database file': async (t) => {
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(`${t.writeDir}/probe.db`);
    db.exec('CREATE TABLE escaped (x TEXT)');
    db.close();
    return 'created probe.db';
  },

  'module.enableCompileCache() into a directory': async (t) => {
    const { enableCompileCache, constants } = await import('node:module');
    const r = enableCompileCache(`${t.writeDir}/compile-cache`);
    if (r.status !== constants.compileCacheStatus.ENABLED && r.status !== constants.compileCacheStatus.ALREADY_ENABLED) {
      throw new Blocked(r.message?.includes('permission') ? 'ERR_ACCESS_DENIED' : 'COMPILE_CACHE_FAILED', r.message ?? `status ${r.status}`);
    }
    return `compile cache at ${r.directory}`;
  },

  // OpenSSL reads the system CA store itself, outside Node's file-system checks.
  "tls.getCACertificates('system') (the host's CA store)": async () => {
    const certs = (await import('node:tls')).getCACertificates('system');
    if (certs.length === 0) throw new Blocked('EMPTY_STORE', 'no system CA certificates');
    return `${certs.length} CA certificates from the host's store`;
  },

  'node:sqlite through process.getBuiltinModule()': (t) => {
    type Sqlite = typeof import('node:sqlite');
    const sqlite = process.getBuiltinModule('node:sqlite') as Sqlite | undefined;
    if (!sqlite) throw new Blocked('ERR_UNKNOWN_BUILTIN_MODULE', 'node:sqlite is not a builtin here');
    const db = new sqlite.DatabaseSync(`${t.writeDir}/probe-builtin.db`);
    db.close();
    return 'created probe-builtin.db';
  },

  // ---- loading code from disk ----------------------------------------------------------------
  "import('file://…') of a module on disk": async (t) => {
    const m = (await import(pathToFileURL(t.secretMjs).href)) as { default: string };
    return expectToken(m.default, t.token, 'module');
  },

  // The resolver looks for the file before the permission check: a different error for a file
  // that exists tells the enclave what is on the host's disk, without reading it.
  "import() errors as a file-existence oracle": async (t) => {
    const codeFor = (path: string): Promise<string> =>
      import(`${pathToFileURL(path).href}?oracle`).then(
        () => 'loaded',
        (e: unknown) => codeOf(e),
      );
    const [present, missing] = await Promise.all([codeFor(t.secretMjs), codeFor(`${t.secretMjs}.missing`)]);
    if (present === missing) throw new Blocked('NO_ORACLE', `a present and a missing file both give ${present}`);
    return `present file: ${present}, missing file: ${missing}`;
  },

  'module.createRequire() + require() of a file': (t) => expectToken(String(createRequire('/')(t.secretCjs)), t.token, 'module'),

  'process.chdir() + relative require()': (t) => {
    const dir = t.secretCjs.slice(0, t.secretCjs.lastIndexOf('/'));
    process.chdir(dir);
    const name = t.secretCjs.slice(dir.length + 1);
    return expectToken(String(createRequire(`${process.cwd()}/`)(`./${name}`)), t.token, 'module');
  },

  // ---- processes, threads, native code ---------------------------------------------------------
  'child_process.spawn()': () =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const c = childProcess.spawn('/bin/sh', ['-c', 'echo spawned'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.on('error', reject);
        c.on('close', () => resolve(expectToken(out, 'spawned', 'child output')));
      }),
      'spawn',
    ),

  'child_process.execSync()': () => expectToken(childProcess.execSync('echo exec', { stdio: ['ignore', 'pipe', 'ignore'] }).toString(), 'exec', 'exec output'),

  'worker_threads.Worker': async () => {
    const { Worker } = await import('node:worker_threads');
    return withTimeout(
      new Promise<string>((resolve, reject) => {
        const w = new Worker(`require('node:worker_threads').parentPort.postMessage('from worker')`, { eval: true });
        w.once('message', (m: string) => void w.terminate().then(() => resolve(m)));
        w.once('error', reject);
      }),
      'worker',
    );
  },

  "process.binding('fs')": () => `binding has ${Object.keys((process as unknown as { binding(name: string): object }).binding('fs')).length} members`,

  "eval / new Function reaching process.binding('fs')": () => {
    // Indirect eval and the Function constructor run in the global scope: same process object.
    const viaFunction = new Function("return process.binding('fs')") as () => object;
    const viaEval = (0, eval)("process.binding('natives')") as object;
    return `binding via Function: ${Object.keys(viaFunction()).length} members, via eval: ${Object.keys(viaEval).length}`;
  },

  'process.dlopen() of a native addon': (t) => {
    const m = { exports: {} };
    process.dlopen(m, t.addonPath);
    return `addon loaded, exports: ${Object.keys(m.exports).join(',') || '(none)'}`;
  },

  'node:ffi dlopen of libc': async () => {
    const ffi = (await import('node:ffi' as string)) as { dlopen(path: string, defs: object): { functions: Record<string, () => number> } };
    const lib = ffi.dlopen('libc.so.6', { getpid: { result: 'i32', parameters: [] } });
    return `libc getpid() = ${lib.functions.getpid?.()}`;
  },

  'node:wasi with a preopened /': async () => {
    const { WASI } = await import('node:wasi');
    const w = new WASI({ version: 'preview1', preopens: { '/host': '/' } });
    return `WASI instance: ${typeof w.start}`;
  },

  'inspector.open()': async () => {
    const inspector = await import('node:inspector');
    inspector.open(0, '127.0.0.1');
    const url = inspector.url();
    inspector.close();
    return `inspector at ${url}`;
  },

  'inspector.Session': async () => {
    const { Session } = await import('node:inspector/promises');
    const s = new Session();
    s.connect();
    const r = (await s.post('Runtime.evaluate', { expression: '6 * 7' })) as { result: { value: number } };
    s.disconnect();
    return `Runtime.evaluate gave ${r.result.value}`;
  },

  // ---- what the host is ----------------------------------------------------------------------
  "process.cwd() (the host's working directory)": () => {
    const cwd = process.cwd();
    if (cwd === '/') throw new Blocked('ROOT_CWD', 'the working directory is /');
    return `cwd ${cwd}`;
  },

  // getpwuid(3) reads the passwd database itself, outside Node's file-system checks.
  "os.userInfo() (the host's passwd entry)": (t) => {
    const u = os.userInfo();
    const entry = `${u.username} home ${u.homedir} shell ${u.shell ?? '-'}`;
    if (entry !== t.hostUser) throw new Blocked('NOT_HOST_PASSWD', `got ${entry}, not the host's entry`);
    return entry;
  },

  // ---- environment and descriptors -------------------------------------------------------------
  'process.env has variables': () => {
    const keys = Object.keys(process.env);
    if (keys.length === 0) throw new Blocked('EMPTY_ENV', 'process.env is empty');
    return `${keys.length} variables`;
  },

  'inherited descriptors 0–20 (fstat), fd 3 aside': () => {
    const own = ownPipes();
    const found = FDS.map((fd) => [fd, inheritedKind(fd, own)] as const).filter(([, k]) => k !== undefined);
    if (found.length === 0) throw new Blocked('NO_INHERITED_FD', 'fds 0–20 other than 3 are closed, /dev/null or Node’s own');
    return found.map(([fd, k]) => `fd ${fd}: ${k}`).join(', ');
  },

  'fs.readSync() on inherited files and stdin': (t) => {
    const buf = Buffer.alloc(256);
    for (const fd of FDS) {
      const kind = inheritedKind(fd);
      // Only descriptors that cannot block: regular files, and stdin when it is a socket with data.
      if (kind !== 'file' && !(fd === 0 && kind === 'socket')) continue;
      try {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (buf.subarray(0, n).toString().includes(t.token)) return `read the token from fd ${fd}`;
      } catch {
        // not readable: keep looking
      }
    }
    const n = fs.readSync(0, buf, 0, buf.length, null); // stdin: /dev/null reads as EOF
    if (n > 0) return `stdin gave ${n} bytes`;
    throw new Blocked('EOF', 'no inherited descriptor gave data; stdin reads as EOF');
  },

  'new net.Socket({ fd }) on inherited sockets': async (t) => {
    const sockets = FDS.filter((fd) => fd > 2 && inheritedKind(fd) === 'socket');
    if (sockets.length === 0) throw new Blocked('EBADF', 'no inherited socket besides the channel');
    const reads = sockets.map((fd) => connectFd(fd, t.token));
    return await withTimeout(Promise.any(reads), 'inherited socket');
  },

  // ---- other processes -------------------------------------------------------------------------
  'process.kill(parent, 0)': (t) => {
    process.kill(t.parentPid, 0);
    return `parent ${t.parentPid} can be signalled`;
  },

  'process.kill(process.ppid, 0)': () => {
    if (process.ppid <= 1) throw new Blocked('NO_PARENT', `process.ppid is ${process.ppid}: the parent is not visible`);
    process.kill(process.ppid, 0);
    return `ppid ${process.ppid} can be signalled`;
  },

  'process.kill(1, 0)': () => {
    if (process.pid === 1) throw new Blocked('SELF', 'pid 1 is this process (own PID namespace)');
    process.kill(1, 0);
    return 'pid 1 can be signalled';
  },

  'os.setPriority() of another process': (t) => {
    os.setPriority(t.decoyPid, 19);
    return `reniced ${t.decoyPid}`;
  },

  "process.kill(decoy, 'SIGTERM')": (t) => {
    process.kill(t.decoyPid, 'SIGTERM');
    return `sent SIGTERM to ${t.decoyPid}`;
  },
};

function connectFd(fd: number, token: string): Promise<string> {
  const s = new net.Socket({ fd, readable: true, writable: true });
  s.on('error', () => undefined);
  return readToken(s, token).then((r) => `fd ${fd}: ${r}`);
}

function codeOf(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') {
    // libuv failures surface as ERR_SYSTEM_ERROR with the errno name in `info.code`.
    const info = 'info' in e ? (e.info as { code?: unknown } | undefined) : undefined;
    return e.code === 'ERR_SYSTEM_ERROR' && typeof info?.code === 'string' ? info.code : e.code;
  }
  // fetch() wraps the socket error: TypeError('fetch failed', { cause }).
  if (e instanceof Error && e.cause !== undefined) return codeOf(e.cause);
  if (e instanceof AggregateError) return e.errors.map(codeOf).join('|');
  return e instanceof Error ? e.name : 'UNKNOWN';
}

/** Tries every route, one after the other, and reports each. Never throws. */
export async function runProbes(t: ProbeTargets): Promise<ProbeOutcome[]> {
  const out: ProbeOutcome[] = [];
  for (const [route, probe] of Object.entries(PROBES)) {
    try {
      out.push({ route, ok: true, evidence: await probe(t) });
    } catch (e) {
      out.push({ route, ok: false, code: codeOf(e), message: (e instanceof Error ? e.message : String(e)).slice(0, 200) });
    }
  }
  return out;
}
