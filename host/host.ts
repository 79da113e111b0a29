// The host: launches enclaves from images, gives each an NSM device backed by the attestation
// authority, addresses them by CID, and keeps the nitro-cli view of them (describe, terminate,
// console). In-process for tests and the library API; the daemon wraps one for the CLI.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationAuthority, defaultDataDir, measureText, toHex, type NsmDevice } from '../attestation/index.ts';
import {
  imageMetadata,
  loadImage,
  nitroMeasurements,
  readAll,
  type ConnectionHandler,
  type LoadedImage,
  type MetadataDescription,
  type NitroMeasurements,
  type VsockConnection,
  type VsockListener,
} from '../enclave/index.ts';
import { VsockRegistry } from './vsock/index.ts';
import { enclaveBudget, type EnclaveBudget } from './budget.ts';
import { EnclaveProcess, type EnclaveState, type ProcessLimits } from './enclave-process.ts';
import { ConsoleUnavailableError, EnclaveBootError, EnclaveConflictError, EnclaveNotFoundError, InvalidEnclaveArgumentError } from './errors.ts';
import { planLaunch, probeIsolation, type IsolationReport, type LaunchPlan, type MachineIsolation } from './isolation.ts';

export interface HostOptions {
  /** Where the PKI lives (default $NITRO_SANDBOX_HOME or ~/.nitro-sandbox). */
  readonly dataDir?: string;
  /** The parent instance id, in enclave ids and PCR4 (default: random `i-<16 hex>`). */
  readonly instanceId?: string;
  /** Measured into PCR3 as AWS measures the parent's IAM role (optional). */
  readonly parentRoleArn?: string;
  readonly hangTimeoutMs?: number;
  readonly bootTimeoutMs?: number;
  readonly watchdogIntervalMs?: number;
  readonly clock?: () => number;
  /** What one enclave may make the host buffer and how fast it may use its NSM (budget.ts). */
  readonly budget?: Partial<EnclaveBudget>;
  /** The machine's isolation as probed (default probeIsolation()); tests give other machines. */
  readonly isolation?: MachineIsolation;
}

export interface RunOptions {
  readonly memoryMiB: number;
  readonly cpuCount?: number;
  readonly cpuIds?: readonly number[];
  readonly cid?: number;
  readonly debugMode?: boolean;
  readonly name?: string;
  readonly allowWeakerIsolation?: boolean;
}

/** A parent instance id, as EC2's: `i-` and 8–17 hex digits. */
export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** An enclave id as this host makes them (nitro-cli's shape): `<instance id>-enc<16 hex>`. */
export const ENCLAVE_ID = /^i-[0-9a-f]{8,17}-enc[0-9a-f]{16}$/;

/** `run-enclave` output, as nitro-cli prints it. */
export interface RunResult {
  readonly EnclaveName: string;
  readonly EnclaveID: string;
  readonly ProcessID: number;
  readonly EnclaveCID: number;
  readonly NumberOfCPUs: number;
  readonly CPUIDs: readonly number[];
  readonly MemoryMiB: number;
}

/**
 * `describe-enclaves` entry: nitro-cli's `EnclaveDescribeInfo` (src/common/json_output.rs) field
 * for field, in its order (ImageName, ImageVersion and Metadata with `--metadata` only), then this
 * sandbox's extension: the isolation layers.
 */
export interface EnclaveDescription extends RunResult {
  /** RUNNING, or TERMINATING while it is being destroyed (nitro-cli's states; ended ones are gone). */
  readonly State: EnclaveState;
  readonly Flags: 'NONE' | 'DEBUG_MODE';
  /** The image's PCRs, as nitro-cli prints them (also in debug mode, where documents carry zeros). */
  readonly Measurements: NitroMeasurements;
  readonly ImageName?: string;
  readonly ImageVersion?: string;
  readonly Metadata?: MetadataDescription;
  readonly Isolation: IsolationReport;
}

/** An enclave that ended recently (`describe-enclaves --ended`), with why: not a nitro-cli output. */
export interface EndedEnclaveDescription extends RunResult {
  readonly State: 'TERMINATED';
  readonly Flags: 'NONE' | 'DEBUG_MODE';
  readonly Measurements: NitroMeasurements;
  readonly Isolation: IsolationReport;
  readonly ExitReason: string;
}

interface Enclave {
  readonly id: string;
  readonly name: string;
  readonly cid: number;
  readonly cpuIds: readonly number[];
  readonly memoryMiB: number;
  readonly debug: boolean;
  readonly measurements: NitroMeasurements;
  /** ImageName, ImageVersion and Metadata, for `describe-enclaves --metadata`. */
  readonly image: { readonly ImageName: string; readonly ImageVersion: string; readonly Metadata: MetadataDescription };
  readonly proc: EnclaveProcess;
}

/** What a warm pool is kept for: its size, launch plan, and the image its devices are prepared for. */
interface PoolSpec {
  readonly count: number;
  /** CPUs its processes are spawned on (moved when taken, where the plan places by cpuset). */
  readonly cpus: readonly number[];
  readonly plan: LaunchPlan;
  readonly memoryMiB: number;
  /** The image, as the pool's own copy of the bytes (staged in every process it spawns) and loaded. */
  readonly bytes: Buffer;
  readonly image: LoadedImage;
  readonly debug: boolean;
}

/** A booting process of a warm pool, with the id and NSM device issued for it ahead of time. */
interface WarmProcess {
  readonly proc: EnclaveProcess;
  /** The CPUs it was spawned on. */
  readonly cpus: readonly number[];
  /** Host.#deviceKey of the image the device was issued for. */
  readonly deviceKey: string;
  readonly id: string;
  readonly device: Promise<NsmDevice>;
}

interface Pool {
  spec: PoolSpec;
  readonly procs: WarmProcess[];
}

const MIN_MEMORY_MIB = 64;
const KEEP_ENDED = 32;

/** Hosts whose enclaves run without Node's permission model: the escape suite's OS-layers-only runs. */
const osLayersOnly = new WeakSet<Host>();

/**
 * Test-only: this host's enclaves run without Node's permission model, so the escape suite can
 * show that the kernel's layers hold on their own. Not exported from host/index.ts, not an option
 * of HostOptions or RunOptions, not a daemon request field: no image, manifest or CLI flag can
 * reach it, and describe-enclaves lists the permission model as weakened.
 */
export function osLayersOnlyForTests(host: Host): Host {
  osLayersOnly.add(host);
  return host;
}

export class Host {
  readonly instanceId: string;
  readonly authority: AttestationAuthority;
  readonly vsock = new VsockRegistry();
  readonly #options: HostOptions;
  readonly #limits: Omit<ProcessLimits, 'memoryMiB'>;
  readonly #budget: EnclaveBudget;
  #probed: MachineIsolation | undefined;
  /** CPUs of every enclave running or booting, for spreading new ones (#cpuIds). */
  readonly #placed = new Map<EnclaveProcess, readonly number[]>();
  readonly #enclaves = new Map<string, Enclave>();
  readonly #ended: Enclave[] = [];
  /** Names of running enclaves and of those still booting, so two runs cannot both take one. */
  readonly #names = new Set<string>();
  /** Processes of runs still booting: not yet enclaves, but stop() must end them too. */
  readonly #booting = new Set<EnclaveProcess>();
  /** Warm pools by launch command (Host.#poolKey). */
  readonly #pools = new Map<string, Pool>();
  #closed = false;

  private constructor(authority: AttestationAuthority, options: HostOptions, budget: EnclaveBudget) {
    this.authority = authority;
    this.#options = options;
    this.#budget = budget;
    this.instanceId = options.instanceId ?? `i-${randomBytes(8).toString('hex')}`;
    this.#limits = {
      hangTimeoutMs: options.hangTimeoutMs ?? 10_000,
      bootTimeoutMs: options.bootTimeoutMs ?? 20_000,
      watchdogIntervalMs: options.watchdogIntervalMs ?? 250,
    };
  }

  static async start(options: HostOptions = {}): Promise<Host> {
    // Checked before the authority opens (and perhaps creates) the PKI in dataDir.
    if (options.instanceId !== undefined && !INSTANCE_ID.test(options.instanceId)) {
      throw new InvalidEnclaveArgumentError('instanceId must look like i-0123456789abcdef');
    }
    for (const k of ['hangTimeoutMs', 'bootTimeoutMs', 'watchdogIntervalMs'] as const) {
      const ms = options[k];
      // setTimeout and setInterval take 0, NaN and anything past 2^31−1 ms as 1 ms.
      if (ms !== undefined && !(ms >= 1 && ms <= 2 ** 31 - 1)) throw new InvalidEnclaveArgumentError(`${k} must be a number of ms in 1–2^31-1`);
    }
    const budget = enclaveBudget(options.budget);
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const authority = await AttestationAuthority.open({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.clock ? { clock: options.clock } : {}) });
    return new Host(authority, options, budget);
  }

  /** The machine's isolation, probed on the first launch (a host that runs nothing never pays for it). */
  get #machine(): MachineIsolation {
    this.#probed ??= this.#options.isolation ?? probeIsolation();
    return this.#probed;
  }

  #cpuIds(opts: RunOptions): number[] {
    const machine = this.#machine;
    if (opts.cpuIds && opts.cpuCount !== undefined) throw new InvalidEnclaveArgumentError('give --cpu-count or --cpu-ids, not both');
    if (opts.cpuIds) {
      const ids = [...opts.cpuIds];
      if (ids.length === 0 || ids.some((c) => !Number.isInteger(c) || c < 0) || new Set(ids).size !== ids.length) {
        throw new InvalidEnclaveArgumentError('--cpu-ids must be distinct non-negative integers');
      }
      return ids;
    }
    const n = opts.cpuCount ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new InvalidEnclaveArgumentError('--cpu-count must be a positive integer');
    if (n > machine.cpus) throw new InvalidEnclaveArgumentError(`--cpu-count ${n} exceeds the ${machine.cpus} CPUs of this machine`);
    // Spread over the machine: the n CPUs the fewest enclaves use now (lowest ids on a tie),
    // not CPUs 0..n-1 for everyone.
    const load = new Array<number>(machine.cpus).fill(0);
    for (const cpus of this.#placed.values()) for (const c of cpus) if (c < load.length) load[c]! += 1;
    return load
      .map((l, cpu) => [l, cpu] as const)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .slice(0, n)
      .map(([, cpu]) => cpu)
      .sort((a, b) => a - b);
  }

  #spawn(plan: LaunchPlan, memoryMiB: number, cpus: readonly number[]): EnclaveProcess {
    return EnclaveProcess.spawn(plan, { ...this.#limits, memoryMiB }, { budget: this.#budget, cpus, ...(this.#options.clock ? { clock: this.#options.clock } : {}) });
  }

  /** Counts the enclave's CPUs as used until it ends. */
  #place(proc: EnclaveProcess, cpus: readonly number[]): void {
    this.#placed.set(proc, cpus);
    void proc.exited.then(() => this.#placed.delete(proc));
  }

  #plan(image: LoadedImage, opts: RunOptions, cpuIds: readonly number[]): LaunchPlan {
    return planLaunch(
      {
        runtime: image.runtime,
        memoryMiB: opts.memoryMiB,
        cpuIds,
        debug: opts.debugMode === true,
        allowWeakerIsolation: opts.allowWeakerIsolation === true,
        bootstrap: new TextDecoder().decode(image.bootstrap),
        ...(osLayersOnly.has(this) ? { withoutPermissionModel: true } : {}),
      },
      this.#machine,
    );
  }

  static #poolKey(plan: LaunchPlan): string {
    // NUL cannot occur in an argv string, so joining on it is unambiguous; it is also ~10× cheaper
    // than JSON.stringify over the ~45 KB bootstrap argument, and this is on the warm-start path.
    // The memory size is part of the key too: the heap flag rounds it (several sizes give one
    // command line), and a warm process's memory limits are the size it was spawned for. CPUs are
    // not: a warm process is placed when it is taken (#takeWarm).
    return [plan.launcher?.path ?? '', ...(plan.launcher?.flags ?? []), ...plan.node, JSON.stringify(plan.env), plan.memoryMiB, plan.placement ?? ''].join('\0');
  }

  /** Boots an enclave from image bytes and resolves once its app reports ready. */
  async runEnclave(imageBytes: Uint8Array, opts: RunOptions): Promise<RunResult> {
    if (this.#closed) throw new EnclaveBootError('the host is stopped');
    if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB < MIN_MEMORY_MIB) {
      throw new InvalidEnclaveArgumentError(`--memory must be a whole number of MiB ≥ ${MIN_MEMORY_MIB}`);
    }
    // The bytes measured are the bytes the enclave gets: the host's own copy, so a caller changing
    // its buffer while the process starts cannot run other code under these PCRs. An image a pool
    // holds was copied and loaded (verified, measured) at prewarm: loadImage is a function of the
    // bytes alone, and passing the pool's copy on lets a staged process see the same buffer.
    const pooled = this.#pooled(imageBytes);
    const bytes = pooled?.bytes ?? Buffer.from(imageBytes);
    const image = pooled?.image ?? Host.#loadRunnable(bytes);
    const name = opts.name ?? image.manifest.name;
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new InvalidEnclaveArgumentError('--enclave-name must be 1–64 of [A-Za-z0-9._-]');
    if (this.#names.has(name)) throw new EnclaveConflictError(`an enclave named '${name}' is already running`);
    const cpuIds = this.#cpuIds(opts);
    const plan = this.#plan(image, opts, cpuIds);
    const cid = this.vsock.reserve(opts.cid);
    // The name is taken now, not once booted: a concurrent run with the same name (the daemon
    // serves requests concurrently) must be refused, not boot a second enclave under it.
    this.#names.add(name);
    let id = this.#newEnclaveId();
    const debug = opts.debugMode === true;
    const m = image.measurements;
    // Only hosts with a warm pool pay for the pool key (a join over the ~45 KB bootstrap argument).
    const poolKey = this.#pools.size > 0 ? Host.#poolKey(plan) : undefined;
    let proc: EnclaveProcess | undefined;
    try {
      const warm = poolKey === undefined ? undefined : this.#takeWarm(poolKey, plan, cpuIds);
      proc = warm?.proc ?? this.#spawn(plan, opts.memoryMiB, cpuIds);
      this.#place(proc, cpuIds);
      this.#booting.add(proc);
      this.vsock.attach(cid, proc.channel);
      let device: Promise<NsmDevice>;
      if (warm?.deviceKey === Host.#deviceKey(image, debug)) {
        // A warm process prewarmed for this very image already has its id and device.
        id = warm.id;
        device = warm.device;
      } else {
        // The image goes out first, and the device's leaf certificate (a P-384 key pair, generated
        // synchronously, and a signature: ~5 ms of this thread) is issued while the enclave checks
        // and starts the image. Issuance waits one macrotask so the channel flushes the image first.
        const pcrs = this.#pcrs(image);
        const moduleId = id;
        device = new Promise<void>((resolve) => setImmediate(() => resolve())).then(() =>
          this.authority.createDevice({ moduleId, measurements: pcrs, debug }),
        );
      }
      // NSM requests wait for the device; run-enclave fails if issuance does.
      device.catch(() => undefined); // awaited below
      const booted = proc.boot(bytes, device);
      booted.catch(() => undefined);
      await Promise.all([booted, device]);
    } catch (e) {
      proc?.kill('boot failed');
      this.vsock.release(cid);
      this.#names.delete(name);
      throw e;
    } finally {
      if (proc) this.#booting.delete(proc);
      // Refill the warm pool only now, so spawning its next process is not on this start's path.
      if (poolKey !== undefined) setImmediate(() => this.#refillWarm(poolKey));
    }
    // nitro-cli prints the image's PCRs whatever the mode (its describe thread measures the EIF);
    // only the attestation documents of a debug enclave carry zeros (this.#pcrs / the device).
    const measurements = nitroMeasurements(m);
    const about = { ImageName: image.manifest.name, ImageVersion: image.manifest.version, Metadata: imageMetadata(image.manifest, image.runtime) };
    const enclave: Enclave = { id, name, cid, cpuIds, memoryMiB: opts.memoryMiB, debug, measurements, image: about, proc };
    this.#enclaves.set(id, enclave);
    void proc.exited.then(() => {
      this.#enclaves.delete(id);
      this.#names.delete(name);
      this.#ended.push(enclave);
      if (this.#ended.length > KEEP_ENDED) this.#ended.shift();
    });
    return this.#runResult(enclave);
  }

  /** The pool prewarmed for exactly these bytes, if any: its copy of them and their loaded image. */
  #pooled(bytes: Uint8Array): Pick<PoolSpec, 'bytes' | 'image'> | undefined {
    for (const { spec } of this.#pools.values()) {
      if (spec.bytes.length === bytes.length && spec.bytes.equals(bytes)) return spec;
    }
    return undefined;
  }

  /** Loads (verifies) an image and refuses one built for another Node than this host's. */
  static #loadRunnable(imageBytes: Uint8Array): LoadedImage {
    const image = loadImage(imageBytes);
    if (image.runtime.node !== process.version) {
      throw new EnclaveBootError(`the image was built for Node ${image.runtime.node}; this host runs ${process.version} (rebuild the image)`);
    }
    return image;
  }

  #newEnclaveId(): string {
    return `${this.instanceId}-enc${randomBytes(8).toString('hex')}`;
  }

  /** What the NSM device of an enclave of this image reports: PCR0–2 (and 8) of the image, 3–4 of the parent. */
  #pcrs(image: LoadedImage): Map<number, Uint8Array> {
    const m = image.measurements;
    const pcrs = new Map<number, Uint8Array>([
      [0, m.pcr0],
      [1, m.pcr1],
      [2, m.pcr2],
      [4, measureText(this.instanceId)],
    ]);
    if (this.#options.parentRoleArn) pcrs.set(3, measureText(this.#options.parentRoleArn));
    if (m.pcr8) pcrs.set(8, m.pcr8);
    return pcrs;
  }

  /** Images with equal PCR0 (every measured section, IMAGE_FORMAT.md) and PCR8 get equal devices. */
  static #deviceKey(image: LoadedImage, debug: boolean): string {
    const m = image.measurements;
    return `${debug ? 'debug' : 'production'}:${toHex(m.pcr0)}:${m.pcr8 ? toHex(m.pcr8) : ''}`;
  }

  /**
   * Issues, ahead of time, the enclave id and NSM device a warm process will use if it is taken
   * for `image`: the leaf issuance (~5 ms of synchronous P-384 key generation) is then off the
   * start path. The leaf is renewed after an hour like any other (AttestationAuthority.signerFor).
   */
  #prepare(proc: EnclaveProcess, cpus: readonly number[], image: LoadedImage, debug: boolean): WarmProcess {
    const id = this.#newEnclaveId();
    const device = this.authority.createDevice({ moduleId: id, measurements: this.#pcrs(image), debug });
    device.catch(() => undefined); // a failure surfaces when the process is taken and boots
    return { proc, cpus, deviceKey: Host.#deviceKey(image, debug), id, device };
  }

  #runResult(e: Enclave): RunResult {
    return {
      EnclaveName: e.name,
      EnclaveID: e.id,
      ProcessID: e.proc.pid ?? 0,
      EnclaveCID: e.cid,
      NumberOfCPUs: e.cpuIds.length,
      CPUIDs: e.cpuIds,
      MemoryMiB: e.memoryMiB,
    };
  }

  /**
   * The enclaves that exist, as nitro-cli's describe-enclaves: RUNNING or TERMINATING; an ended
   * enclave is gone from here (`[]` after terminate --all), see describeEndedEnclaves.
   * `metadata` adds ImageName, ImageVersion and Metadata (nitro-cli's `--metadata`).
   */
  describeEnclaves(opts: { metadata?: boolean } = {}): EnclaveDescription[] {
    return [...this.#enclaves.values()]
      .filter((e) => e.proc.state !== 'TERMINATED')
      .map((e) => ({
        ...this.#runResult(e),
        State: e.proc.state,
        Flags: e.debug ? 'DEBUG_MODE' : 'NONE',
        Measurements: e.measurements,
        ...(opts.metadata === true ? e.image : {}),
        // The plan's report, with the CPUs this enclave was placed on (a warm process is placed when taken).
        Isolation: { ...e.proc.plan.report, CpuAffinity: e.proc.plan.report.CpuAffinity === null ? null : e.cpuIds },
      }));
  }

  /** The last enclaves that ended (at most 32, oldest first), with their exit reason. */
  describeEndedEnclaves(): EndedEnclaveDescription[] {
    return this.#ended.map((e) => ({
      ...this.#runResult(e),
      State: 'TERMINATED',
      Flags: e.debug ? 'DEBUG_MODE' : 'NONE',
      Measurements: e.measurements,
      // The plan's report, with the CPUs this enclave was placed on (a warm process is placed when taken).
      Isolation: { ...e.proc.plan.report, CpuAffinity: e.proc.plan.report.CpuAffinity === null ? null : e.cpuIds },
      ExitReason: e.proc.exitReason ?? 'terminated',
    }));
  }

  #find(ref: { id?: string; name?: string }): Enclave {
    // Exactly one, as nitro-cli: with both, an id and a name of two enclaves would pick either.
    if ((ref.id === undefined) === (ref.name === undefined)) throw new InvalidEnclaveArgumentError('give exactly one of an enclave id or name');
    for (const e of this.#enclaves.values()) {
      if ((ref.id !== undefined && e.id === ref.id) || (ref.name !== undefined && e.name === ref.name)) return e;
    }
    throw new EnclaveNotFoundError(`no running enclave with ${ref.id !== undefined ? `id ${ref.id}` : `name ${ref.name}`}`);
  }

  /** Terminates one enclave (by id or name) or all; nitro-cli's JSON for each. */
  async terminate(ref: { id?: string; name?: string } | 'all'): Promise<{ EnclaveName: string; EnclaveID: string; Terminated: boolean }[]> {
    const targets = ref === 'all' ? [...this.#enclaves.values()] : [this.#find(ref)];
    await Promise.all(
      targets.map(async (e) => {
        e.proc.kill('terminated');
        await e.proc.exited;
      }),
    );
    return targets.map((e) => ({ EnclaveName: e.name, EnclaveID: e.id, Terminated: true }));
  }

  /** The enclave's console (history + live); refused unless it runs in debug mode. */
  console(ref: { id?: string; name?: string }, onChunk: (chunk: Buffer | null) => void): () => void {
    const e = this.#find(ref);
    if (!e.debug) throw new ConsoleUnavailableError(`enclave ${e.id} is not running in debug mode; its console is not readable`);
    return e.proc.subscribeConsole(onChunk);
  }

  /** Connects to `port` of the enclave with `cid` (ECONNREFUSED when nobody listens). */
  connect(cid: number, port: number): Promise<VsockConnection> {
    return this.vsock.connect(cid, port);
  }

  /**
   * One request on its own connection, the exchange the example apps' ports speak: sends `data`
   * (nothing when omitted) to `port` of the enclave with `cid`, half-closes, and resolves with
   * everything the enclave sends until it ends the stream.
   */
  async request(cid: number, port: number, data?: Uint8Array | string): Promise<Buffer> {
    const conn = await this.connect(cid, port);
    const answer = readAll(conn);
    if (data === undefined) conn.end();
    else conn.end(data);
    return answer;
  }

  /** Listens on the parent's `port` (CID 3) for connections from every enclave. */
  listenParent(port: number, handler: ConnectionHandler): VsockListener {
    return this.vsock.listen(port, handler);
  }

  /**
   * Keeps `count` processes booted for images with this image's runtime and bootstrap, so a
   * matching runEnclave skips process start-up. Each process is sent this image ahead and checks it
   * while it waits, so a run of these very bytes skips that too; another image with the same
   * runtime and bootstrap replaces it at run. The pool refills itself after each take.
   */
  async prewarm(imageBytes: Uint8Array, opts: RunOptions & { count: number }): Promise<void> {
    // A stopped host would never end these processes (stop() already emptied the pools).
    if (this.#closed) throw new EnclaveBootError('the host is stopped');
    // Infinity would spawn without end; NaN, negative and fractional counts mean nothing.
    if (!Number.isInteger(opts.count) || opts.count < 0) throw new InvalidEnclaveArgumentError('count must be a whole number ≥ 0');
    // Checked here too: processes warmed for an image that cannot run would only fail at boot.
    // The pool's own copy: what its processes are sent and run must not change with the caller's buffer.
    const bytes = Buffer.from(imageBytes);
    const image = Host.#loadRunnable(bytes);
    const plan = this.#plan(image, opts, this.#cpuIds(opts));
    const key = Host.#poolKey(plan);
    const spec = { count: opts.count, plan, memoryMiB: opts.memoryMiB, bytes, image, debug: opts.debugMode === true, cpus: plan.report.CpuAffinity ?? [] };
    const pool = this.#pools.get(key) ?? { spec, procs: [] };
    pool.spec = spec;
    this.#pools.set(key, pool);
    this.#fillPool(pool);
    await Promise.all(pool.procs.map((w) => w.proc.waitBootConnection()));
  }

  #fillPool({ spec, procs }: Pool): void {
    while (procs.length < spec.count) {
      const p = this.#spawn(spec.plan, spec.memoryMiB, spec.cpus);
      // The bootstrap checks the pool's image while it waits; a run of the same bytes only says go.
      if (spec.plan.framedBoot) p.stage(spec.bytes);
      procs.push(this.#prepare(p, spec.cpus, spec.image, spec.debug));
    }
  }

  /**
   * A live warm process for this launch, placed on `cpus`: by its cpuset when the plan places
   * that way; a process pinned by affinity at spawn serves only a run on the same CPUs.
   */
  #takeWarm(poolKey: string, plan: LaunchPlan, cpus: readonly number[]): WarmProcess | undefined {
    const procs = this.#pools.get(poolKey)?.procs;
    if (!procs) return undefined;
    const same = (w: WarmProcess): boolean => w.cpus.length === cpus.length && w.cpus.every((c, i) => c === cpus[i]);
    for (let i = 0; i < procs.length; i++) {
      const w = procs[i]!;
      if (!Host.#usable(w.proc)) {
        procs.splice(i--, 1);
        continue;
      }
      if (plan.placement === 'affinity' && !same(w)) continue;
      procs.splice(i, 1);
      if (plan.placement === 'cpuset' && !same(w)) w.proc.place(cpus);
      return w;
    }
    return undefined;
  }

  static #usable(p: EnclaveProcess): boolean {
    return p.state === 'BOOTING' && p.channel.alive;
  }

  /** Tops the pool for this launch command back up to its prewarmed size (after a take). */
  #refillWarm(poolKey: string): void {
    const pool = this.#pools.get(poolKey);
    if (pool && !this.#closed) this.#fillPool(pool);
  }

  get warmCount(): number {
    let n = 0;
    for (const { procs } of this.#pools.values()) n += procs.filter((w) => Host.#usable(w.proc)).length;
    return n;
  }

  /** Terminates every enclave, every run still booting (it fails) and every warm process. */
  async stop(): Promise<void> {
    this.#closed = true;
    const others = [...this.#booting, ...[...this.#pools.values()].flatMap((pool) => pool.procs.map((w) => w.proc))];
    this.#pools.clear();
    for (const p of others) p.kill('host stopped');
    await Promise.all([this.terminate('all'), ...others.map((p) => p.exited)]);
  }
}

/**
 * The daemon's runtime directory: $NITRO_SANDBOX_RUNTIME_DIR, else $XDG_RUNTIME_DIR/nitro-sandbox
 * (a per-user directory the login manager makes), else `run` in the data directory. Never a
 * guessable name in a shared directory such as /tmp, which another user could make first.
 */
export function defaultRuntimeDir(): string {
  return process.env.NITRO_SANDBOX_RUNTIME_DIR || (process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'nitro-sandbox') : join(defaultDataDir(), 'run'));
}
