// Kernel-enforced resources: one control group per enclave, nested under the host process's own
// (so whatever limits the host runs under still bound its enclaves), with
//   - memory: the --memory size as a hard limit and no swap beyond it (v1 memory.limit_in_bytes and
//     memory.memsw.limit_in_bytes, v2 memory.max and memory.swap.max): at the limit the kernel
//     reclaims, then kills the enclave (its OOM killer, inside the group only);
//   - pids: a cap on tasks (threads included), so no thread or process flood;
//   - cpu: a CFS quota of one CPU per CPU given (v1 cpu.cfs_quota_us, v2 cpu.max), so an enclave
//     cannot take more CPU time than --cpu-count whatever it does;
//   - cpuset: the CPUs it is placed on, which the enclave cannot widen (sched_setaffinity(2)
//     inside a cpuset is cut to it).
// cgroup v2 where the host's group can delegate these controllers to children, else v1 (one
// hierarchy per controller), as the machine has them. The launcher joins the group before it
// clones the enclave (launcher.c, --cgroup), so the enclave is never outside it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Controller = 'memory' | 'pids' | 'cpu' | 'cpuset';
const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpu', 'cpuset'];
/** Without these two there is no kernel limit worth the name; cpu and cpuset are extras. */
const ESSENTIAL: readonly Controller[] = ['memory', 'pids'];

export interface CgroupSupport {
  readonly version: 1 | 2;
  /** The host process's group directory per controller (v2: the same directory for all). */
  readonly parent: Readonly<Partial<Record<Controller, string>>>;
  readonly controllers: readonly Controller[];
}

export type CgroupProbe = { readonly support: CgroupSupport } | { readonly support: null; readonly reason: string };

export interface CgroupSources {
  /** Text of /proc/self/cgroup. */
  readonly procSelfCgroup?: string;
  /** Text of /proc/self/mountinfo. */
  readonly mountinfo?: string;
}

/** Tasks an enclave may have: Node's main thread, V8's and libuv's workers, room for more. */
export const PIDS_MAX = 128;
const CFS_PERIOD_US = 100_000;

interface Mount {
  readonly root: string;
  readonly point: string;
  readonly type: 'cgroup' | 'cgroup2';
  readonly options: readonly string[];
}

function mounts(mountinfo: string): Mount[] {
  // "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory" (proc(5))
  const out: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [type, , superOptions] = right.split(' ');
    if ((type === 'cgroup' || type === 'cgroup2') && f[3] && f[4]) {
      out.push({ root: unescape(f[3]), point: unescape(f[4]), type, options: (superOptions ?? '').split(',') });
    }
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The directory of `path` (a group path from /proc/self/cgroup) under a mount of its hierarchy. */
function dirOf(m: Mount, path: string): string | undefined {
  if (m.root === '/') return join(m.point, path);
  if (path === m.root || path.startsWith(`${m.root}/`)) return join(m.point, path.slice(m.root.length));
  return undefined;
}

/** A directory where we may make child groups (a failed mkdir says no). */
function writable(dir: string): boolean {
  const probe = join(dir, `.nitro-sandbox-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** What this machine lets the host do with control groups (read once per process by isolation.ts). */
export function probeCgroups(sources: CgroupSources = {}): CgroupProbe {
  let self: string;
  let info: string;
  try {
    self = sources.procSelfCgroup ?? readFileSync('/proc/self/cgroup', 'utf8');
    info = sources.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  } catch (e) {
    return { support: null, reason: `cannot read /proc/self/cgroup: ${(e as Error).message}` };
  }
  const ms = mounts(info);
  // v2: "0::/path", where the controllers are delegated to our children.
  const v2path = /^0::(\/.*)$/m.exec(self)?.[1];
  const unified = ms.find((m) => m.type === 'cgroup2');
  if (v2path !== undefined && unified) {
    const dir = dirOf(unified, v2path);
    if (dir && writable(dir)) {
      // Our children get the controllers our group's subtree_control enables. Enabling them is
      // refused (EBUSY) while the group has processes of its own, unless it is a root: then
      // only a manager that delegated a subtree to us could have done it.
      const enabled = (): Controller[] => {
        try {
          const on = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/);
          return CONTROLLERS.filter((c) => on.includes(c));
        } catch {
          return [];
        }
      };
      for (const c of CONTROLLERS.filter((x) => !enabled().includes(x))) {
        try {
          writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
        } catch {
          // not ours to enable
        }
      }
      const controllers = enabled();
      if (ESSENTIAL.every((c) => controllers.includes(c))) {
        return { support: { version: 2, parent: Object.fromEntries(controllers.map((c) => [c, dir])), controllers } };
      }
    }
  }
  // v1: "4:memory:/path" (several controllers may share a line: "1:cpu,cpuacct:/").
  const parent: Partial<Record<Controller, string>> = {};
  for (const line of self.split('\n')) {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1]!.split(',')) {
      if (!(CONTROLLERS as readonly string[]).includes(c)) continue;
      const mount = ms.find((x) => x.type === 'cgroup' && x.options.includes(c));
      const dir = mount && dirOf(mount, m[2]!);
      if (dir && existsSync(dir) && writable(dir)) parent[c as Controller] = dir;
    }
  }
  const controllers = CONTROLLERS.filter((c) => parent[c] !== undefined);
  if (ESSENTIAL.every((c) => controllers.includes(c))) return { support: { version: 1, parent, controllers } };
  const missing = ESSENTIAL.filter((c) => !controllers.includes(c));
  return { support: null, reason: `no writable cgroup for ${missing.join(' and ')} (cgroup v2 delegation or v1 hierarchies)` };
}

export interface CgroupLimits {
  readonly memoryMiB: number;
  /** The CPUs it may use: as many CPUs of quota, and its cpuset when `pin`. */
  readonly cpus: readonly number[];
  readonly pin: boolean;
}

const hostGroups = new Set<string>();
let counter = 0;

/** The group of this host process under `parent`, `nitro-sandbox-<pid>`, made on first use. */
function hostGroup(support: CgroupSupport, controller: Controller): string {
  const parent = support.parent[controller]!;
  const dir = join(parent, `nitro-sandbox-${process.pid}`);
  if (!hostGroups.has(dir)) {
    removeStale(parent);
    mkdirSync(dir, { recursive: true });
    if (support.version === 1 && controller === 'cpuset') {
      // A v1 cpuset group starts with no CPUs and no memory nodes; its tasks need both.
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(dir, f), readFileSync(join(parent, f), 'utf8').trim() || '0');
    }
    if (support.version === 2) writeFileSync(join(dir, 'cgroup.subtree_control'), support.controllers.map((c) => `+${c}`).join(' '));
    if (hostGroups.size === 0) process.once('exit', removeHostGroups);
    hostGroups.add(dir);
  }
  return dir;
}

/** Our host groups, at exit, with the enclave groups the kernel has let go of (the rest: removeStale). */
function removeHostGroups(): void {
  for (const dir of hostGroups) {
    try {
      for (const child of readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) rmdirSync(join(dir, child.name));
      rmdirSync(dir);
    } catch {
      // an enclave group still held: the next host process removes it
    }
  }
}

/** Groups left by host processes that died without removing them (empty by then: rmdir works). */
function removeStale(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => /^nitro-sandbox-\d+$/.test(n));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice('nitro-sandbox-'.length));
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    const dir = join(parent, name);
    try {
      for (const child of readdirSync(dir, { withFileTypes: true })) if (child.isDirectory()) rmdirSync(join(dir, child.name));
      rmdirSync(dir);
    } catch {
      // still in use, or someone else's: left alone
    }
  }
}

/** One enclave's control group (one directory per controller on v1). */
export class EnclaveCgroup {
  readonly support: CgroupSupport;
  /** Directories the launcher joins (--cgroup). */
  readonly dirs: readonly string[];
  readonly #byController: Readonly<Partial<Record<Controller, string>>>;
  #cpus: readonly number[] = [];
  #removed = false;
  readonly #pin: boolean;

  private constructor(support: CgroupSupport, byController: Partial<Record<Controller, string>>, pin: boolean) {
    this.support = support;
    this.#pin = pin;
    this.#byController = byController;
    this.dirs = [...new Set(Object.values(byController))];
  }

  /** Makes the group with its limits; the caller passes `dirs` to the launcher. */
  static create(support: CgroupSupport, limits: CgroupLimits): EnclaveCgroup {
    const name = `e${++counter}`;
    const by: Partial<Record<Controller, string>> = {};
    for (const c of support.controllers) if (c !== 'cpuset' || limits.pin) by[c] = join(hostGroup(support, c), name);
    const g = new EnclaveCgroup(support, by, limits.pin);
    try {
      for (const d of g.dirs) mkdirSync(d);
      const bytes = String(limits.memoryMiB * 1024 * 1024);
      if (support.version === 1) {
        g.#write('memory', 'memory.limit_in_bytes', bytes);
        // Memory plus swap, where swap accounting is on: equal to the limit, so no swap at all.
        if (existsSync(join(by.memory!, 'memory.memsw.limit_in_bytes'))) g.#write('memory', 'memory.memsw.limit_in_bytes', bytes);
        if (by.cpuset) g.#write('cpuset', 'cpuset.mems', readFileSync(join(hostGroup(support, 'cpuset'), 'cpuset.mems'), 'utf8').trim());
      } else {
        g.#write('memory', 'memory.max', bytes);
        if (existsSync(join(by.memory!, 'memory.swap.max'))) g.#write('memory', 'memory.swap.max', '0');
      }
      g.#write('pids', 'pids.max', String(PIDS_MAX));
      g.place(limits.cpus);
    } catch (e) {
      g.remove();
      throw e;
    }
    return g;
  }

  /** Which controllers this group has: what describe-enclaves reports. */
  get controllers(): readonly Controller[] {
    return this.support.controllers;
  }

  get cpus(): readonly number[] {
    return this.#cpus;
  }

  /** Puts the enclave on these CPUs with a quota of one CPU each (also when a warm process is taken). */
  place(cpus: readonly number[]): void {
    if (this.#pin && this.#byController.cpuset) this.#write('cpuset', 'cpuset.cpus', cpus.join(','));
    if (this.#byController.cpu) {
      const quota = String(cpus.length * CFS_PERIOD_US);
      if (this.support.version === 1) {
        this.#write('cpu', 'cpu.cfs_period_us', String(CFS_PERIOD_US));
        this.#write('cpu', 'cpu.cfs_quota_us', quota);
      } else this.#write('cpu', 'cpu.max', `${quota} ${CFS_PERIOD_US}`);
    }
    this.#cpus = [...cpus];
  }

  /** Whether the kernel's OOM killer ended a task of this group, and the group's memory peak. */
  memoryOutcome(): { oomKilled: boolean; peakBytes: number | undefined } {
    const dir = this.#byController.memory!;
    const read = (f: string): string | undefined => {
      try {
        return readFileSync(join(dir, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    const events = this.support.version === 1 ? read('memory.oom_control') : read('memory.events');
    const kills = Number(/^oom_kill (\d+)$/m.exec(events ?? '')?.[1] ?? 0);
    const peak = Number(this.support.version === 1 ? read('memory.max_usage_in_bytes') : read('memory.peak'));
    return { oomKilled: kills > 0, peakBytes: Number.isFinite(peak) && peak > 0 ? peak : undefined };
  }

  /** Removes the group once its tasks are gone; false while the kernel still holds it (retry later). */
  remove(): boolean {
    if (this.#removed) return true;
    let done = true;
    for (const d of this.dirs) {
      try {
        rmdirSync(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') done = false;
      }
    }
    this.#removed = done;
    return done;
  }

  #write(c: Controller, file: string, value: string): void {
    writeFileSync(join(this.#byController[c]!, file), value);
  }
}
