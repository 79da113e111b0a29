// The isolation layers an enclave process runs under, what this machine offers of them, and the
// exact command that applies them. Every route out of an enclave is meant to meet at least two
// independent layers, one of them the kernel (docs/threat-model.md has the table):
//   - the kernel's, applied by the launcher (sandbox/launcher.c) between spawn() and Node: its own
//     session, only fds 0-3, a user namespace with an unprivileged uid, network/PID/IPC/UTS/mount
//     namespaces, a read-only empty root, no capabilities and no_new_privs, a syscall filter,
//     rlimits, and a control group with memory, task, CPU-time and CPU-placement limits;
//   - Node's: the image's measured flags (`--permission`, no grants), a heap limit from --memory,
//     an empty environment, the working directory /;
//   - the host's: an RSS and a heartbeat watchdog.
// Each layer the image demands (runtime.ts, measured into PCR1) is checked against the machine:
// a missing `required` layer refuses the launch unless --allow-weaker-isolation, a missing
// `preferred` one is listed in Weakened, and describe-enclaves reports what is active.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defaultDataDir } from '../attestation/index.ts';
import { FRAMED_BOOT_MARKER, launchArgs, type IsolationLayers, type LayerDemand, type RuntimeDescriptor } from '../enclave/index.ts';
import { IsolationUnavailableError, InvalidEnclaveArgumentError } from './errors.ts';
import { probeCgroups, PIDS_MAX, type CgroupSources, type CgroupSupport } from './sandbox/cgroups.ts';
import { buildEmptyRoot, ENCLAVE_ID } from './sandbox/empty-root.ts';
import { buildLauncher } from './sandbox/launcher.ts';
import { ensurePrivateDir } from './sandbox/private-dir.ts';

export interface MachineIsolation {
  /** The host runs as root (then enclaves get a uid of their own). */
  readonly root: boolean;
  /** The private directory the launcher and the empty root live in, or null. */
  readonly dir: string | null;
  /** The compiled launcher (sandbox/launcher.c), or null: then no kernel layer can be applied. */
  readonly launcher: string | null;
  readonly launcherReason: string;
  /** New network, PID, IPC, UTS and mount namespaces (with a user namespace where needed). */
  readonly namespaces: boolean;
  readonly namespacesReason: string;
  readonly userNamespace: boolean;
  readonly userNamespaceReason: string;
  /** The directory mounted read-only as the enclave's root, or null. */
  readonly emptyRoot: string | null;
  readonly emptyRootReason: string;
  readonly noPrivileges: boolean;
  readonly noPrivilegesReason: string;
  readonly syscallFilter: boolean;
  readonly syscallFilterReason: string;
  readonly cgroups: CgroupSupport | null;
  readonly cgroupsReason: string;
  readonly cpus: number;
}

export interface ProbeOptions {
  /** The private directory for the launcher and the empty root (default: <data dir>/isolation). */
  readonly dir?: string;
  /** Where /proc/self/cgroup and mountinfo come from (tests give other machines). */
  readonly cgroupSources?: CgroupSources;
}

/** Host uids given to enclaves of a root host, one each: in the block systemd sets aside for containers. */
export const ENCLAVE_UID_BASE = 0x6e000000;
export const ENCLAVE_UID_COUNT = 0x1000000;

/** Resource limits every launched enclave gets (setrlimit: soft = hard). */
export const ENCLAVE_RLIMITS: Readonly<Record<string, number>> = Object.freeze({
  core: 0, // no core files (they would hold the enclave's memory)
  fsize: 0, // no file may grow
  nofile: 256, // Node needs about 20; every vsock stream shares fd 3
  memlock: 0,
  msgqueue: 0,
  nice: 0, // cannot raise its priority
  rtprio: 0, // no real-time scheduling
});

const probed = new Map<string, MachineIsolation>();

function defaultDir(): string {
  return join(defaultDataDir(), 'isolation');
}

/**
 * Runs the launcher with `args`: in --probe mode (every step, then exit instead of exec) or, with
 * `program`, for real; '' when it succeeded, else why not.
 */
function tryLauncher(launcher: string, args: readonly string[], program?: readonly string[]): string {
  const r = spawnSync(launcher, [...(program ? [] : ['--probe']), ...args, '--', ...(program ?? ['/'])], {
    env: {},
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.status === 0) return '';
  return (r.stderr ?? '').trim().replace(/^nitro-sandbox-launcher: /, '') || r.error?.message || `exit ${r.status ?? r.signal}`;
}

/** Probes once per process (and directory) what this machine allows, by really trying it. */
export function probeIsolation(options: ProbeOptions = {}): MachineIsolation {
  const key = options.dir ?? '';
  const cached = probed.get(key);
  if (cached && !options.cgroupSources) return cached;
  const root = process.geteuid?.() === 0;
  const cg = probeCgroups(options.cgroupSources);
  const base = {
    root,
    cpus: availableParallelism(),
    cgroups: cg.support,
    cgroupsReason: cg.support ? `cgroup v${cg.support.version}: ${cg.support.controllers.join(', ')}` : cg.reason,
  };
  const none = (reason: string): MachineIsolation => ({
    ...base,
    dir: null,
    launcher: null,
    launcherReason: reason,
    namespaces: false,
    namespacesReason: reason,
    userNamespace: false,
    userNamespaceReason: reason,
    emptyRoot: null,
    emptyRootReason: reason,
    noPrivileges: false,
    noPrivilegesReason: reason,
    syscallFilter: false,
    syscallFilterReason: reason,
  });
  let result: MachineIsolation;
  let dir: string;
  try {
    dir = ensurePrivateDir(options.dir ?? defaultDir());
  } catch (e) {
    result = none(`no private directory for the launcher: ${(e as Error).message}`);
    probed.set(key, result);
    return result;
  }
  const built = buildLauncher(dir);
  if (built.path === null) {
    result = { ...none(built.reason), dir };
    probed.set(key, result);
    return result;
  }
  const launcher = built.path;
  const ids = root ? `${ENCLAVE_ID}:${ENCLAVE_ID}:${ENCLAVE_UID_BASE}:${ENCLAVE_UID_BASE}` : `${ENCLAVE_ID}:${ENCLAVE_ID}`;
  const userNamespaceWhy = tryLauncher(launcher, ['--unshare', 'user,net,pid,mount,ipc,uts', '--ids', ids]);
  let namespacesWhy = userNamespaceWhy;
  if (userNamespaceWhy && root) namespacesWhy = tryLauncher(launcher, ['--unshare', 'net,pid,mount,ipc,uts']);
  // Dropping the bounding set takes CAP_SETPCAP: a root host has it, another user only inside a
  // user namespace of its own, which is how its enclaves run (planLaunch).
  const privileged = root ? ['--ids', `${ENCLAVE_ID}:${ENCLAVE_ID}`] : ['--unshare', 'user', '--ids', ids];
  const noPrivilegesWhy = root || !userNamespaceWhy ? tryLauncher(launcher, ['--close-fds', '--session', '--no-privileges', ...privileged]) : userNamespaceWhy;
  let syscallFilterWhy = tryLauncher(launcher, ['--seccomp']);
  let emptyRoot: string | null = null;
  let emptyRootWhy = namespacesWhy ? 'needs the namespaces' : '';
  if (!namespacesWhy) {
    const r = buildEmptyRoot(dir);
    if (r.dir === null) emptyRootWhy = r.reason;
    else {
      // The real thing: Node starts in the root under every layer the machine has.
      const layers = [
        '--unshare',
        userNamespaceWhy ? 'net,pid,mount,ipc,uts' : 'user,net,pid,mount,ipc,uts',
        ...(userNamespaceWhy ? (root ? ['--ids', `${ENCLAVE_ID}:${ENCLAVE_ID}`] : []) : ['--ids', ids]),
        '--root',
        r.dir,
        ...(noPrivilegesWhy ? [] : ['--no-privileges']),
      ];
      const node = ['/node', '-e', ''];
      const full = tryLauncher(launcher, [...layers, ...(syscallFilterWhy ? [] : ['--seccomp'])], node);
      if (!full) emptyRoot = r.dir;
      else if (!syscallFilterWhy && !tryLauncher(launcher, layers, node)) {
        emptyRoot = r.dir;
        syscallFilterWhy = `Node does not start under the syscall filter (${full})`;
      } else emptyRootWhy = `Node does not start in the empty root (${full})`;
    }
  }
  result = {
    ...base,
    dir,
    launcher,
    launcherReason: `compiled from host/sandbox/launcher.c`,
    namespaces: !namespacesWhy,
    namespacesReason: namespacesWhy ? `the kernel refused new namespaces (${namespacesWhy})` : userNamespaceWhy ? 'network, PID, IPC, UTS and mount namespaces' : 'user, network, PID, IPC, UTS and mount namespaces',
    userNamespace: !userNamespaceWhy,
    userNamespaceReason: userNamespaceWhy ? `the kernel refused a user namespace (${userNamespaceWhy})` : 'an unprivileged uid mapped to one of the host',
    emptyRoot,
    emptyRootReason: emptyRoot ? 'Node, its libraries and a one-line /etc/passwd, mounted read-only' : emptyRootWhy,
    noPrivileges: !noPrivilegesWhy,
    noPrivilegesReason: noPrivilegesWhy || 'empty capability sets and no_new_privs',
    syscallFilter: !syscallFilterWhy,
    syscallFilterReason: syscallFilterWhy || 'seccomp allowlist',
  };
  if (!options.cgroupSources) probed.set(key, result);
  return result;
}

export interface LaunchRequest {
  readonly runtime: RuntimeDescriptor;
  readonly memoryMiB: number;
  readonly cpuIds: readonly number[];
  readonly debug: boolean;
  /** Accept running without a layer the image requires (`--allow-weaker-isolation`). */
  readonly allowWeakerIsolation: boolean;
  readonly bootstrap: string;
  /**
   * Test-only: launch without Node's permission model, to show the kernel's layers alone hold
   * (the escape suite's "OS layers only"). Set only by host/testing.ts; no image, manifest, CLI
   * flag or daemon request can reach it.
   */
  readonly withoutPermissionModel?: boolean;
}

/** What describe-enclaves shows: every layer and whether it is active. */
export interface IsolationReport {
  readonly NetworkNamespace: boolean;
  /** The enclave is pid 1 of its own PID namespace: it cannot see or signal other processes. */
  readonly PidNamespace: boolean;
  /** Every namespace the enclave has of its own (user, net, pid, mount, ipc, uts). */
  readonly Namespaces: readonly string[];
  /** The enclave's uid is an unprivileged one of a user namespace. */
  readonly UserNamespace: boolean;
  /** The enclave's root directory holds only Node and its libraries, read-only (mount namespace + chroot). */
  readonly EmptyRoot: boolean;
  /** Its own session and process group: no signal it sends to a group reaches the host. */
  readonly Session: boolean;
  /** An unprivileged uid, every capability set empty, no_new_privs. */
  readonly NoPrivileges: boolean;
  /** The seccomp allowlist. */
  readonly SyscallFilter: boolean;
  /** Every descriptor other than 0-3 closed before Node starts. */
  readonly DescriptorsClosed: boolean;
  /** setrlimit values (soft = hard) and oom_score_adj. */
  readonly ResourceLimits: Readonly<Record<string, number>>;
  /** The control group's limits, or null where the machine has no writable cgroup. */
  readonly KernelLimits: { readonly Cgroup: 'v1' | 'v2'; readonly MemoryMiB: number; readonly PidsMax: number; readonly CpuQuota: boolean; readonly Cpuset: boolean } | null;
  readonly PermissionModel: boolean;
  readonly NodeFlags: readonly string[];
  readonly EmptyEnvironment: boolean;
  readonly StdinClosed: boolean;
  /** fd → what it is: 0 is /dev/null, 1–2 the console (debug mode) or /dev/null, 3 the channel. */
  readonly Descriptors: Readonly<Record<string, string>>;
  readonly HeapLimitMiB: number;
  readonly RssLimitMiB: number;
  readonly CpuAffinity: readonly number[] | null;
  readonly Weakened: readonly string[];
}

export interface LaunchPlan {
  /** The launcher and the flags every process of this plan gets; null: Node is spawned directly. */
  readonly launcher: { readonly path: string; readonly flags: readonly string[] } | null;
  /** The enclave's Node and its argv (/node inside the empty root). */
  readonly node: readonly [string, ...string[]];
  readonly env: Readonly<Record<string, string>>;
  /** Kernel limits to apply per process (a control group each), or null. */
  readonly cgroups: CgroupSupport | null;
  /** How the process's ids are set (launcher --ids): a host uid per enclave, or fixed ones. */
  readonly ids: 'per-enclave' | string | null;
  /** CPU placement: by the cpuset cgroup (at spawn or when a warm process is taken), by --cpus, or none. */
  readonly placement: 'cpuset' | 'affinity' | null;
  readonly memoryMiB: number;
  /**
   * Whether the bootstrap reads image frames (enclave/boot-protocol.ts), so an image can be staged;
   * false for a bootstrap of an earlier nitro-sandbox, which gets the raw image.
   */
  readonly framedBoot: boolean;
  readonly report: IsolationReport;
}

/** Node flags the host adds to every enclave, whatever the image says (APIs that escape --permission). */
export const HOST_HARDENING_FLAGS: readonly string[] = Object.freeze(['--no-experimental-sqlite']);

const LABELS: Readonly<Record<keyof IsolationLayers, string>> = {
  networkNamespace: 'network, PID, IPC and UTS namespaces',
  emptyRoot: 'empty root',
  userNamespace: 'user namespace',
  noPrivileges: 'no privileges (capabilities, no_new_privs, unprivileged uid)',
  syscallFilter: 'syscall filter',
  kernelLimits: 'kernel limits (cgroup)',
  cpuAffinity: 'CPU affinity',
};

/** Builds the launch of an enclave, or refuses when a required layer is missing. */
export function planLaunch(req: LaunchRequest, machine: MachineIsolation = probeIsolation()): LaunchPlan {
  const { layers } = req.runtime.isolation;
  const weakened: string[] = [];
  /** Whether to apply a layer: where the machine has it; else refused or listed in Weakened. */
  const use = (layer: keyof IsolationLayers, available: boolean, reason: string): boolean => {
    const demand: LayerDemand = layers[layer];
    if (demand === 'off') return false;
    if (available) return true;
    if (demand === 'required' && !req.allowWeakerIsolation) {
      throw new IsolationUnavailableError(
        `the image requires the ${LABELS[layer]} and this machine cannot provide it (${reason}); pass --allow-weaker-isolation to run without it`,
      );
    }
    weakened.push(`${LABELS[layer]}: ${reason}`);
    return false;
  };
  const L = machine.launcher;
  const missing = (r: string): string => (L ? r : machine.launcherReason);
  const userNs = use('userNamespace', L !== null && machine.userNamespace, missing(machine.userNamespaceReason));
  // Without a user namespace only root can make the others.
  const nsPossible = L !== null && machine.namespaces && (userNs || machine.root);
  const namespaces = use('networkNamespace', nsPossible, missing(machine.namespaces && !userNs ? 'namespaces need a user namespace when the host is not root' : machine.namespacesReason));
  const emptyRoot = use('emptyRoot', nsPossible && machine.emptyRoot !== null, missing(machine.emptyRootReason));
  const noPrivileges = use(
    'noPrivileges',
    L !== null && machine.noPrivileges && (machine.root || userNs),
    missing(machine.noPrivileges ? 'emptying the bounding set needs a user namespace when the host is not root' : machine.noPrivilegesReason),
  );
  const syscallFilter = use('syscallFilter', L !== null && machine.syscallFilter, missing(machine.syscallFilterReason));
  const kernelLimits = use('kernelLimits', L !== null && machine.cgroups !== null, missing(machine.cgroupsReason));
  const cpuset = kernelLimits && machine.cgroups?.controllers.includes('cpuset') === true;
  let affinity: number[] | null = null;
  if (layers.cpuAffinity !== 'off') {
    const absent = req.cpuIds.filter((c) => c >= machine.cpus);
    if (absent.length) throw new InvalidEnclaveArgumentError(`CPU ids ${absent.join(', ')} do not exist on this machine (${machine.cpus} CPUs)`);
    if (use('cpuAffinity', L !== null, machine.launcherReason)) affinity = [...req.cpuIds];
  }
  // Namespaces of its own need a user namespace or a root host; with the latter, without a user
  // namespace, the enclave still changes to an unprivileged uid.
  const unshare = [...(userNs && (namespaces || emptyRoot) ? ['user'] : []), ...(namespaces ? ['net', 'pid', 'ipc', 'uts'] : []), ...(emptyRoot ? ['mount'] : [])];
  const inside = noPrivileges ? ENCLAVE_ID : 0;
  const ids: LaunchPlan['ids'] = unshare.includes('user')
    ? machine.root
      ? 'per-enclave'
      : `${inside}:${inside}`
    : machine.root && noPrivileges
      ? `${ENCLAVE_ID}:${ENCLAVE_ID}`
      : null;
  const flags = L
    ? [
        '--close-fds',
        ...(req.debug ? [] : ['--quiet']),
        '--session',
        ...Object.entries(ENCLAVE_RLIMITS).flatMap(([k, v]) => ['--rlimit', `${k}=${v}`]),
        '--oom-score-adj',
        '1000',
        ...(unshare.length ? ['--unshare', unshare.join(',')] : []),
        ...(namespaces ? ['--hostname', 'enclave'] : []),
        ...(emptyRoot ? ['--root', machine.emptyRoot!] : []),
        ...(noPrivileges ? ['--no-privileges'] : []),
        ...(syscallFilter ? ['--seccomp'] : []),
      ]
    : [];
  // node:sqlite opens database files without consulting the permission model (Node 26.10: an app
  // under --permission with no grants creates and writes files anywhere it likes; see
  // test/host/escape.test.ts), so the host always removes it. A flag that only takes an API away
  // cannot weaken what PCR1 attests. DEFAULT_ISOLATION carries it too, so it is measured; the host
  // adds it only to images built with an isolation policy that lacks it.
  const measured = launchArgs(req.runtime, req.memoryMiB).filter((f) => !(req.withoutPermissionModel && f === '--permission'));
  if (req.withoutPermissionModel) weakened.push('permission model: switched off (the test-only OS-layers configuration)');
  const nodeArgs = [...measured, ...HOST_HARDENING_FLAGS.filter((f) => !measured.includes(f))];
  const heap = Number(/--max-old-space-size=(\d+)/.exec(nodeArgs.join(' '))?.[1] ?? 0);
  // The bootstrap reads this marker to know it runs in debug mode (the host also zeroes PCR0–2).
  const tail = ['--input-type=module', '--eval', req.bootstrap, ...(req.debug ? ['--', '--nitro-sandbox-debug'] : [])];
  const cgroups = kernelLimits ? machine.cgroups : null;
  return {
    launcher: L ? { path: L, flags } : null,
    node: [emptyRoot ? '/node' : process.execPath, ...nodeArgs, ...tail],
    env: { ...req.runtime.isolation.environment },
    cgroups,
    ids,
    placement: affinity === null ? null : cpuset ? 'cpuset' : 'affinity',
    memoryMiB: req.memoryMiB,
    framedBoot: req.bootstrap.includes(FRAMED_BOOT_MARKER),
    report: {
      NetworkNamespace: namespaces,
      PidNamespace: namespaces,
      Namespaces: unshare,
      UserNamespace: unshare.includes('user'),
      EmptyRoot: emptyRoot,
      // Spawned detached (setsid) even without the launcher.
      Session: true,
      NoPrivileges: noPrivileges,
      SyscallFilter: syscallFilter,
      DescriptorsClosed: L !== null,
      ResourceLimits: L ? { ...ENCLAVE_RLIMITS, oom_score_adj: 1000 } : {},
      KernelLimits: cgroups
        ? { Cgroup: cgroups.version === 1 ? 'v1' : 'v2', MemoryMiB: req.memoryMiB, PidsMax: PIDS_MAX, CpuQuota: cgroups.controllers.includes('cpu'), Cpuset: cpuset }
        : null,
      PermissionModel: nodeArgs.includes('--permission'),
      NodeFlags: nodeArgs,
      EmptyEnvironment: Object.keys(req.runtime.isolation.environment).length === 0,
      StdinClosed: true,
      Descriptors: { '0': '/dev/null', '1': req.debug ? 'console' : '/dev/null', '2': req.debug ? 'console' : '/dev/null', '3': 'vsock channel' },
      HeapLimitMiB: heap,
      RssLimitMiB: req.memoryMiB,
      CpuAffinity: affinity,
      Weakened: weakened,
    },
  };
}

/** What one process of a plan gets on its own: its control group's directories, its host uid. */
export interface ProcessSpecifics {
  readonly cgroupDirs: readonly string[];
  /** The host uid for 'per-enclave' ids. */
  readonly hostUid?: number;
  /** CPUs for 'affinity' placement. */
  readonly cpus?: readonly number[];
}

/** The argv (command first) of one process of `plan`. */
export function launchArgv(plan: LaunchPlan, p: ProcessSpecifics): [string, ...string[]] {
  if (!plan.launcher) return [...plan.node];
  const ids = plan.ids === 'per-enclave' ? `${ENCLAVE_ID}:${ENCLAVE_ID}:${p.hostUid}:${p.hostUid}` : plan.ids;
  return [
    plan.launcher.path,
    ...plan.launcher.flags,
    ...p.cgroupDirs.flatMap((d) => ['--cgroup', d]),
    ...(ids ? ['--ids', ids] : []),
    ...(plan.placement === 'affinity' && p.cpus ? ['--cpus', p.cpus.join(',')] : []),
    '--',
    ...plan.node,
  ];
}
