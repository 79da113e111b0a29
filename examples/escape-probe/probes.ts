// Routes out of an enclave, each tried for real. The same code runs inside an enclave (bundled into
// the image by main.ts), under the launcher with one kernel layer at a time, and in a plain `node`
// process outside the sandbox (outside.ts), so the escape suite (test/host/escape.test.ts) can show
// that every route works out there and fails in here: a probe that fails everywhere would prove
// nothing. A route is named by what it would reach (a host file, a host process, the network…),
// not by the API it uses, so it counts as blocked only when the reaching fails.
//
// A probe resolves with evidence that the route worked (data read from the outside world, a file
// written, a process signalled) and throws when it was stopped; the report keeps the error's `code`
// so the suite can say which isolation layer stopped it.
//
// Signals. A signal probe first asks the kernel with signal 0, which checks exactly the permission
// a real signal needs (kill(2)) and delivers nothing: where that succeeds the route is open and no
// real signal is sent (outside the sandbox, and under a layer that does not stop it). Where it
// fails, every signal number 1-64 is sent for real, and each must fail too. Signals to the
// prober's own process group (0) are judged by a catcher process in the host's group (the suite).
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
  /** A file holding `token`, readable by its owner only (0600). */
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
  /** A file whose contents the probes try to replace (in the enclave: a file of its own root). */
  readonly rootFile: string;
  /** The host's CA custody key (custody/seal.key): whoever reads it (and pki/) can mint documents. */
  readonly rootKeyPath: string;
  /** A native addon that loads in this Node. */
  readonly addonPath: string;
  /** The process that started the prober (the host, or the test runner outside). */
  readonly parentPid: number;
  /** The host's process group. */
  readonly hostPgid: number;
  /** A throwaway process the probes try to terminate. */
  readonly decoyPid: number;
  /** A Node process that reports the signals it catches and accepts an inspector (SIGUSR1). */
  readonly catcherPid: number;
  /** Processes of another enclave (its launcher and its Node). */
  readonly victimPids: readonly number[];
  /** Pids to guess at: 2 up to this. */
  readonly pidMax: number;
  /** The host's passwd entry for its user, as os.userInfo() shows it: `name home H shell S`. */
  readonly hostUser: string;
  /** The host's name, as os.hostname() says outside. */
  readonly hostName: string;
  /** A cgroup.procs file of the host's that would take the prober out of its limits. */
  readonly cgroupProcs: string;
  /** A limit file of the prober's own group (memory), to raise. */
  readonly cgroupLimit: string;
  /** A cgroup directory to make a group in. */
  readonly cgroupDir: string;
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

function expectBytes(bytes: Uint8Array, length: number, what: string): string {
  if (bytes.length !== length) throw new Blocked('ENOTOKEN', `${what} was not the ${length}-byte key`);
  return `${what}: ${length} bytes`;
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
  for (let fd = 0; fd < 1024; fd++) {
    const st = fstat(fd);
    if (st?.isFIFO()) seen.set(st.ino, (seen.get(st.ino) ?? 0) + 1);
  }
  return new Set([...seen].filter(([, n]) => n > 1).map(([ino]) => ino));
}

/** Is this descriptor something a process could use to reach the world? */
function inheritedKind(fd: number, own: Set<number>): string | undefined {
  const st = fstat(fd);
  if (!st) return undefined;
  // Node's own descriptors exist in every Node process: epoll, eventfd and timerfd are anonymous
  // inodes with no file type, its self-pipes have both ends here. /dev/null is char device 1:3.
  // Node 26 also holds one on the root directory (opened O_CLOEXEC as it sets up its standard
  // streams; strace): a directory descriptor is only good for its metadata, which the write
  // routes below try.
  const devNull = st.isCharacterDevice() && st.rdev === ((1 << 8) | 3);
  if (devNull || st.isDirectory() || (st.mode & fs.constants.S_IFMT) === 0 || (st.isFIFO() && own.has(st.ino))) return undefined;
  if (st.isFIFO()) return 'pipe';
  if (st.isSocket()) return 'socket';
  if (st.isFile()) return 'file';
  if (st.isCharacterDevice()) return `char device ${st.rdev}`;
  return `mode ${st.mode.toString(8)}`;
}

/** Every descriptor a process normally has room for above the standard streams and the channel (fd 3). */
const FDS = Array.from({ length: 1020 }, (_, i) => i + 4);

/** Descriptors 4–1023 that lead to something outside Node's own. */
function foreignDescriptors(): [number, string][] {
  const own = ownPipes();
  return FDS.map((fd) => [fd, inheritedKind(fd, own)] as [number, string | undefined]).filter((x): x is [number, string] => x[1] !== undefined);
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

/** The first error code of `f`, or undefined when it succeeds. */
function attempt(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return codeOf(e);
  }
}

/**
 * Sends signals to `target` as the header says: signal 0 first (open if it passes); then every
 * number 1–64, each of which must fail. Throws with the codes seen when blocked.
 */
function signalRoute(target: number, what: string): string {
  const zero = attempt(() => process.kill(target, 0));
  if (zero === undefined) return `kill(${target}, 0) passed: the kernel would deliver any signal to ${what}`;
  const codes = new Set([zero]);
  for (let sig = 1; sig <= 64; sig++) {
    const code = attempt(() => process.kill(target, sig));
    if (code === undefined) return `signal ${sig} reached ${what} (pid ${target})`;
    codes.add(code);
  }
  throw new Blocked([...codes].join('|'), `signal 0 and every signal 1–64 to ${what} refused: ${[...codes].join(', ')}`);
}

/** /proc/self/status's line `key`, or the read's failure. */
function statusField(key: string): string {
  const m = new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Blocked('NO_FIELD', `no ${key} in /proc/self/status`);
  return m[1]!.trim();
}

/** A privilege route: the status field shows the privilege (non-zero capabilities, no no_new_privs…). */
function privilege(key: string, held: (value: string) => boolean): Probe {
  return () => {
    const v = statusField(key);
    if (!held(v)) throw new Blocked('NOT_HELD', `${key}: ${v}`);
    return `${key}: ${v}`;
  };
}

const nonZero = (hex: string): boolean => /[1-9a-f]/i.test(hex);

/** A privileged change that is undone at once where it worked (the outside run goes on as before). */
function andBack(change: () => void, undo: () => void, what: string): string {
  change();
  undo();
  return what;
}

function readBlocks(path: string, token?: string): Probe {
  return () => {
    const text = fs.readFileSync(path, 'latin1');
    if (token !== undefined) return expectToken(text, token, path);
    if (text.length === 0) throw new Blocked('EMPTY', `${path} is empty`);
    return `${path}: ${text.length} bytes (${JSON.stringify(text.slice(0, 30))})`;
  };
}

function listDir(path: string): Probe {
  return () => {
    const names = fs.readdirSync(path);
    if (names.length === 0) throw new Blocked('EMPTY', `${path} is empty`);
    return `${path}: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}`;
  };
}

/** Secret read through an in-process API the kernel cannot tell from Node's own work. */
function secretVia(run: (path: string) => Promise<string> | string): Probe {
  return async (t) => expectToken(String(await run(t.secretFile)), t.token, 'secret');
}

type FfiLib = { functions: Record<string, (...args: number[]) => number> };

export const PROBES: Readonly<Record<string, Probe>> = {
  // ---- descriptors (first: before any probe opens one of its own) --------------------------------
  'descriptors 4–1023 that lead outside (fstat)': () => {
    const found = foreignDescriptors();
    if (found.length === 0) throw new Blocked('NO_INHERITED_FD', 'fds 4–1023 are closed or Node’s own');
    return found.map(([fd, k]) => `fd ${fd}: ${k}`).join(', ');
  },

  'fs.readSync() on descriptors 4–1023': (t) => {
    const buf = Buffer.alloc(256);
    for (const [fd, kind] of foreignDescriptors()) {
      if (kind !== 'file') continue; // a pipe or a socket could block
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      if (buf.subarray(0, n).toString().includes(t.token)) return `read the token from fd ${fd}`;
    }
    throw new Blocked('NO_INHERITED_FD', 'no descriptor gave data');
  },

  'read stdin (fd 0)': (t) => {
    const buf = Buffer.alloc(256);
    const kind = fstat(0);
    // Only what cannot block: /dev/null (EOF at once) or the socket the outside run fills.
    if (!kind?.isSocket() && !kind?.isCharacterDevice() && !kind?.isFile()) throw new Blocked('NOT_READABLE', 'stdin is neither a socket, a device nor a file');
    const n = fs.readSync(0, buf, 0, buf.length, null);
    if (n === 0) throw new Blocked('EOF', 'stdin reads as EOF (/dev/null)');
    return expectToken(buf.subarray(0, n).toString(), t.token, 'stdin');
  },

  'fs.writeSync() to descriptors 4–1023': (t) => {
    for (const [fd, kind] of foreignDescriptors()) {
      if (kind === 'file' && attempt(() => fs.writeSync(fd, t.token, 0)) === undefined) return `wrote into fd ${fd}`;
    }
    throw new Blocked('NO_INHERITED_FD', 'no descriptor to write into');
  },

  'fs.ftruncateSync() on descriptors 4–1023': () => {
    for (const [fd, kind] of foreignDescriptors()) {
      if (kind === 'file' && attempt(() => fs.ftruncateSync(fd, 1)) === undefined) return `truncated fd ${fd}`;
    }
    throw new Blocked('NO_INHERITED_FD', 'no descriptor to truncate');
  },

  'fs.fchmodSync() / futimesSync() on any descriptor 4–1023': () => {
    const codes = new Set<string>();
    for (let fd = 4; fd < 1024; fd++) {
      const st = fstat(fd);
      // Files and directories (Node's own on the root among them); a pipe's or a socket's inode
      // is the process's own.
      if (!st || !(st.isFile() || st.isDirectory())) continue;
      const c = attempt(() => fs.fchmodSync(fd, st.mode & 0o7777)) ?? attempt(() => fs.futimesSync(fd, st.atime, st.mtime));
      if (c === undefined) return `changed the metadata of fd ${fd} (${st.isDirectory() ? 'a directory' : 'a file'})`;
      codes.add(c);
    }
    throw new Blocked([...codes].join('|') || 'NO_INHERITED_FD', `no descriptor's metadata could be changed: ${[...codes].join(', ') || 'none open'}`);
  },

  'new net.Socket({ fd }) on inherited sockets': async (t) => {
    const sockets = foreignDescriptors().filter(([, k]) => k === 'socket');
    if (sockets.length === 0) throw new Blocked('EBADF', 'no inherited socket besides the channel');
    const reads = sockets.map(([fd]) => {
      const s = new net.Socket({ fd, readable: true, writable: true });
      s.on('error', () => undefined);
      return readToken(s, t.token).then((r) => `fd ${fd}: ${r}`);
    });
    return await withTimeout(Promise.any(reads), 'inherited socket');
  },

  // ---- network -----------------------------------------------------------------------------------
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

  'net.connect() TCP over IPv6 loopback (::1)': (t) => connectAndRead({ host: '::1', port: t.tcpPort }, t.token),

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

  'os.networkInterfaces() shows the host network': () => {
    const names = Object.entries(os.networkInterfaces())
      .filter(([, addrs]) => addrs?.some((a) => !a.internal))
      .map(([n]) => n);
    if (names.length === 0) throw new Blocked('NO_INTERFACE', 'only a loopback interface, and it is down');
    return `interfaces: ${names.join(', ')}`;
  },

  'inspector.open() on loopback': async () => {
    const inspector = await import('node:inspector');
    inspector.open(0, '127.0.0.1');
    const url = inspector.url();
    inspector.close();
    if (!url) throw new Blocked('NO_INSPECTOR', 'the inspector did not open');
    return `inspector at ${url}`;
  },

  // ---- the host's files ----------------------------------------------------------------------------
  'read /etc/passwd': () => expectToken(fs.readFileSync('/etc/passwd', 'utf8'), 'root:x:0:0:root', '/etc/passwd'),

  'stat /etc/shadow': () => `shadow: ${fs.statSync('/etc/shadow').size} bytes`,

  'read a planted secret file': (t) => expectToken(fs.readFileSync(t.secretFile, 'utf8'), t.token, 'secret file'),

  'read its own image file': (t) => `image: ${fs.readFileSync(t.imagePath).length} bytes`,

  "read the host's CA custody key (custody/seal.key)": (t) => expectBytes(fs.readFileSync(t.rootKeyPath), 32, 'seal.key'),

  'fs.watch() a host directory (inotify)': (t) => {
    const w = fs.watch(t.writeDir);
    w.close();
    return `watched ${t.writeDir}`;
  },

  "list /usr (the host's programs)": listDir('/usr'),

  'read /proc/self/exe (the Node binary on the host)': () => `exe: ${fs.statSync('/proc/self/exe').size} bytes`,

  'write a file under the temp dir': (t) => {
    fs.writeFileSync(`${t.writeDir}/written-by-probe.txt`, t.token);
    return 'wrote written-by-probe.txt';
  },

  'overwrite a file of the root (shared by every enclave)': (t) => {
    fs.appendFileSync(t.rootFile, '');
    fs.writeFileSync(t.rootFile, fs.readFileSync(t.rootFile));
    return `rewrote ${t.rootFile}`;
  },

  'mkdir / symlink under the temp dir': (t) => {
    fs.mkdirSync(`${t.writeDir}/made-by-probe`, { recursive: true });
    fs.symlinkSync('/etc/passwd', `${t.writeDir}/made-by-probe/link`);
    return 'made a directory and a symlink';
  },

  'chmod a planted file': (t) => {
    const st = fs.statSync(t.secretFile);
    fs.chmodSync(t.secretFile, st.mode & 0o7777);
    return `chmod ${t.secretFile}`;
  },

  'fs.openAsBlob()': async (t) => expectToken(await (await fs.openAsBlob(t.secretFile)).text(), t.token, 'blob'),

  'process.loadEnvFile()': (t) => {
    process.loadEnvFile(t.envFile);
    return expectToken(process.env.PROBE_TOKEN ?? '', t.token, 'PROBE_TOKEN');
  },

  'process.report.writeReport() to a file': (t) => {
    // Where it cannot write the file, Node says so on stderr and returns the name anyway.
    const file = `${t.writeDir}/report.json`;
    process.report.writeReport(file);
    if (!fs.existsSync(file)) throw new Blocked('NOT_WRITTEN', `no ${file}`);
    return `report at ${file}`;
  },

  'node:sqlite database file': async (t) => {
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(`${t.writeDir}/probe.db`);
    db.exec('CREATE TABLE escaped (x TEXT)');
    db.close();
    return 'created probe.db';
  },

  'node:sqlite through process.getBuiltinModule()': (t) => {
    type Sqlite = typeof import('node:sqlite');
    const sqlite = process.getBuiltinModule('node:sqlite') as Sqlite | undefined;
    if (!sqlite) throw new Blocked('ERR_UNKNOWN_BUILTIN_MODULE', 'node:sqlite is not a builtin here');
    const db = new sqlite.DatabaseSync(`${t.writeDir}/probe-builtin.db`);
    db.close();
    return 'created probe-builtin.db';
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

  // ---- the secret through in-process APIs (what each could reach: the host's files) ---------------
  "process.binding('fs') reads the secret": secretVia((p) => (process as unknown as { binding(n: string): { readFileUtf8(p: string, f: number): string } }).binding('fs').readFileUtf8(p, 0)),

  'new Function / indirect eval reach the secret': secretVia((p) => (new Function('p', "return process.getBuiltinModule('node:fs').readFileSync(p, 'utf8')") as (p: string) => string)(p)),

  'a worker_threads.Worker reads the secret': secretVia(async (p) => {
    const { Worker } = await import('node:worker_threads');
    return withTimeout(
      new Promise<string>((resolve, reject) => {
        // getBuiltinModule: the worker's code runs as CommonJS or as a module, like its parent's.
        const code = `const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads'); parentPort.postMessage(process.getBuiltinModule('node:fs').readFileSync(workerData, 'utf8'))`;
        const w = new Worker(code, { eval: true, workerData: p });
        w.once('message', (m: string) => void w.terminate().then(() => resolve(m)));
        w.once('error', reject);
      }),
      'worker',
    );
  }),

  'inspector.Session evaluates code that reads the secret': secretVia(async (p) => {
    const { Session } = await import('node:inspector/promises');
    const s = new Session();
    s.connect();
    try {
      const r = (await s.post('Runtime.evaluate', { expression: `process.getBuiltinModule('node:fs').readFileSync(${JSON.stringify(p)}, 'utf8')` })) as { result: { value?: string; description?: string } };
      if (r.result.value === undefined) throw new Blocked('EVAL_THREW', r.result.description ?? 'no value');
      return r.result.value;
    } finally {
      s.disconnect();
    }
  }),

  'node:wasi preopens the secret’s directory': async (t) => {
    const { WASI } = await import('node:wasi');
    const dir = t.secretFile.slice(0, t.secretFile.lastIndexOf('/'));
    const w = new WASI({ version: 'preview1', preopens: { '/host': dir } });
    // Binding the preopen opens the directory (uvwasi_init): that is the reach.
    w.getImportObject();
    return `preopened ${dir} (WASI instance: ${typeof w.start})`;
  },

  // ---- loading code from disk --------------------------------------------------------------------
  "import('file://…') of a module on disk": async (t) => {
    const m = (await import(pathToFileURL(t.secretMjs).href)) as { default: string };
    return expectToken(m.default, t.token, 'module');
  },

  // The resolver looks for the file before the permission check: a different error for a file
  // that exists tells the enclave what is on the host's disk, without reading it.
  'import() errors as a file-existence oracle': async (t) => {
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
    const back = process.cwd();
    process.chdir(dir);
    try {
      const name = t.secretCjs.slice(dir.length + 1);
      return expectToken(String(createRequire(`${process.cwd()}/`)(`./${name}`)), t.token, 'module');
    } finally {
      process.chdir(back);
    }
  },

  'process.dlopen() of a native addon on disk': (t) => {
    const m = { exports: {} };
    process.dlopen(m, t.addonPath);
    return `addon loaded, exports: ${Object.keys(m.exports).join(',') || '(none)'}`;
  },

  // ---- other processes -----------------------------------------------------------------------------
  'child_process.spawn() of /bin/sh': () =>
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

  'child_process.spawn() of Node itself': () =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const c = childProcess.spawn(process.execPath, ['-e', 'process.stdout.write("forked")'], { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.on('error', reject);
        c.on('close', () => resolve(expectToken(out, 'forked', 'child output')));
      }),
      'spawn node',
    ),

  'node:ffi: native code signals the parent (libc kill)': async (t) => {
    const ffi = (await import('node:ffi' as string)) as { dlopen(path: string, defs: object): FfiLib };
    const lib = ffi.dlopen('libc.so.6', { kill: { return: 'int32', arguments: ['int32', 'int32'] } });
    const r = lib.functions.kill!(t.parentPid, 0);
    if (r !== 0) throw new Blocked('LIBC_KILL_FAILED', `libc kill(parent, 0) returned ${r}`);
    return `libc kill(${t.parentPid}, 0) = 0`;
  },

  "process._debugProcess(): an inspector in another Node (SIGUSR1)": (t) => {
    (process as unknown as { _debugProcess(pid: number): void })._debugProcess(t.catcherPid);
    return `SIGUSR1 sent to ${t.catcherPid}`;
  },

  // ---- signals (see the header) --------------------------------------------------------------------
  'signals to its own process group (kill 0)': () => {
    const zero = attempt(() => process.kill(0, 0));
    if (zero !== undefined) return signalRoute(0, 'its process group');
    // The group exists; whether it holds anyone outside is for the catcher to say: a harmless
    // signal it records (the suite reads it), where the kernel let signal 0 through.
    process.kill(0, 'SIGWINCH');
    return 'kill(0, SIGWINCH) sent to its process group';
  },

  'signals to every process (kill -1)': () => signalRoute(-1, 'every process it may signal'),

  'signals to the host (parent pid)': (t) => signalRoute(t.parentPid, 'the host'),

  "signals to the host's process group (kill -pgid)": (t) => signalRoute(-t.hostPgid, "the host's process group"),

  'signals to pid 1 (the machine’s init)': () => {
    if (process.pid === 1) throw new Blocked('SELF', 'pid 1 is this process (its own PID namespace)');
    return signalRoute(1, 'pid 1');
  },

  'signals to another enclave': (t) => {
    const codes: string[] = [];
    for (const pid of t.victimPids) {
      try {
        return signalRoute(pid, `enclave process ${pid}`);
      } catch (e) {
        codes.push(codeOf(e));
      }
    }
    throw new Blocked(codes.join('|') || 'NO_VICTIM', `every process of the other enclave refused: ${codes.join(', ')}`);
  },

  // From 200: below it, in a PID namespace of its own, are its own threads (which kill(2) also
  // finds), never more than the enclave's task limit (pids.max, 128).
  'signals to guessed host pids (200 … pid_max)': (t) => {
    const found: number[] = [];
    for (let pid = 200; pid <= t.pidMax && found.length < 8; pid++) {
      if (pid !== process.pid && attempt(() => process.kill(pid, 0)) === undefined) found.push(pid);
    }
    if (found.length === 0) throw new Blocked('ESRCH', `no pid 200–${t.pidMax} answers signal 0`);
    return `pids that answer: ${found.join(', ')}…`;
  },

  "SIGTERM to a decoy process": (t) => {
    process.kill(t.decoyPid, 'SIGTERM');
    return `sent SIGTERM to ${t.decoyPid}`;
  },

  'process.ppid names the host': () => {
    if (process.ppid <= 1) throw new Blocked('NO_PARENT', `process.ppid is ${process.ppid}: the parent is not visible`);
    process.kill(process.ppid, 0);
    return `ppid ${process.ppid} can be signalled`;
  },

  // ---- priorities and privileges ---------------------------------------------------------------------
  'os.setPriority() of another process': (t) => {
    os.setPriority(t.catcherPid, os.getPriority(t.catcherPid));
    return `set the priority of ${t.catcherPid}`;
  },

  'os.setPriority() of the host': (t) => {
    const was = os.getPriority(t.parentPid);
    return andBack(() => os.setPriority(t.parentPid, was), () => undefined, `set the host's priority (${was})`);
  },

  'os.setPriority(): raise its own priority above others': () => {
    const was = os.getPriority(0);
    return andBack(() => os.setPriority(0, -10), () => os.setPriority(0, was), `raised its own priority to -10 (from ${was})`);
  },

  // (POSIX-only APIs: optional in Node's types.)
  'process.seteuid() to another user': () => andBack(() => process.seteuid!(4242), () => process.seteuid!(0), 'euid 4242, and back'),

  'process.setegid() to another group': () => andBack(() => process.setegid!(4242), () => process.setegid!(0), 'egid 4242, and back'),

  'process.setgroups() (supplementary groups)': () => {
    const was = process.getgroups!();
    return andBack(() => process.setgroups!([...was, 4242]), () => process.setgroups!(was), 'added group 4242, and back');
  },

  '/proc/self/status: CapEff (effective capabilities)': privilege('CapEff', nonZero),
  '/proc/self/status: CapPrm (permitted capabilities)': privilege('CapPrm', nonZero),
  '/proc/self/status: CapBnd (bounding set)': privilege('CapBnd', nonZero),
  '/proc/self/status: NoNewPrivs 0 (setuid programs work)': privilege('NoNewPrivs', (v) => v === '0'),
  '/proc/self/status: Seccomp 0 (no syscall filter)': privilege('Seccomp', (v) => v === '0'),

  // Lowering it (away from the OOM killer) needs CAP_SYS_RESOURCE, which some root hosts lack:
  // that the file takes a write at all is the route.
  '/proc/self/oom_score_adj: write its OOM score': () => {
    const was = fs.readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
    fs.writeFileSync('/proc/self/oom_score_adj', was);
    return `rewrote oom_score_adj (${was})`;
  },

  // ---- /proc and /sys ------------------------------------------------------------------------------
  'read /proc/self/environ': readBlocks('/proc/self/environ'),
  'read /proc/self/maps': readBlocks('/proc/self/maps'),
  'read /proc/self/mountinfo (the host mounts)': readBlocks('/proc/self/mountinfo'),
  'read /proc/self/cgroup': readBlocks('/proc/self/cgroup'),
  "read /proc/<host>/cmdline": (t) => readBlocks(`/proc/${t.parentPid}/cmdline`)(t),
  "read /proc/<host>/environ": (t) => readBlocks(`/proc/${t.parentPid}/environ`)(t),
  "list /proc/<host>/root (the host's file system)": (t) => listDir(`/proc/${t.parentPid}/root/usr`)(t),
  'read /proc/1/cmdline': readBlocks('/proc/1/cmdline'),
  'read /proc/meminfo': readBlocks('/proc/meminfo'),
  'read /proc/cpuinfo': readBlocks('/proc/cpuinfo'),
  'read /proc/version (the kernel build)': readBlocks('/proc/version'),
  "list /proc/<host>/fd (the host's open files)": (t) => listDir(`/proc/${t.parentPid}/fd`)(t),
  'read /proc/net/tcp (the host sockets)': readBlocks('/proc/net/tcp'),
  'read /proc/net/unix (the host unix sockets)': readBlocks('/proc/net/unix'),
  'read /proc/sys/kernel/hostname': readBlocks('/proc/sys/kernel/hostname'),
  'list /proc (every process)': listDir('/proc'),
  'list /sys/class/net (network devices)': listDir('/sys/class/net'),
  'list /dev (the host devices)': listDir('/dev'),
  'list /sys/fs/cgroup (control groups)': listDir('/sys/fs/cgroup'),

  // ---- its control group -----------------------------------------------------------------------------
  'cgroup: move itself into the host’s group (out of its limits)': (t) => {
    fs.writeFileSync(t.cgroupProcs, `${process.pid}\n`);
    return `wrote its pid into ${t.cgroupProcs}`;
  },

  'cgroup: raise its memory limit': (t) => {
    const was = fs.readFileSync(t.cgroupLimit, 'utf8').trim();
    fs.writeFileSync(t.cgroupLimit, was);
    return `rewrote ${t.cgroupLimit} (${was})`;
  },

  'cgroup: make a group of its own': (t) => {
    const dir = `${t.cgroupDir}/probe-${process.pid}`;
    fs.mkdirSync(dir);
    fs.rmdirSync(dir);
    return `made (and removed) ${dir}`;
  },

  // ---- what the host is ----------------------------------------------------------------------------
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

  "os.hostname() (the host's name)": (t) => {
    const name = os.hostname();
    if (name !== t.hostName) throw new Blocked('NOT_HOST_NAME', `host name ${name}`);
    return `host name ${name}`;
  },

  'process.env has variables': () => {
    const keys = Object.keys(process.env);
    if (keys.length === 0) throw new Blocked('EMPTY_ENV', 'process.env is empty');
    return `${keys.length} variables`;
  },
};

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
