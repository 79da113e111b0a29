// One running enclave: its OS process, its channel, its NSM device, its console and its fate.
// The host spawns the process with the launch plan (isolation layers) in a control group of its
// own, serves the image on the boot port, and then watches it: exit or crash, the kernel's OOM
// kill at its memory limit, an RSS above its memory, or a missed heartbeat (a hung event loop)
// each end the enclave with a recorded reason. Outside debug mode the reason says what happened
// and the error code only: an app's messages and stack traces never leave the enclave.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { NsmDevice } from '../attestation/index.ts';
import { BOOT_PORT, imageFrameHeader } from '../enclave/index.ts';
import type { Channel, VsockConnection } from '../enclave/index.ts';
import { openHostChannel } from './vsock/index.ts';
import { channelBudget, DEFAULT_BUDGET, type EnclaveBudget } from './budget.ts';
import { EnclaveBootError } from './errors.ts';
import { ENCLAVE_UID_BASE, ENCLAVE_UID_COUNT, launchArgv, type LaunchPlan } from './isolation.ts';
import { NsmGate } from './nsm-gate.ts';
import { EnclaveCgroup } from './sandbox/cgroups.ts';
import { inheritedDescriptors } from './sandbox/descriptors.ts';

export type EnclaveState = 'BOOTING' | 'RUNNING' | 'TERMINATING' | 'TERMINATED';

export interface ProcessLimits {
  readonly memoryMiB: number;
  /** A running enclave that sends no heartbeat for this long is declared hung and killed. */
  readonly hangTimeoutMs: number;
  /** From the image sent to the bootstrap's "ready". */
  readonly bootTimeoutMs: number;
  /** From the spawn to the bootstrap's connection to the boot port; bootTimeoutMs when absent. */
  readonly connectTimeoutMs?: number;
  /** How often the RSS watchdog samples /proc/<pid>/status. */
  readonly watchdogIntervalMs: number;
}

/** What the launcher's exit status 120 + n means (sandbox/launcher.c, enum step). */
const LAUNCHER_STEPS = [
  'usage', 'close-fds', 'parent-death', 'session', 'cgroup', 'cpus', 'rlimit', 'root-open', 'clone', 'id-map',
  'mount', 'hostname', 'ids', 'capabilities', 'no-new-privs', 'seccomp', 'exec', 'oom-score',
] as const;

/**
 * stdio entries from fd 4 up that put /dev/null over every descriptor this process inherited
 * without O_CLOEXEC (sandbox/descriptors.ts): the child starts with none of them even before the
 * launcher closes everything but 0-3 (a second layer, and the only one where there is no launcher).
 */
function coverInherited(): ('ignore' | number)[] {
  const fds = inheritedDescriptors().filter((fd) => fd > 3);
  if (fds.length === 0) return [];
  devNull ??= openSync('/dev/null', 'r');
  const out: ('ignore' | number)[] = new Array<'ignore' | number>(Math.max(...fds) - 3).fill('ignore');
  for (const fd of fds) out[fd - 4] = devNull;
  return out;
}
let devNull: number | undefined;

/** An error code as the bootstrap reports it; anything else (an app's free text) is not repeated. */
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

const CGROUP_REMOVAL_DELAYS_MS = [5, 20, 100, 500, 2000, 10_000];

export interface SpawnOptions {
  readonly budget?: EnclaveBudget;
  /** CPUs to place the process on (the plan says how: cpuset cgroup or affinity). */
  readonly cpus?: readonly number[];
  /** Clock of the NSM gate's token bucket. */
  readonly clock?: () => number;
}

/** Reads the sum of `fields` (KiB) of a process's /proc status; undefined when gone. */
function statusKiB(pid: number, fields: readonly string[]): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    let sum = 0;
    for (const f of fields) sum += Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return sum;
  } catch {
    return undefined;
  }
}

/** The process and its descendants: the spawned process is the launcher, the enclave's Node its child. */
function treeKiB(pid: number, fields: readonly string[], depth = 0): number | undefined {
  const own = statusKiB(pid, fields);
  if (own === undefined || depth > 4) return own;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    // gone, or a kernel without CONFIG_PROC_CHILDREN: count the process alone
  }
  return children.reduce((sum, c) => sum + (treeKiB(c, fields, depth + 1) ?? 0), own);
}

/** VmRSS of the enclave's process tree: what `ps` shows, Node's code pages included. */
export function treeRssKiB(pid: number): number | undefined {
  return treeKiB(pid, ['VmRSS']);
}

/**
 * The enclave's own memory (anonymous and shared-memory pages) of its process tree: what its
 * memory cgroup is charged and --memory bounds. VmRSS also counts the file pages of Node's binary
 * and libraries (about 40-50 MiB), which are the host's page cache, shared by every Node on the
 * machine, and not the enclave's to grow.
 */
export function treePrivateKiB(pid: number): number | undefined {
  return treeKiB(pid, ['RssAnon', 'RssShmem']);
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
  /** The image sent ahead of the run (stage), which the bootstrap has checked or is checking. */
  #staged: Buffer | undefined;
  #bootWaiters: ((c: VsockConnection) => void)[] = [];
  #statusBuffer = '';
  #lastHeartbeat = Date.now();
  #timers: NodeJS.Timeout[] = [];
  #console: Buffer[] = [];
  #consoleBytes = 0;
  readonly #consoleLimit: number;
  readonly #debug: boolean;
  readonly #gate: NsmGate;
  readonly cgroup: EnclaveCgroup | null;
  /** Whether the bootstrap ever connected: a launcher failure can only come before. */
  #connected = false;
  readonly #consoleSubscribers = new Set<(chunk: Buffer | null) => void>();
  readonly exited: Promise<void>;
  #resolveExited!: () => void;
  #onReady: ((err?: Error) => void) | undefined;

  private constructor(child: ChildProcess, channel: Channel, plan: LaunchPlan, limits: ProcessLimits, cgroup: EnclaveCgroup | null, debug: boolean, options: SpawnOptions) {
    this.child = child;
    this.channel = channel;
    this.plan = plan;
    this.cgroup = cgroup;
    this.#limits = limits;
    const budget = options.budget ?? DEFAULT_BUDGET;
    this.#consoleLimit = budget.consoleBytes;
    this.#debug = debug;
    this.#gate = new NsmGate(budget, options.clock);
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    child.once('exit', (code, signal) => this.#finish(this.exitReason ?? this.#exitReason(code, signal)));
    channel.listen(BOOT_PORT, (conn) => {
      if (this.#bootConn) {
        conn.destroy();
        return;
      }
      this.#connected = true;
      this.#bootConn = conn;
      conn.setEncoding('utf8');
      conn.on('data', (text: string) => this.#onStatus(text));
      conn.on('error', () => undefined);
      if (this.#staged) EnclaveProcess.#sendFrame(conn, this.#staged);
      for (const w of this.#bootWaiters) w(conn);
      this.#bootWaiters = [];
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => this.#onConsole(chunk));
    }
  }

  static spawn(plan: LaunchPlan, limits: ProcessLimits, options: SpawnOptions = {}): EnclaveProcess {
    const debug = plan.report.Descriptors['1'] === 'console';
    const cpus = options.cpus ?? plan.report.CpuAffinity ?? [];
    // Made before the process, which joins it before the enclave exists (launcher --cgroup).
    const cgroup = plan.cgroups ? EnclaveCgroup.create(plan.cgroups, { memoryMiB: plan.memoryMiB, cpus, pin: plan.placement === 'cpuset' }) : null;
    const [command, ...args] = launchArgv(plan, {
      cgroupDirs: cgroup?.dirs ?? [],
      // A host uid of its own (root hosts): another enclave's processes are another user's.
      hostUid: ENCLAVE_UID_BASE + randomInt(ENCLAVE_UID_COUNT),
      cpus,
    });
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        env: plan.env,
        // Not the host's working directory: process.cwd() needs no permission and would tell the
        // enclave where the host runs (test/host/escape.test.ts).
        cwd: '/',
        stdio: ['ignore', debug ? 'pipe' : 'ignore', debug ? 'pipe' : 'ignore', 'pipe', ...coverInherited()],
        // Its own session and process group (setsid), so nothing it signals as a group, and no
        // terminal signal meant for the host, crosses between the two; the launcher makes the
        // enclave a session of its own again inside.
        detached: true,
      });
    } catch (e) {
      cgroup?.remove();
      throw e;
    }
    const channel = openHostChannel(child.stdio[3] as Duplex, channelBudget(options.budget ?? DEFAULT_BUDGET));
    const p = new EnclaveProcess(child, channel, plan, limits, cgroup, debug, options);
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

  /** Moves the process to other CPUs (a warm process taken for a run placed elsewhere). */
  place(cpus: readonly number[]): void {
    this.cgroup?.place(cpus);
  }

  /** NSM requests this enclave's gate refused (the budget's rate). */
  get nsmRefused(): number {
    return this.#gate.refused;
  }

  static #sendFrame(conn: VsockConnection, image: Uint8Array): void {
    conn.write(imageFrameHeader(image));
    conn.write(Buffer.from(image.buffer, image.byteOffset, image.byteLength));
  }

  /**
   * Sends `image` ahead of the run (a warm-pool process), for the bootstrap to check while it
   * waits: a boot with the very same bytes then only ends the stream. The caller keeps `image`
   * unchanged (the host's pool owns its copy). Once per process, before boot.
   */
  stage(image: Buffer): void {
    if (!this.plan.framedBoot) throw new EnclaveBootError("this image's bootstrap predates staged images (an earlier nitro-sandbox built it)");
    if (this.#staged !== undefined || this.#onReady !== undefined || this.state !== 'BOOTING') throw new EnclaveBootError('an image can be staged once, before the boot');
    this.#staged = image;
    if (this.#bootConn) EnclaveProcess.#sendFrame(this.#bootConn, image);
  }

  /**
   * Sends the image and waits for the bootstrap's "ready" (or failure). When `image` is byte for
   * byte the staged one, only the end of the stream goes out: the bootstrap runs what it checked.
   */
  async boot(image: Uint8Array, nsm: NsmDevice | Promise<NsmDevice>): Promise<void> {
    // An ended process never reports again: failing now, not at the boot timeout.
    if (this.state === 'TERMINATED') throw new EnclaveBootError(`enclave process ended before booting: ${this.exitReason}`);
    this.channel.setNsmHandler(this.#gate.wrap(async (req) => (await nsm).process(req)));
    const conn = this.#bootConn ?? (await this.#waitBootConn());
    const ready = new Promise<void>((resolve, reject) => {
      this.#onReady = (err) => (err ? reject(err) : resolve());
    });
    const timer = setTimeout(() => this.#fail(`boot timed out after ${this.#limits.bootTimeoutMs} ms`), this.#limits.bootTimeoutMs);
    if (!this.plan.framedBoot) conn.write(Buffer.from(image.buffer, image.byteOffset, image.byteLength)); // an earlier bootstrap: the raw image
    // The host passes its pool's own buffer when it matched it (Host.#pooled): then no compare.
    else if (this.#staged === undefined || (this.#staged !== image && !this.#staged.equals(image))) EnclaveProcess.#sendFrame(conn, image);
    conn.end();
    this.#staged = undefined; // sent; not kept for the enclave's life
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
      const t = setTimeout(() => this.#fail('bootstrap did not connect'), this.#limits.connectTimeoutMs ?? this.#limits.bootTimeoutMs);
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
        // Status and code only, unless in debug mode: a crash message can hold payload text.
        const code = typeof s.code === 'string' && ERROR_CODE.test(s.code) ? s.code : 'ERR_APP_FAILED';
        this.exitReason = this.#debug && typeof s.message === 'string' ? `${s.status}: ${code}: ${s.message.slice(0, 500)}` : `${s.status}: ${code}`;
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
      const own = treePrivateKiB(pid);
      if (own !== undefined && own > limitKiB) {
        this.kill(`out of memory: private RSS ${Math.round(own / 1024)} MiB > ${this.#limits.memoryMiB} MiB`);
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
    while (this.#consoleBytes > this.#consoleLimit && this.#console.length > 0) this.#consoleBytes -= this.#console.shift()!.length;
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

  /** Why the process ended, from its exit: the launcher's failed step, the kernel's OOM kill, or the plain status. */
  #exitReason(code: number | null, signal: NodeJS.Signals | null): string {
    const memory = this.cgroup?.memoryOutcome();
    if (memory?.oomKilled) {
      const peak = memory.peakBytes === undefined ? '' : `; peak ${(memory.peakBytes / 2 ** 20).toFixed(1)} MiB`;
      return `out of memory: killed by the kernel at its ${this.plan.memoryMiB} MiB limit (memory cgroup${peak})`;
    }
    const step = code !== null && !this.#connected && code >= 120 ? LAUNCHER_STEPS[code - 120] : undefined;
    if (step && this.plan.launcher) return `isolation setup failed at the launcher's ${step} step (exit ${code})`;
    return signal ? `killed by ${signal}` : `exited with code ${code}`;
  }

  /**
   * Removes the control group once the kernel lets go of it: it releases an exited task's group a
   * little after the task is reaped, so the first rmdir may be refused (EBUSY). A host process
   * that exits first leaves it to the next one (sandbox/cgroups.ts removeStale).
   */
  #removeCgroup(attempt: number): void {
    if (!this.cgroup || this.cgroup.remove() || attempt >= CGROUP_REMOVAL_DELAYS_MS.length) return;
    setTimeout(() => this.#removeCgroup(attempt + 1), CGROUP_REMOVAL_DELAYS_MS[attempt]).unref();
  }

  #finish(reason: string): void {
    if (this.state === 'TERMINATED') return;
    this.exitReason ??= reason;
    this.state = 'TERMINATED';
    this.#removeCgroup(0);
    for (const t of this.#timers) clearInterval(t);
    this.channel.destroy();
    this.#onReady?.(new EnclaveBootError(`enclave ${this.exitReason}`));
    this.#onReady = undefined;
    for (const s of this.#consoleSubscribers) s(null);
    this.#consoleSubscribers.clear();
    this.#resolveExited();
  }
}
