// The runtime an image demands: the exact Node version and the isolation the enclave process runs
// under. Both go into the image's RUNTIME section, which PCR1 measures together with the bootstrap
// (reference/nitro.md: PCR1 = kernel + bootstrap; here the "kernel" is Node plus its isolation
// flags). A key policy that pins PCR1 therefore pins the isolation, not only the code.
// The host launches the enclave from this description and nothing else (`launchArgs`), so what is
// measured is what runs.
import { BuildInvalidOptionError, EnclaveInvalidArgumentError, ImageMalformedError } from './errors.ts';
import type { JsonValue } from './canonical-json.ts';

/**
 * How strongly the host must apply an OS-level isolation layer: `required` refuses the launch
 * where the machine cannot apply it (unless the operator passes --allow-weaker-isolation, and the
 * layer is then listed in describe-enclaves' `Weakened`); `preferred` is applied where the machine
 * can and listed in `Weakened` where it cannot; `off` is never applied.
 */
export type LayerDemand = 'required' | 'preferred' | 'off';

export interface IsolationPolicy {
  /**
   * Node options the enclave process starts with, in this exact order. `--permission` with no
   * `--allow-*` grant denies file system, network, child processes, workers, addons, WASI and the
   * inspector (Node permission model); the app and the image arrive over the channel, not from disk.
   */
  readonly nodeFlags: readonly string[];
  /**
   * V8 old-space limit as a percentage of the enclave's `--memory`: the host passes
   * `--max-old-space-size=floor(memoryMiB × percent / 100)`. The rest is left for code, stacks and
   * buffers, as the enclave's RAM on Nitro holds more than the JS heap.
   */
  readonly heapPercentOfMemory: number;
  /** The exact environment variables the process gets; `{}` = an empty environment. */
  readonly environment: Readonly<Record<string, string>>;
  /** The kernel's layers under Node's own (host/isolation.ts applies them; docs/threat-model.md). */
  readonly layers: IsolationLayers;
}

export interface IsolationLayers {
  /** The enclave's own network (only a down loopback), PID, IPC and UTS (host name) namespaces. */
  readonly networkNamespace: LayerDemand;
  /** A read-only root directory holding only Node and its libraries (mount namespace + chroot). */
  readonly emptyRoot: LayerDemand;
  /** A user namespace in which the enclave's unprivileged uid maps to one of the host's. */
  readonly userNamespace: LayerDemand;
  /**
   * An unprivileged uid with every capability set empty and no_new_privs, in its own session with
   * only descriptors 0-3 and resource limits (no core files, no file size, bounded descriptors).
   */
  readonly noPrivileges: LayerDemand;
  /** A deny-by-default allowlist of the system calls Node needs (seccomp). */
  readonly syscallFilter: LayerDemand;
  /** Memory, task count and CPU time limited by the kernel (a control group per enclave). */
  readonly kernelLimits: LayerDemand;
  /** The CPUs given by --cpu-count / --cpu-ids, enforced by the kernel. */
  readonly cpuAffinity: LayerDemand;
}

export interface RuntimeDescriptor {
  /** `process.version` of the Node the image was built for (and that must run it). */
  readonly node: string;
  readonly isolation: IsolationPolicy;
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/**
 * The default isolation: the permission model with no grants, an empty environment, and every
 * kernel layer. Those a stock machine of ours has are required (namespaces, the empty root, no
 * privileges, the syscall filter); a user namespace, cgroup limits and CPU affinity depend on
 * the kernel's settings and the host's user, so they are preferred.
 *
 * `--no-concurrent-recompilation`: V8 optimizes functions on the thread that runs them, not on a
 * background thread. An enclave gets one CPU per vCPU asked for (one by default), where a
 * background compiler only competes with the app's own thread; and it kept 8–9 MiB more of Node's
 * binary resident in an idle enclave (bench/host.bench.ts, idle RSS: 58 MiB with it, 49 without,
 * against 41 for a bare Node). Warm starts are unchanged or a little faster.
 */
export const DEFAULT_ISOLATION: IsolationPolicy = deepFreeze({
  nodeFlags: ['--permission', '--no-experimental-sqlite', '--no-concurrent-recompilation'],
  heapPercentOfMemory: 75,
  environment: {},
  layers: {
    networkNamespace: 'required',
    emptyRoot: 'required',
    userNamespace: 'preferred',
    noPrivileges: 'required',
    syscallFilter: 'required',
    kernelLimits: 'preferred',
    cpuAffinity: 'preferred',
  },
});

/** The runtime descriptor a build on this Node writes, with an optional isolation override. */
export function runtimeDescriptor(isolation: IsolationPolicy = DEFAULT_ISOLATION, node: string = process.version): RuntimeDescriptor {
  const checked = checkIsolation(isolation, (m) => new BuildInvalidOptionError(`isolation: ${m}`));
  if (!/^v\d+\.\d+\.\d+$/.test(node)) throw new BuildInvalidOptionError(`runtime node version must look like v26.1.0, got '${node}'`);
  return deepFreeze({ node, isolation: checked });
}

// Flags the host derives itself (heap from --memory) or that would undo the isolation. `--allow-*`
// grants are refused outright: an enclave has no disk, no network and no children (ARCHITECTURE.md).
// `--no-permission` and `--permission-audit` switch the permission model off (audit only logs)
// even after `--permission`; `--experimental-sqlite` would undo the `--no-experimental-sqlite` the
// default carries (node:sqlite ignores the permission model; the host adds that flag only when the
// measured flags lack it, host/isolation.ts); config files, like env files, bring options the
// image does not measure (checked on Node 26.10). Diagnostic output goes to files whatever
// --permission says (`--prof` writes a V8 log and `--trace-event-file-pattern` a trace into the
// working directory, checked on Node 26.10): profiles, logs, reports, heap snapshots, redirected
// warnings and trace events are refused, as an enclave has no disk.
const FORBIDDEN_FLAG =
  /^--(allow-|no-permission|permission-audit|experimental-sqlite|inspect|debug|max-old-space-size|experimental-permission|env-file|experimental-(default-)?config-file|require|import|loader|experimental-loader|eval|print|prof|cpu-prof|heap-prof|perf-|log|report-|diagnostic-dir|heapsnapshot-|redirect-warnings|trace-event)/;
export const LAYERS = ['networkNamespace', 'emptyRoot', 'userNamespace', 'noPrivileges', 'syscallFilter', 'kernelLimits', 'cpuAffinity'] as const satisfies readonly (keyof IsolationLayers)[];
const DEMANDS: readonly string[] = ['required', 'preferred', 'off'];

/** Validates an isolation policy of unknown origin (a build option or a parsed image) and copies it. */
export function checkIsolation(x: unknown, fail: (message: string) => Error): IsolationPolicy {
  if (!isRecord(x)) throw fail('must be an object');
  exactKeys(x, ['environment', 'heapPercentOfMemory', 'layers', 'nodeFlags'], '', fail);
  const { nodeFlags, heapPercentOfMemory, environment, layers } = x;
  if (!Array.isArray(nodeFlags) || nodeFlags.length > 64) throw fail('nodeFlags must be an array of at most 64 flags');
  const flags: string[] = [];
  for (const f of nodeFlags) {
    if (typeof f !== 'string' || !/^--[a-z0-9][a-z0-9-]*(=[\x21-\x7e]*)?$/.test(f)) throw fail(`nodeFlags: '${String(f)}' is not a --long-flag`);
    if (FORBIDDEN_FLAG.test(f)) throw fail(`nodeFlags: '${f}' would weaken the isolation or is set by the host`);
    flags.push(f);
  }
  if (!flags.includes('--permission')) throw fail('nodeFlags must include --permission (the Node permission model)');
  if (typeof heapPercentOfMemory !== 'number' || !Number.isInteger(heapPercentOfMemory) || heapPercentOfMemory < 10 || heapPercentOfMemory > 95) {
    throw fail('heapPercentOfMemory must be a whole number from 10 to 95');
  }
  if (!isRecord(environment)) throw fail('environment must be an object of strings');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(environment)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string') throw fail(`environment: '${k}' must be a NAME with a string value`);
    if (/^NODE_/.test(k)) throw fail(`environment: '${k}' would change Node's options outside the measured flags`);
    env[k] = v;
  }
  if (!isRecord(layers)) throw fail('layers must be an object');
  exactKeys(layers, LAYERS, 'layers.', fail);
  const l = {} as Record<keyof IsolationLayers, LayerDemand>;
  for (const name of LAYERS) {
    const d = layers[name];
    if (typeof d !== 'string' || !DEMANDS.includes(d)) throw fail(`layers.${name} must be one of ${DEMANDS.join(', ')}`);
    l[name] = d as LayerDemand;
  }
  return { nodeFlags: flags, heapPercentOfMemory, environment: env, layers: l };
}

/** Reads a runtime descriptor parsed from an image's RUNTIME section. */
export function readRuntimeDescriptor(x: JsonValue): RuntimeDescriptor {
  const fail = (m: string): Error => new ImageMalformedError(`runtime section: ${m}`);
  if (!isRecord(x)) throw fail('must be an object');
  exactKeys(x, ['isolation', 'node'], '', fail);
  if (typeof x.node !== 'string' || !/^v\d+\.\d+\.\d+$/.test(x.node)) throw fail('node must be a version like v26.1.0');
  return deepFreeze({ node: x.node, isolation: checkIsolation(x.isolation, fail) });
}

/**
 * The exact `node` argv (before the entry) the host must use to launch an enclave of this runtime
 * with `memoryMiB` of memory: the measured flags, then the heap limit derived from the policy.
 */
export function launchArgs(runtime: RuntimeDescriptor, memoryMiB: number): string[] {
  if (!Number.isInteger(memoryMiB) || memoryMiB < 64) throw new EnclaveInvalidArgumentError('memoryMiB must be a whole number ≥ 64');
  const heap = Math.floor((memoryMiB * runtime.isolation.heapPercentOfMemory) / 100);
  return [...runtime.isolation.nodeFlags, `--max-old-space-size=${heap}`];
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

function exactKeys(x: Record<string, unknown>, keys: readonly string[], prefix: string, fail: (m: string) => Error): void {
  for (const k of Object.keys(x)) if (!keys.includes(k)) throw fail(`unknown field '${prefix}${k}'`);
  for (const k of keys) if (!(k in x)) throw fail(`missing field '${prefix}${k}'`);
}
