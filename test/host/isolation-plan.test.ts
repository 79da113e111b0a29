// planLaunch against machines that lack a kernel feature (an injected probe result): a layer the
// machine lacks is reported missing, a required one refuses the launch (ERR_ISOLATION_UNAVAILABLE)
// unless --allow-weaker-isolation, a preferred one is listed in Weakened; and real enclaves run
// on such machines (the weaker path) as on the full one. test/host/escape.test.ts and
// resources.test.ts cover the full machine.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, DEFAULT_ISOLATION, loadImage, runtimeDescriptor, type IsolationPolicy, type LoadedImage } from '../../enclave/index.ts';
import { Host, planLaunch, probeIsolation, type MachineIsolation } from '../../host/index.ts';
import { launchArgv, type LaunchRequest } from '../../host/isolation.ts';
import { APP_PORT } from './fixtures/lifecycle-app.ts';
import { repoRoot } from '../enclave/fixtures.ts';
import { codeOf } from '../cli-host/helpers.ts';

const M = probeIsolation();
const ROOT = process.geteuid?.() === 0;
const FULL = M.launcher !== null && M.namespaces && M.emptyRoot !== null && M.noPrivileges && M.syscallFilter && M.cgroups !== null;

/** A machine with every layer (whatever this one has), to take features away from. */
const ALL: MachineIsolation = {
  root: true,
  dir: '/private',
  launcher: '/private/launcher',
  launcherReason: 'compiled',
  namespaces: true,
  namespacesReason: 'ok',
  userNamespace: true,
  userNamespaceReason: 'ok',
  emptyRoot: '/private/root',
  emptyRootReason: 'ok',
  noPrivileges: true,
  noPrivilegesReason: 'ok',
  syscallFilter: true,
  syscallFilterReason: 'ok',
  cgroups: { version: 1, parent: { memory: '/cg/memory', pids: '/cg/pids', cpu: '/cg/cpu', cpuset: '/cg/cpuset' }, controllers: ['memory', 'pids', 'cpu', 'cpuset'] },
  cgroupsReason: 'ok',
  cpus: 4,
};

function request(isolation: IsolationPolicy = DEFAULT_ISOLATION, extra: Partial<LaunchRequest> = {}): LaunchRequest {
  return { runtime: runtimeDescriptor(isolation), memoryMiB: 128, cpuIds: [1], debug: false, allowWeakerIsolation: false, bootstrap: '/* bootstrap */', ...extra };
}

describe('planLaunch on a machine with every layer', () => {
  it('applies every layer the default image demands and reports each', () => {
    const p = planLaunch(request(), ALL);
    expect(p.launcher?.path).toBe('/private/launcher');
    expect(p.launcher?.flags).toEqual([
      '--close-fds',
      '--quiet',
      '--session',
      ...['core=0', 'fsize=0', 'nofile=256', 'memlock=0', 'msgqueue=0', 'nice=0', 'rtprio=0'].flatMap((r) => ['--rlimit', r]),
      '--oom-score-adj',
      '1000',
      '--unshare',
      'user,net,pid,ipc,uts,mount',
      '--hostname',
      'enclave',
      '--root',
      '/private/root',
      '--no-privileges',
      '--seccomp',
    ]);
    expect(p.node[0]).toBe('/node');
    expect(p).toMatchObject({ ids: 'per-enclave', placement: 'cpuset', cgroups: ALL.cgroups });
    expect(p.report).toMatchObject({
      NetworkNamespace: true,
      PidNamespace: true,
      UserNamespace: true,
      EmptyRoot: true,
      Session: true,
      NoPrivileges: true,
      SyscallFilter: true,
      DescriptorsClosed: true,
      KernelLimits: { Cgroup: 'v1', MemoryMiB: 128, PidsMax: 128, CpuQuota: true, Cpuset: true },
      PermissionModel: true,
      CpuAffinity: [1],
      Weakened: [],
    });
  });

  it('one process of the plan: its cgroup directories, a host uid of its own, and Node after --', () => {
    const p = planLaunch(request(), ALL);
    const argv = launchArgv(p, { cgroupDirs: ['/cg/memory/e1', '/cg/pids/e1'], hostUid: 0x6e000042, cpus: [1] });
    expect(argv.slice(0, 1 + p.launcher!.flags.length)).toEqual([p.launcher!.path, ...p.launcher!.flags]);
    const rest = argv.slice(1 + p.launcher!.flags.length);
    expect(rest.slice(0, rest.indexOf('--'))).toEqual(['--cgroup', '/cg/memory/e1', '--cgroup', '/cg/pids/e1', '--ids', `65534:65534:${0x6e000042}:${0x6e000042}`]);
    expect(rest.slice(rest.indexOf('--') + 1)).toEqual(p.node);
  });

  it('in debug mode the console stays open (no --quiet); the permission model can only be taken away by the test-only switch', () => {
    expect(planLaunch(request(DEFAULT_ISOLATION, { debug: true }), ALL).launcher?.flags).not.toContain('--quiet');
    const p = planLaunch(request(DEFAULT_ISOLATION, { withoutPermissionModel: true }), ALL);
    expect(p.node).not.toContain('--permission');
    expect(p.report.PermissionModel).toBe(false);
    expect(p.report.Weakened).toEqual(['permission model: switched off (the test-only OS-layers configuration)']);
  });

  it("layers an image turns off are not applied, and not reported as weakened", () => {
    const off = { ...DEFAULT_ISOLATION, layers: { networkNamespace: 'off', emptyRoot: 'off', userNamespace: 'off', noPrivileges: 'off', syscallFilter: 'off', kernelLimits: 'off', cpuAffinity: 'off' } } as const;
    const p = planLaunch(request(off), ALL);
    expect(p.launcher?.flags).not.toContain('--seccomp');
    expect(p.launcher?.flags).not.toContain('--unshare');
    expect(p).toMatchObject({ cgroups: null, placement: null, ids: null });
    expect(p.report).toMatchObject({ NetworkNamespace: false, EmptyRoot: false, NoPrivileges: false, SyscallFilter: false, KernelLimits: null, CpuAffinity: null, Weakened: [] });
  });
});

describe('planLaunch on a machine that lacks a feature: reported missing; a required layer refuses, a preferred one is listed', () => {
  const lacking: [string, Partial<MachineIsolation>, string][] = [
    ['no C compiler (no launcher)', { launcher: null, launcherReason: 'no C compiler (cc) to build the launcher' }, 'network, PID, IPC and UTS namespaces'],
    ['no namespaces', { namespaces: false, namespacesReason: 'the kernel refused new namespaces', userNamespace: false, userNamespaceReason: 'refused' }, 'network, PID, IPC and UTS namespaces'],
    ['no empty root', { emptyRoot: null, emptyRootReason: 'ldd(1) not found' }, 'empty root'],
    ['no seccomp', { syscallFilter: false, syscallFilterReason: 'seccomp refused' }, 'syscall filter'],
    ['no way to drop privileges', { noPrivileges: false, noPrivilegesReason: 'capset refused' }, 'no privileges'],
    ['no user namespace on a host that is not root', { root: false, userNamespace: false, userNamespaceReason: 'refused' }, 'network, PID, IPC and UTS namespaces'],
  ];
  it.each(lacking)('%s: refused with ERR_ISOLATION_UNAVAILABLE naming the layer', (_what, lack, layer) => {
    const machine = { ...ALL, ...lack };
    expect(codeOf(() => planLaunch(request(), machine))).toBe('ERR_ISOLATION_UNAVAILABLE');
    expect(() => planLaunch(request(), machine)).toThrow(layer);
    // With --allow-weaker-isolation it runs, and says what it runs without.
    const p = planLaunch(request(DEFAULT_ISOLATION, { allowWeakerIsolation: true }), machine);
    expect(p.report.Weakened.some((w) => w.startsWith(layer))).toBe(true);
  });

  it('no launcher: Node is spawned directly (the permission model and the host layers only), every kernel layer listed', () => {
    const p = planLaunch(request(DEFAULT_ISOLATION, { allowWeakerIsolation: true }), { ...ALL, launcher: null, launcherReason: 'no C compiler (cc) to build the launcher' });
    expect(p.launcher).toBeNull();
    expect(p.node[0]).toBe(process.execPath);
    expect(p.report).toMatchObject({ NetworkNamespace: false, EmptyRoot: false, NoPrivileges: false, SyscallFilter: false, DescriptorsClosed: false, KernelLimits: null, PermissionModel: true, Session: true });
    expect(p.report.Weakened).toEqual([
      'user namespace: no C compiler (cc) to build the launcher',
      'network, PID, IPC and UTS namespaces: no C compiler (cc) to build the launcher',
      'empty root: no C compiler (cc) to build the launcher',
      'no privileges (capabilities, no_new_privs, unprivileged uid): no C compiler (cc) to build the launcher',
      'syscall filter: no C compiler (cc) to build the launcher',
      'kernel limits (cgroup): no C compiler (cc) to build the launcher',
      'CPU affinity: no C compiler (cc) to build the launcher',
    ]);
  });

  it('no writable cgroup: runs without kernel limits (preferred), listed; an image that requires them is refused', () => {
    const machine = { ...ALL, cgroups: null, cgroupsReason: 'no writable cgroup for memory and pids' };
    const p = planLaunch(request(), machine);
    expect(p).toMatchObject({ cgroups: null, placement: 'affinity' });
    expect(p.report.KernelLimits).toBeNull();
    expect(p.report.Weakened).toEqual(['kernel limits (cgroup): no writable cgroup for memory and pids']);
    const strict = { ...DEFAULT_ISOLATION, layers: { ...DEFAULT_ISOLATION.layers, kernelLimits: 'required' } } as const;
    expect(codeOf(() => planLaunch(request(strict), machine))).toBe('ERR_ISOLATION_UNAVAILABLE');
  });

  it('no user namespace on a root host: the other namespaces still, and an unprivileged uid (nobody); listed as weakened', () => {
    const p = planLaunch(request(), { ...ALL, userNamespace: false, userNamespaceReason: 'refused' });
    expect(p.launcher?.flags.join(' ')).toContain('--unshare net,pid,ipc,uts,mount');
    expect(p.ids).toBe('65534:65534');
    expect(p.report).toMatchObject({ UserNamespace: false, NetworkNamespace: true, EmptyRoot: true, NoPrivileges: true });
    expect(p.report.Weakened).toEqual(['user namespace: refused']);
  });

  it('a host that is not root maps the enclave to its own uid (the kernel allows no other)', () => {
    const p = planLaunch(request(), { ...ALL, root: false });
    expect(p.ids).toBe('65534:65534');
    expect(launchArgv(p, { cgroupDirs: [] })).toContain('65534:65534');
  });

  it('CPU ids the machine lacks are refused (ERR_INVALID_ARGUMENT)', () => {
    expect(codeOf(() => planLaunch(request(DEFAULT_ISOLATION, { cpuIds: [4] }), ALL))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('a host that is not root', () => {
  // The same project run by an unprivileged user (nobody, through setpriv): its own private
  // directory, a launcher of its own, enclaves in a user namespace mapped to its uid, and no
  // writable cgroup (reported weakened, not refused: kernel limits are preferred).
  it.skipIf(!ROOT || !FULL)('runs an enclave with every layer but kernel limits, which it lists as weakened', async () => {
    const home = mkdtempSync(join(tmpdir(), 'nsbx-nobody-'));
    chownSync(home, 65534, 65534);
    const script = join(home, 'run.ts');
    writeFileSync(
      script,
      `import { buildImage } from ${JSON.stringify(join(repoRoot, 'enclave/index.ts'))};
      import { Host } from ${JSON.stringify(join(repoRoot, 'host/index.ts'))};
      import { readFileSync } from 'node:fs';
      const { image } = await buildImage({ entry: ${JSON.stringify(join(repoRoot, 'test/host/fixtures/lifecycle-app.ts'))}, vsockPorts: [${APP_PORT}] });
      const host = await Host.start({ dataDir: ${JSON.stringify(join(home, 'data'))} });
      const r = await host.runEnclave(image, { memoryMiB: 128 });
      const echo = (await host.request(r.EnclaveCID, ${APP_PORT}, 'echo not root\\n')).toString();
      const node = readFileSync('/proc/' + r.ProcessID + '/task/' + r.ProcessID + '/children', 'utf8').trim().split(' ')[0];
      const status = readFileSync('/proc/' + node + '/status', 'utf8');
      process.stdout.write(JSON.stringify({ echo, isolation: host.describeEnclaves()[0].Isolation, status }));
      await host.stop();`,
      { mode: 0o644 },
    );
    chmodSync(home, 0o755);
    const child = spawn('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NITRO_SANDBOX_HOME: home },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.once('exit', r));
    rmSync(home, { recursive: true, force: true });
    const r = JSON.parse(out) as { echo: string; isolation: Record<string, unknown>; status: string };
    expect(r.echo).toBe('not root');
    expect(r.isolation).toMatchObject({ UserNamespace: true, NetworkNamespace: true, EmptyRoot: true, NoPrivileges: true, SyscallFilter: true, KernelLimits: null });
    expect((r.isolation.Weakened as string[])).toEqual([expect.stringMatching(/^kernel limits \(cgroup\): no writable cgroup/)]);
    // Its uid is the host user's (the kernel allows no other mapping), every capability set empty.
    expect(/^Uid:\s+(\d+)/m.exec(r.status)?.[1]).toBe('65534');
    for (const k of ['CapPrm', 'CapEff', 'CapBnd']) expect(new RegExp(`^${k}:\\s+(\\w+)`, 'm').exec(r.status)?.[1], k).toBe('0000000000000000');
    expect(/^Seccomp:\s+(\d)/m.exec(r.status)?.[1]).toBe('2');
  });
});

describe('real enclaves on machines that lack a feature', () => {
  const work = mkdtempSync(join(tmpdir(), 'nsbx-plan-'));
  let image: LoadedImage;
  let bytes: Uint8Array;
  const hosts: Host[] = [];
  beforeAll(async () => {
    bytes = (await buildImage({ entry: join(repoRoot, 'test/host/fixtures/lifecycle-app.ts'), vsockPorts: [APP_PORT] })).image;
    image = loadImage(bytes);
  });
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    rmSync(work, { recursive: true, force: true });
  });
  async function start(isolation: MachineIsolation): Promise<Host> {
    const h = await Host.start({ dataDir: join(work, 'pki'), isolation });
    hosts.push(h);
    return h;
  }

  it('without a launcher: refused unless --allow-weaker-isolation; then it runs under the permission model, and says so', async () => {
    const h = await start({ ...M, launcher: null, launcherReason: 'no C compiler (cc) to build the launcher' });
    await expect(h.runEnclave(bytes, { memoryMiB: 128 })).rejects.toMatchObject({ code: 'ERR_ISOLATION_UNAVAILABLE' });
    const r = await h.runEnclave(bytes, { memoryMiB: 128, allowWeakerIsolation: true });
    expect((await h.request(r.EnclaveCID, APP_PORT, 'echo weak\n')).toString()).toBe('weak');
    const d = h.describeEnclaves().find((e) => e.EnclaveID === r.EnclaveID)!;
    expect(d.Isolation).toMatchObject({ NoPrivileges: false, SyscallFilter: false, PermissionModel: true, Session: true });
    expect(d.Isolation.Weakened.length).toBeGreaterThanOrEqual(5);
    expect(image.runtime.isolation.layers.syscallFilter).toBe('required');
  });

  it.skipIf(!FULL || !ROOT)('without user namespaces on a root host: the enclave runs as nobody with the other layers', async () => {
    const h = await start({ ...M, userNamespace: false, userNamespaceReason: 'refused here (test)' });
    const r = await h.runEnclave(bytes, { memoryMiB: 128 });
    expect((await h.request(r.EnclaveCID, APP_PORT, 'echo no userns\n')).toString()).toBe('no userns');
    const d = h.describeEnclaves().find((e) => e.EnclaveID === r.EnclaveID)!;
    expect(d.Isolation).toMatchObject({ UserNamespace: false, NetworkNamespace: true, EmptyRoot: true, NoPrivileges: true, SyscallFilter: true });
    expect(d.Isolation.Weakened).toEqual(['user namespace: refused here (test)']);
    const node = readFileSync(`/proc/${r.ProcessID}/task/${r.ProcessID}/children`, 'utf8').trim().split(' ')[0];
    const status = readFileSync(`/proc/${node}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('65534');
    expect(/^CapEff:\s+(\w+)/m.exec(status)?.[1]).toBe('0000000000000000');
    expect(/^CapBnd:\s+(\w+)/m.exec(status)?.[1]).toBe('0000000000000000');
  });
});
