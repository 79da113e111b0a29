// The pieces under the isolation plan (host/sandbox/): private directories (a path another user
// controls is refused), the launcher's build and its failed steps, control groups on cgroup v1 and
// v2 layouts (v2 from a layout made here: this machine's controllers are all on v1) and the
// kernel's task limit for real, and the descriptors a host process inherited.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeIsolation } from '../../host/index.ts';
import { EnclaveCgroup, PIDS_MAX, probeCgroups } from '../../host/sandbox/cgroups.ts';
import { ensurePrivateDir } from '../../host/sandbox/private-dir.ts';
import { EnclaveProcess } from '../../host/enclave-process.ts';
import { planLaunch } from '../../host/isolation.ts';
import { DEFAULT_ISOLATION, runtimeDescriptor } from '../../enclave/index.ts';
import { repoRoot } from '../enclave/fixtures.ts';
import { codeOf } from '../cli-host/helpers.ts';

const ROOT = process.geteuid?.() === 0;
const M = probeIsolation();
const work = mkdtempSync(join(tmpdir(), 'nsbx-sandbox-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('private directories', () => {
  it('are made 0700 with their missing parents, and an existing one of ours is tightened to 0700', () => {
    const dir = join(work, 'a', 'b', 'c');
    expect(ensurePrivateDir(dir)).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(work, 'a')).mode & 0o777).toBe(0o700);
    const loose = join(work, 'loose');
    mkdirSync(loose, { mode: 0o755 });
    chmodSync(loose, 0o755);
    ensurePrivateDir(loose);
    expect(statSync(loose).mode & 0o777).toBe(0o700);
  });

  it('under a sticky world-writable directory (like /tmp), a directory of ours is accepted', () => {
    expect(() => ensurePrivateDir(join(tmpdir(), `nsbx-private-${process.pid}`))).not.toThrow();
    rmSync(join(tmpdir(), `nsbx-private-${process.pid}`), { recursive: true });
  });

  it('an ancestor others may write (not sticky) is refused with ERR_PRIVATE_PATH, before anything is made in it', () => {
    const open = join(work, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(codeOf(() => ensurePrivateDir(join(open, 'mine')))).toBe('ERR_PRIVATE_PATH');
    expect(existsSync(join(open, 'mine'))).toBe(false);
  });

  it('a path that is a file is refused', () => {
    writeFileSync(join(work, 'file'), '');
    expect(codeOf(() => ensurePrivateDir(join(work, 'file')))).toMatch(/^(ERR_PRIVATE_PATH|EEXIST|ENOTDIR)$/);
  });

  it.skipIf(!ROOT)('a directory another user made first (squatted) is refused, never used', () => {
    const squatted = join(work, 'squatted');
    mkdirSync(squatted, { mode: 0o700 });
    chownSync(squatted, 4242, 4242);
    expect(codeOf(() => ensurePrivateDir(squatted))).toBe('ERR_PRIVATE_PATH');
    // And the isolation probe then has no launcher: every kernel layer is reported missing.
    const m = probeIsolation({ dir: join(squatted, 'isolation') });
    expect(m.launcher).toBeNull();
    expect(m.launcherReason).toMatch(/not private|belongs to uid 4242/);
  });

  it.skipIf(!ROOT)("a symlink on the way that another user owns is refused", () => {
    const target = join(work, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = join(work, 'link');
    symlinkSync(target, link);
    lchownSync(link, 4242, 4242);
    expect(codeOf(() => ensurePrivateDir(join(link, 'x')))).toBe('ERR_PRIVATE_PATH');
  });
});

describe('the launcher', () => {
  it.skipIf(M.launcher === null)('is built once per source and compiler, into the private directory', () => {
    expect(M.dir).not.toBeNull();
    expect(M.launcher!.startsWith(`${M.dir}/launcher-`)).toBe(true);
    expect(statSync(M.dir!).mode & 0o077).toBe(0);
    // A second probe (another directory) builds its own; the same directory reuses it.
    const dir = join(work, 'iso');
    const a = probeIsolation({ dir });
    expect(a.launcher).not.toBe(M.launcher);
    expect(readdirSync(dir).filter((f) => f.startsWith('launcher-'))).toHaveLength(1);
  });

  it.skipIf(M.launcher === null)('a step that fails exits 120 + the step and names it on stderr; usage errors too', () => {
    const r = spawnSync(M.launcher!, ['--cgroup', '/nonexistent', '--', '/bin/true'], { encoding: 'utf8' });
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/^nitro-sandbox-launcher: cgroup: \/nonexistent\/cgroup\.procs: /);
    expect(spawnSync(M.launcher!, ['--rlimit', 'cpu=1', '--', '/bin/true']).status).toBe(120);
    expect(spawnSync(M.launcher!, ['--root', '/', '--', '/bin/true']).status).toBe(120); // --root needs a mount namespace
    expect(spawnSync(M.launcher!, ['--close-fds']).status).toBe(120); // no program
  });

  it.skipIf(M.launcher === null || !M.syscallFilter)('its syscall filter lets Node read, run threads and signal itself, and refuses writes, sockets, processes and signals to others', async () => {
    const dir = join(work, 'filtered');
    mkdirSync(dir);
    const code = `const fs = require('node:fs'); const os = require('node:os'); const out = {};
      const t = (k, f) => { try { const v = f(); out[k] = v === undefined ? 'ok' : v; } catch (e) { out[k] = e.code ?? e.message; } };
      t('readdir', () => fs.readdirSync('/usr').length > 0 ? 'ok' : 'empty');
      t('read', () => fs.readFileSync('/etc/hostname', 'utf8').length > 0 ? 'ok' : 'empty');
      t('write', () => fs.writeFileSync(${JSON.stringify(join(dir, 'w'))}, 'x'));
      t('mkdir', () => fs.mkdirSync(${JSON.stringify(join(dir, 'd'))}));
      t('spawn', () => { const r = require('node:child_process').spawnSync('/bin/true'); if (r.error) throw r.error; });
      t('kill self', () => process.kill(process.pid, 0));
      t('kill parent', () => process.kill(process.ppid, 0));
      t('setPriority', () => os.setPriority(0, 5));
      const net = require('node:net').connect(1, '127.0.0.1');
      net.on('error', (e) => { out.socket = e.code;
        const w = new (require('node:worker_threads').Worker)('require("node:worker_threads").parentPort.postMessage(1)', { eval: true });
        w.on('message', () => { out.worker = 'ok'; process.stdout.write(JSON.stringify(out)); process.exit(0); });
        w.on('error', (e) => { out.worker = e.code; process.stdout.write(JSON.stringify(out)); process.exit(0); });
      });`;
    const child = spawn(M.launcher!, ['--seccomp', '--', process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.once('exit', r));
    expect(JSON.parse(out)).toEqual({
      readdir: 'ok',
      read: 'ok',
      write: 'EPERM',
      mkdir: 'EPERM',
      spawn: 'EPERM',
      'kill self': true,
      'kill parent': 'EPERM',
      setPriority: 'ERR_SYSTEM_ERROR',
      socket: 'EPERM',
      worker: 'ok',
    });
  });

  it.skipIf(M.launcher === null)('the host reports such a failure as the isolation step it was, before the enclave ever ran', async () => {
    const plan = planLaunch({ runtime: runtimeDescriptor(DEFAULT_ISOLATION), memoryMiB: 128, cpuIds: [0], debug: false, allowWeakerIsolation: true, bootstrap: '' }, M);
    const broken = { ...plan, launcher: { path: plan.launcher!.path, flags: [...plan.launcher!.flags, '--cgroup', '/nonexistent'] }, cgroups: null };
    const p = EnclaveProcess.spawn(broken, { memoryMiB: 128, hangTimeoutMs: 10_000, bootTimeoutMs: 20_000, watchdogIntervalMs: 250 });
    await p.exited;
    expect(p.exitReason).toBe("isolation setup failed at the launcher's cgroup step (exit 124)");
  });
});

describe('control groups', () => {
  /** A cgroup v2 layout with these controllers enabled for our children, as a manager would delegate it. */
  function v2Layout(enabled: string): { sources: { procSelfCgroup: string; mountinfo: string }; dir: string } {
    const mount = join(work, `cg2-${enabled.replace(/ /g, '-') || 'none'}`);
    const dir = join(mount, 'delegated');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    writeFileSync(join(dir, 'cgroup.subtree_control'), `${enabled}\n`);
    return {
      sources: { procSelfCgroup: '0::/delegated\n', mountinfo: `40 30 0:37 / ${mount} rw,relatime - cgroup2 cgroup2 rw\n` },
      dir,
    };
  }

  it('v2: a delegated group is used; an enclave group gets memory.max, no swap, pids.max, cpu.max and its cpuset', () => {
    const { sources, dir } = v2Layout('cpuset cpu memory pids');
    const probe = probeCgroups(sources);
    expect(probe.support).toMatchObject({ version: 2, controllers: ['memory', 'pids', 'cpu', 'cpuset'] });
    const host = join(dir, `nitro-sandbox-${process.pid}`);
    mkdirSync(host, { recursive: true });
    // A fake group has no kernel files: make the one checked for, as the kernel would have it.
    const g = EnclaveCgroup.create(probe.support!, { memoryMiB: 128, cpus: [1, 2], pin: true });
    const e = g.dirs[0]!;
    expect(g.dirs).toEqual([e]);
    expect(readFileSync(join(host, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +pids +cpu +cpuset');
    expect(readFileSync(join(e, 'memory.max'), 'utf8')).toBe(String(128 * 2 ** 20));
    expect(readFileSync(join(e, 'pids.max'), 'utf8')).toBe(String(PIDS_MAX));
    expect(readFileSync(join(e, 'cpu.max'), 'utf8')).toBe('200000 100000');
    expect(readFileSync(join(e, 'cpuset.cpus'), 'utf8')).toBe('1,2');
    writeFileSync(join(e, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    writeFileSync(join(e, 'memory.peak'), String(127 * 2 ** 20));
    expect(g.memoryOutcome()).toEqual({ oomKilled: true, peakBytes: 127 * 2 ** 20 });
  });

  it('v2 without the controllers delegated (a group with processes of its own cannot enable them): none, with the reason', () => {
    const probe = probeCgroups(v2Layout('').sources);
    // The fake group takes the write, but its subtree_control still lists nothing (a real one would refuse with EBUSY).
    expect(probe.support === null || probe.support.version === 2).toBe(true);
    const none = probeCgroups({ procSelfCgroup: '0::/\n', mountinfo: '' });
    expect(none).toEqual({ support: null, reason: 'no writable cgroup for memory and pids (cgroup v2 delegation or v1 hierarchies)' });
  });

  it('v1: one hierarchy per controller, each under our own group there', () => {
    const base = join(work, 'cg1');
    for (const c of ['memory', 'pids', 'cpu,cpuacct']) mkdirSync(join(base, c, 'sub'), { recursive: true });
    const sources = {
      procSelfCgroup: '4:memory:/sub\n8:pids:/sub\n1:cpu,cpuacct:/sub\n0::/\n',
      mountinfo: [
        `34 30 0:31 / ${base}/memory rw,relatime - cgroup cgroup rw,memory`,
        `38 30 0:35 / ${base}/pids rw,relatime - cgroup cgroup rw,pids`,
        `31 30 0:28 / ${base}/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct`,
      ].join('\n'),
    };
    const probe = probeCgroups(sources);
    expect(probe.support).toEqual({
      version: 1,
      parent: { memory: join(base, 'memory', 'sub'), pids: join(base, 'pids', 'sub'), cpu: join(base, 'cpu,cpuacct', 'sub') },
      controllers: ['memory', 'pids', 'cpu'],
    });
  });

  it('no cgroup hierarchy at all: none, with the reason (the layer is then reported missing)', () => {
    expect(probeCgroups({ procSelfCgroup: '', mountinfo: '' }).support).toBeNull();
  });

  it.skipIf(!ROOT || M.cgroups === null || M.launcher === null || !M.namespaces)('for real: the kernel refuses the enclave a task past pids.max', async () => {
    const g = EnclaveCgroup.create(M.cgroups!, { memoryMiB: 256, cpus: [0], pin: false });
    try {
      // A Node that starts processes until the kernel says no; in a PID namespace of its own, so
      // they all go with it.
      const code = `const cp = require('node:child_process'); let n = 0;
        const done = (err) => { process.stdout.write(JSON.stringify({ n, err })); process.exit(0); };
        const next = () => { const c = cp.spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
          c.once('error', (e) => done(e.code)); c.once('spawn', () => (++n < ${PIDS_MAX * 3} ? next() : done(null))); };
        next();`;
      const child = spawn(M.launcher!, [...g.dirs.flatMap((d) => ['--cgroup', d]), '--unshare', 'pid', '--', process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((r) => child.once('exit', r));
      const r = JSON.parse(out) as { n: number; err: string | null };
      expect(r.err).toBe('EAGAIN');
      // Node's own threads and the launcher count too.
      expect(r.n).toBeGreaterThan(0);
      expect(r.n).toBeLessThan(PIDS_MAX);
    } finally {
      g.remove();
    }
  });
});

describe('descriptors a host process inherited', () => {
  // Node marks the lowest inherited descriptors close-on-exec itself (checked on Node 26.10), but
  // not higher ones: bash's `exec 100<file` passes on to every child the process spawns.
  it("those without O_CLOEXEC are found and closed (the daemon does so at start); Node's own are kept", async () => {
    const file = join(work, 'inherited.txt');
    writeFileSync(file, 'inherited');
    const code = `import { closeInheritedDescriptors } from ${JSON.stringify(join(repoRoot, 'host/sandbox/descriptors.ts'))};
      const closed = closeInheritedDescriptors();
      let open = true; try { (await import('node:fs')).fstatSync(100); } catch { open = false; }
      const live = (await import('node:fs')).readdirSync('/proc/self/fd').length;
      process.stdout.write(JSON.stringify({ closed, open, live }));`;
    const child = spawn('/bin/bash', ['-c', 'exec 100<"$1"; exec "$2" --input-type=module -e "$3"', 'bash', file, process.execPath, code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.once('exit', r));
    const r = JSON.parse(out) as { closed: number[]; open: boolean; live: number };
    expect(r.closed).toContain(100);
    expect(r.open).toBe(false);
    // Node still runs on its own descriptors (it printed this).
    expect(r.live).toBeGreaterThan(3);
  });

  it('an enclave process is spawned with /dev/null over each of them, even without the launcher (the layer under --close-fds)', async () => {
    const file = join(work, 'inherited-2.txt');
    writeFileSync(file, 'inherited');
    const seen = join(work, 'seen.txt');
    // An embedding application holding fd 100 spawns an "enclave" that is a plain node.
    const enclave = `const fs = require('node:fs'); let k = 'closed'; try { const st = fs.fstatSync(100); k = st.isCharacterDevice() && st.rdev === 259 ? 'devnull' : 'the inherited file'; } catch {} fs.writeFileSync(${JSON.stringify(seen)}, k);`;
    const app = `import { EnclaveProcess } from ${JSON.stringify(join(repoRoot, 'host/enclave-process.ts'))};
      const report = { NetworkNamespace: false, PidNamespace: false, Namespaces: [], UserNamespace: false, EmptyRoot: false, Session: true, NoPrivileges: false, SyscallFilter: false, DescriptorsClosed: false, ResourceLimits: {}, KernelLimits: null, PermissionModel: false, NodeFlags: [], EmptyEnvironment: true, StdinClosed: true, Descriptors: {}, HeapLimitMiB: 0, RssLimitMiB: 64, CpuAffinity: null, Weakened: [] };
      const p = EnclaveProcess.spawn({ launcher: null, node: [process.execPath, '-e', ${JSON.stringify(enclave)}], env: {}, cgroups: null, ids: null, placement: null, memoryMiB: 64, framedBoot: true, report }, { memoryMiB: 64, hangTimeoutMs: 10000, bootTimeoutMs: 10000, watchdogIntervalMs: 250 });
      await p.exited;`;
    const child = spawn('/bin/bash', ['-c', 'exec 100<"$1"; exec "$2" --input-type=module -e "$3"', 'bash', file, process.execPath, app], { stdio: ['ignore', 'inherit', 'inherit'] });
    await new Promise((r) => child.once('exit', r));
    expect(readFileSync(seen, 'utf8')).toBe('devnull');
  });
});
