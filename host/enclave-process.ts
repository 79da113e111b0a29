// One running enclave: its OS process, its channel, its NSM device, its console and its fate.
// The host spawns the process with the launch plan (isolation layers), serves the image on the
// boot port, and then watches it: exit or crash, an RSS above its memory, or a missed heartbeat
// (a hung event loop) each end the enclave with a recorded reason.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { NsmDevice } from '../attestation/index.ts';
import { BOOT_PORT } from '../enclave/index.ts';
import type { Channel, VsockConnection } from '../enclave/index.ts';
import { openHostChannel } from './vsock/index.ts';
import { EnclaveBootError } from './errors.ts';
import type { LaunchPlan } from './isolation.ts';

export type EnclaveState = 'BOOTING' | 'RUNNING' | 'TERMINATING' | 'TERMINATED';

export interface ProcessLimits {
  readonly memoryMiB: number;
  /** A running enclave that sends no heartbeat for this long is declared hung and killed. */
  readonly hangTimeoutMs: number;
  readonly bootTimeoutMs: number;
  /** How often the RSS watchdog samples /proc/<pid>/status. */
  readonly watchdogIntervalMs: number;
}

const CONSOLE_LIMIT = 1 << 20; // bytes of console history kept for `console`

/** Reads VmRSS (KiB) of a process from /proc; undefined when gone. */
function rssKiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * VmRSS of a process plus its descendants: in a PID namespace the spawned process is `unshare`,
 * and the enclave's Node is its child (isolation.ts), so the enclave's memory is the tree's.
 */
export function treeRssKiB(pid: number, depth = 0): number | undefined {
  const own = rssKiB(pid);
  if (own === undefined || depth > 4) return own;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    // gone, or a kernel without CONFIG_PROC_CHILDREN: count the process alone
  }
  return children.reduce((sum, c) => sum + (treeRssKiB(c, depth + 1) ?? 0), own);
}

/**
 * A spawned enclave process: booting (waiting on the boot port for the image) or running. Created
 * by `EnclaveProcess.spawn`; a warm pool keeps some spawned but without an image.
 */
export class EnclaveProcess {
  readonly child: ChildProcess;
  readonly channel: Channel;
  readonly plan: LaunchPlan;
  state: EnclaveState = 'BOOTING';
  exitReason: string | undefined;
  readonly #limits: ProcessLimits;
  #bootConn: VsockConnection | undefined;
  #bootWaiters: ((c: VsockConnection) => void)[] = [];
  #statusBuffer = '';
  #lastHeartbeat = Date.now();
  #timers: NodeJS.Timeout[] = [];
  #console: Buffer[] = [];
  #consoleBytes = 0;
  readonly #consoleSubscribers = new Set<(chunk: Buffer | null) => void>();
  readonly exited: Promise<void>;
  #resolveExited!: () => void;
  #onReady: ((err?: Error) => void) | undefined;

  private constructor(child: ChildProcess, channel: Channel, plan: LaunchPlan, limits: ProcessLimits) {
    this.child = child;
    this.channel = channel;
    this.plan = plan;
    this.#limits = limits;
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    child.once('exit', (code, signal) => this.#finish(this.exitReason ?? (signal ? `killed by ${signal}` : `exited with code ${code}`)));
    channel.listen(BOOT_PORT, (conn) => {
      if (this.#bootConn) {
        conn.destroy();
        return;
      }
      this.#bootConn = conn;
      conn.setEncoding('utf8');
      conn.on('data', (text: string) => this.#onStatus(text));
      conn.on('error', () => undefined);
      for (const w of this.#bootWaiters) w(conn);
      this.#bootWaiters = [];
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => this.#onConsole(chunk));
    }
  }

  static spawn(plan: LaunchPlan, limits: ProcessLimits): EnclaveProcess {
    const debug = plan.report.Descriptors['1'] === 'console';
    const child = spawn(plan.command, plan.args, {
      env: plan.env,
      // Not the host's working directory: process.cwd() needs no permission and would tell the
      // enclave where the host runs (test/host/escape.test.ts).
      cwd: '/',
      stdio: ['ignore', debug ? 'pipe' : 'ignore', debug ? 'pipe' : 'ignore', 'pipe'],
      detached: false,
    });
    const channel = openHostChannel(child.stdio[3] as Duplex);
    const p = new EnclaveProcess(child, channel, plan, limits);
    child.once('error', (e) => {
      // A process that never started (ENOENT, EAGAIN…) gets no 'exit': it ends here, or the boot
      // waiting for it and everyone awaiting `exited` would wait forever.
      if (child.pid === undefined) p.#finish(`spawn failed: ${e.message}`);
      else p.#fail(`process error: ${e.message}`);
    });
    return p;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends the image and waits for the bootstrap's "ready" (or failure). */
  async boot(image: Uint8Array, nsm: NsmDevice | Promise<NsmDevice>): Promise<void> {
    this.channel.setNsmHandler(async (req) => (await nsm).process(req));
    const conn = this.#bootConn ?? (await this.#waitBootConn());
    const ready = new Promise<void>((resolve, reject) => {
      this.#onReady = (err) => (err ? reject(err) : resolve());
    });
    const timer = setTimeout(() => this.#fail(`boot timed out after ${this.#limits.bootTimeoutMs} ms`), this.#limits.bootTimeoutMs);
    conn.end(Buffer.from(image.buffer, image.byteOffset, image.byteLength));
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
    this.state = 'RUNNING';
    this.#lastHeartbeat = Date.now();
    this.#startWatchdogs();
  }

  /** Resolves when the bootstrap has connected and waits for its image (warm pool readiness). */
  async waitBootConnection(): Promise<void> {
    if (!this.#bootConn) await this.#waitBootConn();
  }

  #waitBootConn(): Promise<VsockConnection> {
    return new Promise((resolve, reject) => {
      if (this.state === 'TERMINATED') {
        reject(new EnclaveBootError(`enclave process ended before booting: ${this.exitReason}`));
        return;
      }
      this.#bootWaiters.push(resolve);
      const t = setTimeout(() => this.#fail('bootstrap did not connect'), this.#limits.bootTimeoutMs);
      void this.exited.then(() => {
        clearTimeout(t);
        reject(new EnclaveBootError(`enclave process ended before booting: ${this.exitReason}`));
      });
      this.#bootWaiters.push(() => clearTimeout(t));
    });
  }

  #onStatus(text: string): void {
    this.#statusBuffer += text;
    if (this.#statusBuffer.length > 65536) {
      this.#fail('bootstrap status line too long');
      return;
    }
    let nl: number;
    while ((nl = this.#statusBuffer.indexOf('\n')) >= 0) {
      const line = this.#statusBuffer.slice(0, nl);
      this.#statusBuffer = this.#statusBuffer.slice(nl + 1);
      let s: { status?: unknown; code?: unknown; message?: unknown };
      try {
        s = JSON.parse(line) as typeof s;
      } catch {
        continue;
      }
      if (s.status === 'alive') this.#lastHeartbeat = Date.now();
      else if (s.status === 'ready') {
        this.#lastHeartbeat = Date.now();
        this.#onReady?.();
        this.#onReady = undefined;
      } else if (s.status === 'failed' || s.status === 'crashed') {
        this.exitReason = `${s.status}: ${String(s.code)}: ${String(s.message).slice(0, 500)}`;
        this.#onReady?.(new EnclaveBootError(`enclave ${this.exitReason}`));
        this.#onReady = undefined;
      }
    }
  }

  #startWatchdogs(): void {
    const limitKiB = this.#limits.memoryMiB * 1024;
    const tick = setInterval(() => {
      const pid = this.child.pid;
      if (pid === undefined || this.state !== 'RUNNING') return;
      const rss = treeRssKiB(pid);
      if (rss !== undefined && rss > limitKiB) {
        this.kill(`out of memory: RSS ${Math.round(rss / 1024)} MiB > ${this.#limits.memoryMiB} MiB`);
        return;
      }
      const silent = Date.now() - this.#lastHeartbeat;
      if (silent > this.#limits.hangTimeoutMs) this.kill(`hung: no heartbeat for ${Math.round(silent / 1000)} s`);
    }, this.#limits.watchdogIntervalMs);
    tick.unref();
    this.#timers.push(tick);
  }

  #onConsole(chunk: Buffer): void {
    this.#console.push(chunk);
    this.#consoleBytes += chunk.length;
    while (this.#consoleBytes > CONSOLE_LIMIT && this.#console.length > 1) this.#consoleBytes -= this.#console.shift()!.length;
    for (const s of this.#consoleSubscribers) s(chunk);
  }

  /** Console history plus a live feed; `null` marks the end (the enclave stopped). */
  subscribeConsole(onChunk: (chunk: Buffer | null) => void): () => void {
    for (const c of this.#console) onChunk(c);
    if (this.state === 'TERMINATED') {
      onChunk(null);
      return () => undefined;
    }
    this.#consoleSubscribers.add(onChunk);
    return () => this.#consoleSubscribers.delete(onChunk);
  }

  #fail(reason: string): void {
    this.exitReason ??= reason;
    this.#onReady?.(new EnclaveBootError(`enclave ${reason}`));
    this.#onReady = undefined;
    this.kill(reason);
  }

  /** Kills the process (SIGKILL: an enclave is destroyed, not asked) and records why. */
  kill(reason: string): void {
    this.exitReason ??= reason;
    if (this.state !== 'TERMINATED') this.state = 'TERMINATING';
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  #finish(reason: string): void {
    if (this.state === 'TERMINATED') return;
    this.exitReason ??= reason;
    this.state = 'TERMINATED';
    for (const t of this.#timers) clearInterval(t);
    this.channel.destroy();
    this.#onReady?.(new EnclaveBootError(`enclave ${this.exitReason}`));
    this.#onReady = undefined;
    for (const s of this.#consoleSubscribers) s(null);
    this.#consoleSubscribers.clear();
    this.#resolveExited();
  }
}
