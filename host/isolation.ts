// The isolation layers an enclave process runs under, what this machine offers of them, and the
// exact command that applies them. Each layer is real and reported (describe-enclaves):
//   - network namespace: `unshare --net` (as root) or `unshare --user --map-root-user --net`
//     (unprivileged user namespaces): the process sees only a down loopback; with it a PID
//     namespace, and a mount namespace whose root holds only Node and its libraries;
//   - Node's permission model: the image's measured flags (`--permission`, no grants);
//   - empty environment, standard input on /dev/null, no descriptors but the channel (fd 3), and
//     stdout/stderr opened only in debug mode;
//   - heap limit from --memory (measured policy) plus an RSS watchdog in the host;
//   - CPU affinity with `taskset` when the machine has the CPUs asked for.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { launchArgs, type RuntimeDescriptor } from '../enclave/index.ts';
import { IsolationUnavailableError, InvalidEnclaveArgumentError } from './errors.ts';

export interface MachineIsolation {
  /** How to enter a new network namespace here, or null when the kernel or permissions refuse. */
  readonly netns: readonly string[] | null;
  readonly netnsReason: string;
  /** `taskset` path, or null. */
  readonly taskset: string | null;
  /**
   * A directory holding only the Node binary (as /node) and the shared libraries it loads, used as
   * the enclave's root (mount namespace + chroot), or null when it cannot be made or used here.
   */
  readonly emptyRoot: string | null;
  readonly emptyRootReason: string;
  readonly cpus: number;
}

let probed: MachineIsolation | undefined;

function which(name: string): string | null {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/** Probes once per process what this machine allows (a real `unshare … true` run). */
export function probeIsolation(): MachineIsolation {
  if (probed) return probed;
  const unshare = which('unshare');
  let netns: string[] | null = null;
  let reason = 'unshare(1) not found';
  if (unshare) {
    // A PID namespace comes with the network one: without it an enclave (Node's permission model
    // does not cover process.kill or os.setPriority) can signal its host, pid 1 and every process
    // of its user. `--fork` makes the enclave pid 1 of the new namespace; `--kill-child` has the
    // kernel SIGKILL it when unshare dies (PR_SET_PDEATHSIG), so killing ProcessID kills the enclave.
    const pid = ['--pid', '--fork', '--kill-child'];
    for (const candidate of [
      [unshare, '--net', ...pid],
      [unshare, '--user', '--map-root-user', '--net', ...pid],
      [unshare, '--net'],
      [unshare, '--user', '--map-root-user', '--net'],
    ]) {
      const r = spawnSync(candidate[0]!, [...candidate.slice(1), '--', 'true'], { env: {}, stdio: 'ignore', timeout: 5000 });
      if (r.status === 0) {
        netns = candidate;
        reason = `${candidate.includes('--user') ? 'user + ' : ''}network${candidate.includes('--pid') ? ' + PID' : ''} namespace`;
        break;
      }
      reason = 'the kernel refused new network namespaces (unshare failed)';
    }
  }
  const root = netns ? emptyRoot(netns) : { dir: null, reason: 'needs the namespaces above' };
  probed = Object.freeze({ netns, netnsReason: reason, taskset: which('taskset'), cpus: availableParallelism(), emptyRoot: root.dir, emptyRootReason: root.reason });
  return probed;
}

/**
 * Native code inside Node reads files without asking the permission model (OpenSSL the system CA
 * store, getpwuid(3) /etc/passwd, node:sqlite its databases; test/host/escape.test.ts), so the
 * enclave also gets a root directory where there is nothing to read: the Node binary (a hard link,
 * or a copy across file systems), the libraries `ldd` lists and a one-line /etc/passwd of its own;
 * not even /proc. It is built once per Node binary in a directory only this user can write, and
 * tried once.
 */
function emptyRoot(netns: readonly string[]): { dir: string | null; reason: string } {
  const ldd = which('ldd');
  if (!ldd) return { dir: null, reason: 'ldd(1) not found' };
  try {
    const uid = process.getuid?.() ?? -1;
    const base = join(tmpdir(), `nitro-sandbox-roots-${uid}`);
    mkdirSync(base, { recursive: true, mode: 0o700 });
    const b = lstatSync(base);
    // Whoever can write here could plant libraries that enclaves would load.
    if (!b.isDirectory() || b.uid !== uid || (b.mode & 0o077) !== 0) return { dir: null, reason: `${base} is not a private directory of this user` };
    const node = statSync(process.execPath);
    const dir = join(base, `r2-node-${process.version}-${node.dev}-${node.ino}-${node.size}-${Math.trunc(node.mtimeMs)}`);
    if (!existsSync(join(dir, 'node'))) {
      const r = spawnSync(ldd, [process.execPath], { encoding: 'utf8', env: {}, timeout: 5000 });
      if (r.status !== 0) return { dir: null, reason: `ldd failed on ${process.execPath}` };
      // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"
      const libs = [...r.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((m) => m[1]!);
      const tmp = mkdtempSync(join(base, 'building-'));
      try {
        try {
          linkSync(process.execPath, join(tmp, 'node'));
        } catch {
          copyFileSync(process.execPath, join(tmp, 'node'));
        }
        for (const lib of libs) {
          mkdirSync(join(tmp, dirname(lib)), { recursive: true });
          copyFileSync(lib, join(tmp, lib));
        }
        // The enclave's own passwd database, as a VM has: os.homedir() and os.userInfo() work (the
        // AWS SDK asks for a home directory) and say nothing about the host's users.
        mkdirSync(join(tmp, 'etc'));
        writeFileSync(join(tmp, 'etc/passwd'), 'root:x:0:0:enclave:/:/sbin/nologin\n');
        renameSync(tmp, dir);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        if (!existsSync(join(dir, 'node'))) throw e; // else another process built it meanwhile
      }
    }
    const t = spawnSync(netns[0]!, [...netns.slice(1), '--mount', `--root=${dir}`, '--', '/node', '-e', ''], { env: {}, stdio: 'ignore', timeout: 10_000 });
    if (t.status !== 0) return { dir: null, reason: 'Node does not start in the empty root here' };
    return { dir, reason: 'Node, its libraries and a one-line /etc/passwd only' };
  } catch (e) {
    return { dir: null, reason: `could not build the empty root: ${(e as Error).message}` };
  }
}

export interface LaunchRequest {
  readonly runtime: RuntimeDescriptor;
  readonly memoryMiB: number;
  readonly cpuIds: readonly number[];
  readonly debug: boolean;
  /** Accept running without a layer the image prefers or requires (`--allow-weaker-isolation`). */
  readonly allowWeakerIsolation: boolean;
  readonly bootstrap: string;
}

/** What describe-enclaves shows: every layer and whether it is active. */
export interface IsolationReport {
  readonly NetworkNamespace: boolean;
  /** The enclave is pid 1 of its own PID namespace: it cannot see or signal other processes. */
  readonly PidNamespace: boolean;
  /** The enclave's root directory holds only Node and its libraries (mount namespace + chroot). */
  readonly EmptyRoot: boolean;
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
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly report: IsolationReport;
}

/** Node flags the host adds to every enclave, whatever the image says (APIs that escape --permission). */
export const HOST_HARDENING_FLAGS: readonly string[] = Object.freeze(['--no-experimental-sqlite']);

/** Builds the exact command line for an enclave, or refuses when a demanded layer is missing. */
export function planLaunch(req: LaunchRequest, machine: MachineIsolation = probeIsolation()): LaunchPlan {
  const { layers } = req.runtime.isolation;
  const weakened: string[] = [];
  const prefix: string[] = [];
  const namespaces: string[] = [];
  let node = process.execPath;
  if (layers.networkNamespace !== 'off') {
    if (machine.netns) {
      namespaces.push(...machine.netns);
      // The empty root rides on the same unshare (it needs the mount namespace it creates).
      if (machine.emptyRoot) {
        namespaces.push('--mount', `--root=${machine.emptyRoot}`);
        node = '/node';
      }
      namespaces.push('--');
    } else if (req.allowWeakerIsolation) weakened.push(`network namespace: ${machine.netnsReason}`);
    else {
      throw new IsolationUnavailableError(
        `the image demands a network namespace and this machine cannot make one (${machine.netnsReason}); pass --allow-weaker-isolation to run without it`,
      );
    }
  }
  let affinity: number[] | null = null;
  if (layers.cpuAffinity !== 'off') {
    const missing = req.cpuIds.filter((c) => c >= machine.cpus);
    if (missing.length) throw new InvalidEnclaveArgumentError(`CPU ids ${missing.join(', ')} do not exist on this machine (${machine.cpus} CPUs)`);
    if (machine.taskset) {
      // taskset runs first (it is not in the empty root); unshare and Node inherit the affinity.
      prefix.push(machine.taskset, '--cpu-list', req.cpuIds.join(','));
      affinity = [...req.cpuIds];
    } else if (req.allowWeakerIsolation) weakened.push('CPU affinity: taskset(1) not found');
    else throw new IsolationUnavailableError('the image demands CPU affinity and taskset(1) is not installed; pass --allow-weaker-isolation to run without it');
  }
  // node:sqlite opens database files without consulting the permission model (Node 26.10: an app
  // under --permission with no grants creates and writes files anywhere it likes; see
  // test/host/escape.test.ts), so the host always removes it. A flag that only takes an API away
  // cannot weaken what PCR1 attests. DEFAULT_ISOLATION carries it too, so it is measured; the host
  // adds it only to images built with an isolation policy that lacks it.
  const measured = launchArgs(req.runtime, req.memoryMiB);
  const nodeArgs = [...measured, ...HOST_HARDENING_FLAGS.filter((f) => !measured.includes(f))];
  const heap = Number(/--max-old-space-size=(\d+)/.exec(nodeArgs.join(' '))?.[1] ?? 0);
  // The bootstrap reads this marker to know it runs in debug mode (the host also zeroes PCR0–2).
  const tail = ['--input-type=module', '--eval', req.bootstrap, ...(req.debug ? ['--', '--nitro-sandbox-debug'] : [])];
  prefix.push(...namespaces);
  const [command, ...args] = [...prefix, node, ...nodeArgs, ...tail] as [string, ...string[]];
  return {
    command,
    args,
    env: { ...req.runtime.isolation.environment },
    report: {
      NetworkNamespace: prefix.includes('--net'),
      PidNamespace: prefix.includes('--pid'),
      EmptyRoot: node === '/node',
      PermissionModel: req.runtime.isolation.nodeFlags.includes('--permission'),
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
