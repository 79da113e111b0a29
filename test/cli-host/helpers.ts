// Helpers for the CLI/daemon/vsock-proxy tests: temp dirs, the CLI in-process and as a process,
// raw daemon requests, and cleanup of every daemon a test file starts.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { findDaemon, runtimePaths } from '../../host/daemon/index.ts';
import { probeIsolation } from '../../host/index.ts';
import { expect } from 'vitest';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const appEntry = join(repoRoot, 'test/cli-host/fixtures/app.ts');
export const ECHO_PORT = 5005;
export const RELAY_PORT = 5006;

/**
 * On a machine that cannot make network namespaces, enclaves run only with weaker isolation
 * accepted (as describe-enclaves then reports); everywhere else the full isolation is used.
 */
export const WEAK_MACHINE = probeIsolation().netns === null;
export const WEAK_FLAGS: string[] = WEAK_MACHINE ? ['--allow-weaker-isolation'] : [];
export const WEAK: { allowWeakerIsolation?: boolean } = WEAK_MACHINE ? { allowWeakerIsolation: true } : {};

/** Nothing on stderr, except run-enclave's weaker-isolation warning on such a machine. */
/**
 * Standard error of a successful run-enclave: nitro-cli's two progress lines (resource_manager.rs
 * `init_memory`, `start`) and, on a machine without every isolation layer, its warning; nothing else.
 */
export function expectQuietStderr(err: string): void {
  expect(err).toMatch(/^Start allocating memory\.\.\.\nStarted enclave with enclave-cid: \d+, memory: \d+ MiB, cpu-ids: \[\d+(, \d+)*\]\n/);
  const lines = err.split('\n').slice(2).filter((l) => l !== '');
  if (WEAK_MACHINE) for (const l of lines) expect(l).toMatch(/^warning: enclave .* runs with weaker isolation: /);
  else expect(lines).toEqual([]);
}

const made: string[] = [];
export function tempDir(prefix = 'nsbx-cli-host-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs bin/nitro-sandbox.js as its own process. */
export function cliProcess(argv: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolveResult) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/nitro-sandbox.js'), ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('close', (code) => resolveResult({ code: code ?? -1, out, err }));
  });
}

/** Sends raw bytes to the daemon socket and returns everything it answers until it closes. */
export function rawRequest(socketPath: string, bytes: string | Buffer, endAfter = true): Promise<string> {
  return new Promise((resolveText, reject) => {
    const s = net.connect({ path: socketPath, allowHalfOpen: true });
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.once('error', reject);
    // The client is half-open: the daemon's FIN (end) is the end of its answer.
    s.once('end', () => {
      resolveText(text);
      s.destroy();
    });
    s.once('close', () => resolveText(text));
    s.write(bytes);
    if (endAfter) s.end();
  });
}

/** The `code` of what `f` throws (undefined when it does not throw). */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** Reads a stream to its end. */
export async function readAll(s: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function pidAliveNotZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Stops the daemon of each runtime dir (shutdown, then SIGKILL of the lock's pid) and removes temp dirs. */
export async function cleanupDaemons(runtimeDirs: readonly string[]): Promise<void> {
  for (const dir of runtimeDirs) {
    try {
      const c = await findDaemon(dir);
      if (c) await c.shutdown();
    } catch {
      // fall through to the kill
    }
    try {
      const pid = Number(readFileSync(runtimePaths(dir).lock, 'utf8'));
      if (pid > 0 && pid !== process.pid) process.kill(pid, 'SIGKILL');
    } catch {
      // no lock or already dead
    }
  }
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
