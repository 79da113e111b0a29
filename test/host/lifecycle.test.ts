// Enclave lifecycle through the host library API, with nitro-cli's shapes (reference/nitro.md,
// "nitro-cli surface to mirror"): run, describe, console (debug mode only), terminate by id, name
// and all, CID rules, argument checks, and the fates an enclave can meet (crash, out of memory,
// hang, a main that throws, a corrupted image), after each of which the host still runs enclaves.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex, verifyAttestation } from '../../attestation/index.ts';
import { buildImage, launchArgs, loadImage, runtimeDescriptor, SECTION, type BuildResult } from '../../enclave/index.ts';
import { canonicalJson } from '../../enclave/canonical-json.ts';
import { parseLayout, writeImage } from '../../enclave/image/format.ts';
import { Host, MAX_ENCLAVE_CID, probeIsolation, type EnclaveDescription, type RunResult } from '../../host/index.ts';
import { repoRoot } from '../enclave/fixtures.ts';
import { APP_PORT } from './fixtures/lifecycle-app.ts';

const work = mkdtempSync(join(tmpdir(), 'nsbx-lifecycle-'));
const APP = join(repoRoot, 'test/host/fixtures/lifecycle-app.ts');
const MEM = 128;
// Where the machine lacks a layer the default image requires, run with the layers there are (and
// say so in describe) rather than fail every test; the assertions below follow what it offers.
const MACHINE = probeIsolation();
const WEAK: { allowWeakerIsolation?: boolean } =
  MACHINE.namespaces && MACHINE.emptyRoot !== null && MACHINE.noPrivileges && MACHINE.syscallFilter ? {} : { allowWeakerIsolation: true };
let app: BuildResult;
let throwing: BuildResult;
let host: Host;
const hosts: Host[] = [];

async function startHost(opts: Parameters<typeof Host.start>[0] = {}): Promise<Host> {
  const h = await Host.start({ dataDir: join(work, 'pki'), ...opts });
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  app = await buildImage({ entry: APP, name: 'lifecycle', vsockPorts: [APP_PORT] });
  throwing = await buildImage({ entry: APP, name: 'thrower', metadata: { main: 'throw' } });
  host = await startHost();
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  rmSync(work, { recursive: true, force: true });
});

/**
 * `image` as if built on Node `node`: buildImage always records the Node it runs on, so the RUNTIME
 * section is rewritten and the sections re-laid out by the format's own writer (length and CRC
 * recomputed; PCR0 and PCR1 follow from the new bytes). The other sections are kept byte for byte.
 * Unsigned images only: a signature covers PCR0 and would no longer verify.
 */
function withNodeVersion(image: Uint8Array, node: string): Uint8Array {
  const layout = parseLayout(image);
  const runtime = new TextEncoder().encode(canonicalJson(runtimeDescriptor(loadImage(image).runtime.isolation, node)));
  return writeImage([{ type: SECTION.RUNTIME, data: runtime }, layout.bootstrap, layout.application, layout.manifest]);
}

/** Sends one command line and collects the reply until the enclave closes the stream. */
async function command(h: Host, cid: number, line: string): Promise<string> {
  return (await h.request(cid, APP_PORT, `${line}\n`)).toString('utf8');
}

/** The enclave with this id, running (describeEnclaves) or ended (describeEndedEnclaves, with ExitReason). */
function describeOne(h: Host, id: string): Omit<EnclaveDescription, 'State'> & { State: string; ExitReason?: string } {
  const d = [...h.describeEnclaves(), ...h.describeEndedEnclaves()].filter((e) => e.EnclaveID === id);
  expect(d).toHaveLength(1);
  return d[0]!;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** Waits (without asserting on time) until `cond` holds; the test's own timeout bounds it. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 400) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Direct children of this process (the host spawns enclaves, so their pids show up here). */
function childPids(): Set<number> {
  const out = new Set<number>();
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    try {
      for (const p of readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) out.add(Number(p));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

describe('starting a host', () => {
  it('a malformed instanceId is refused with ERR_INVALID_ARGUMENT before any PKI is made; a good one names the enclaves', async () => {
    const pki = join(work, 'pki-never-made');
    expect(await codeOf(Host.start({ dataDir: pki, instanceId: 'i-NOTHEX' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(Host.start({ dataDir: pki, instanceId: '0123456789abcdef' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(existsSync(pki)).toBe(false);
    const h = await startHost({ instanceId: 'i-0123456789abcdef0' });
    expect(h.instanceId).toBe('i-0123456789abcdef0');
  });

  it.each(['hangTimeoutMs', 'bootTimeoutMs', 'watchdogIntervalMs'])('%s of 0, NaN or past 2^31−1 ms is refused with ERR_INVALID_ARGUMENT before any PKI is made', async (k) => {
    const pki = join(work, 'pki-never-made');
    for (const v of [0, Number.NaN, 2 ** 31]) expect(await codeOf(Host.start({ dataDir: pki, [k]: v })), `${k} ${v}`).toBe('ERR_INVALID_ARGUMENT');
    expect(existsSync(pki)).toBe(false);
  });
});

describe('run-enclave and describe-enclaves', () => {
  let run: RunResult;
  let debugRun: RunResult;
  beforeAll(async () => {
    run = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'plain' });
    debugRun = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'debugged', debugMode: true });
  });
  afterAll(async () => {
    await host.terminate({ id: run.EnclaveID }).catch(() => undefined);
    await host.terminate({ id: debugRun.EnclaveID }).catch(() => undefined);
  });

  it("run-enclave returns nitro-cli's fields, with an id i-<16 hex>-enc<16 hex> and an automatic CID ≥ 4", () => {
    expect(Object.keys(run).sort()).toEqual(['CPUIDs', 'EnclaveCID', 'EnclaveID', 'EnclaveName', 'MemoryMiB', 'NumberOfCPUs', 'ProcessID'].sort());
    expect(run.EnclaveID).toMatch(/^i-[0-9a-f]{16}-enc[0-9a-f]{16}$/);
    expect(run.EnclaveID.startsWith(`${host.instanceId}-enc`)).toBe(true);
    expect(run).toMatchObject({ EnclaveName: 'plain', MemoryMiB: MEM, NumberOfCPUs: 1, CPUIDs: [0] });
    expect(run.EnclaveCID).toBeGreaterThanOrEqual(4);
    expect(debugRun.EnclaveCID).not.toBe(run.EnclaveCID);
    // The second enclave goes to the CPU the first does not use (where there are two).
    expect(debugRun.CPUIDs).toEqual([probeIsolation().cpus > 1 ? 1 : 0]);
    expect(pidAlive(run.ProcessID)).toBe(true);
  });

  it('the enclave answers on its vsock port', async () => {
    expect(await command(host, run.EnclaveCID, 'echo hello enclave')).toBe('hello enclave');
  });

  it('describe: State RUNNING, Flags NONE, Measurements equal to the image PCRs, every isolation layer', () => {
    const d = describeOne(host, run.EnclaveID);
    expect(d).toMatchObject({ ...run, State: 'RUNNING', Flags: 'NONE' });
    expect(d.ExitReason).toBeUndefined();
    expect(d.Measurements).toEqual({
      HashAlgorithm: 'Sha384 { ... }',
      PCR0: toHex(app.measurements.pcr0),
      PCR1: toHex(app.measurements.pcr1),
      PCR2: toHex(app.measurements.pcr2),
    });
    expect(d.Isolation).toMatchObject({
      NetworkNamespace: MACHINE.namespaces,
      PidNamespace: MACHINE.namespaces,
      EmptyRoot: MACHINE.emptyRoot !== null,
      NoPrivileges: MACHINE.noPrivileges,
      SyscallFilter: MACHINE.syscallFilter,
      Session: true,
      PermissionModel: true,
      EmptyEnvironment: true,
      StdinClosed: true,
      Descriptors: { '0': '/dev/null', '1': '/dev/null', '2': '/dev/null', '3': 'vsock channel' },
      HeapLimitMiB: Math.floor(MEM * 0.75),
      RssLimitMiB: MEM,
    });
    expect(d.Isolation.Weakened.some((w) => w.startsWith('network, PID'))).toBe(!MACHINE.namespaces);
    expect(d.Isolation.NodeFlags).toContain('--permission');
    expect(d.Isolation.NodeFlags).toContain(`--max-old-space-size=${Math.floor(MEM * 0.75)}`);
  });

  it('describe in debug mode: Flags DEBUG_MODE and the image PCRs, as nitro-cli prints them (documents carry zeros)', () => {
    const d = describeOne(host, debugRun.EnclaveID);
    expect(d).toMatchObject({ State: 'RUNNING', Flags: 'DEBUG_MODE' });
    expect(d.Measurements).toMatchObject({ PCR0: toHex(app.measurements.pcr0), PCR1: toHex(app.measurements.pcr1), PCR2: toHex(app.measurements.pcr2) });
    expect(d.Isolation.Descriptors).toMatchObject({ '1': 'console', '2': 'console' });
  });

  it("console in debug mode shows the app's ctx.log output, history and live", async () => {
    const chunks: string[] = [];
    const stop = host.console({ name: 'debugged' }, (c) => {
      if (c) chunks.push(c.toString());
    });
    await until(() => chunks.join('').includes('lifecycle app started'), 'the start-up log line');
    expect(await command(host, debugRun.EnclaveCID, 'log a line for the console')).toBe('logged');
    await until(() => chunks.join('').includes('a line for the console'), 'the live log line');
    stop();
    expect(chunks.join('')).toContain('[info] a line for the console');
  });

  it('console is refused with ERR_CONSOLE_NOT_DEBUG_MODE when the enclave is not in debug mode', async () => {
    expect(await codeOf(() => host.console({ id: run.EnclaveID }, () => undefined))).toBe('ERR_CONSOLE_NOT_DEBUG_MODE');
    expect(await codeOf(() => host.console({ name: 'plain' }, () => undefined))).toBe('ERR_CONSOLE_NOT_DEBUG_MODE');
  });
});

describe('terminate-enclave', () => {
  it('by id, by name, and all; each returns {EnclaveName, EnclaveID, Terminated: true} and the process goes', async () => {
    const a = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'term-a' });
    const b = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'term-b' });
    const c = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'term-c' });
    const d = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'term-d' });

    expect(await host.terminate({ id: a.EnclaveID })).toEqual([{ EnclaveName: 'term-a', EnclaveID: a.EnclaveID, Terminated: true }]);
    expect(describeOne(host, a.EnclaveID)).toMatchObject({ State: 'TERMINATED', ExitReason: 'terminated' });
    await until(() => !pidAlive(a.ProcessID), 'the terminated process to go');

    expect(await host.terminate({ name: 'term-b' })).toEqual([{ EnclaveName: 'term-b', EnclaveID: b.EnclaveID, Terminated: true }]);
    expect(describeOne(host, b.EnclaveID).State).toBe('TERMINATED');

    const all = await host.terminate('all');
    expect(all.map((r) => r.EnclaveID).sort()).toEqual([c.EnclaveID, d.EnclaveID].sort());
    expect(all.every((r) => r.Terminated)).toBe(true);
    // As nitro-cli: nothing is left to describe (ended enclaves are listed apart, with their reason).
    expect(host.describeEnclaves()).toEqual([]);
    expect(host.describeEndedEnclaves().filter((e) => [c.EnclaveID, d.EnclaveID].includes(e.EnclaveID)).map((e) => e.ExitReason)).toEqual(['terminated', 'terminated']);
    await until(() => !pidAlive(c.ProcessID) && !pidAlive(d.ProcessID), 'every process to go');
    // A terminated enclave's CID is free again.
    const again = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, cid: c.EnclaveCID, name: 'term-c' });
    expect(again.EnclaveCID).toBe(c.EnclaveCID);
    await host.terminate({ id: again.EnclaveID });
  });

  it('an unknown id or name, or an already terminated enclave, is ERR_ENCLAVE_NOT_FOUND', async () => {
    expect(await codeOf(host.terminate({ id: 'i-0123456789abcdef-enc0123456789abcdef' }))).toBe('ERR_ENCLAVE_NOT_FOUND');
    expect(await codeOf(host.terminate({ name: 'no-such-enclave' }))).toBe('ERR_ENCLAVE_NOT_FOUND');
    const e = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'once' });
    await host.terminate({ id: e.EnclaveID });
    expect(await codeOf(host.terminate({ id: e.EnclaveID }))).toBe('ERR_ENCLAVE_NOT_FOUND');
    expect(await codeOf(() => host.console({ id: e.EnclaveID }, () => undefined))).toBe('ERR_ENCLAVE_NOT_FOUND');
  });

  it('a reference with neither or both of id and name is ERR_INVALID_ARGUMENT, and ends nothing', async () => {
    const a = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'ref-a' });
    const b = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'ref-b' });
    try {
      expect(await codeOf(host.terminate({}))).toBe('ERR_INVALID_ARGUMENT');
      // Both given, naming two different enclaves: neither may be picked.
      expect(await codeOf(host.terminate({ id: a.EnclaveID, name: 'ref-b' }))).toBe('ERR_INVALID_ARGUMENT');
      expect(await codeOf(() => host.console({}, () => undefined))).toBe('ERR_INVALID_ARGUMENT');
      expect(describeOne(host, a.EnclaveID).State).toBe('RUNNING');
      expect(describeOne(host, b.EnclaveID).State).toBe('RUNNING');
    } finally {
      await host.terminate({ id: a.EnclaveID });
      await host.terminate({ id: b.EnclaveID });
    }
  });
});

describe('CIDs, names and resources (run-enclave argument rules)', () => {
  const refused: [string, number][] = [
    ['0 (explicit 0; omitting --enclave-cid is what means auto)', 0],
    ['1 (VMADDR_CID_LOCAL)', 1],
    ['2 (VMADDR_CID_HOST)', 2],
    ['3 (the parent)', 3],
    ['2^32−1 (VMADDR_CID_ANY)', 2 ** 32 - 1],
    ['2^32', 2 ** 32],
  ];
  it.each(refused)('CID %s is refused with ERR_VSOCK_INVALID_CID, before any process starts', async (_t, cid) => {
    const before = childPids();
    expect(await codeOf(host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, cid }))).toBe('ERR_VSOCK_INVALID_CID');
    expect([...childPids()].filter((p) => !before.has(p))).toEqual([]);
  });

  it('the highest CID, 2^32−2, is accepted; a CID in use is refused with ERR_VSOCK_CID_IN_USE', async () => {
    const top = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, cid: MAX_ENCLAVE_CID, name: 'top-cid' });
    expect(top.EnclaveCID).toBe(2 ** 32 - 2);
    expect(await command(host, MAX_ENCLAVE_CID, 'echo top')).toBe('top');
    expect(await codeOf(host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, cid: MAX_ENCLAVE_CID, name: 'other' }))).toBe('ERR_VSOCK_CID_IN_USE');
    expect(await codeOf(host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'top-cid' }))).toBe('ERR_ENCLAVE_CONFLICT');
    await host.terminate({ id: top.EnclaveID });
  });

  it('two concurrent runs with one name: one enclave starts, the other is ERR_ENCLAVE_CONFLICT (the name is taken before booting)', async () => {
    const results = await Promise.allSettled([0, 1].map(() => host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'twin' })));
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : []));
    expect(started).toHaveLength(1);
    expect(refused).toEqual(['ERR_ENCLAVE_CONFLICT']);
    expect(host.describeEnclaves().filter((e) => e.EnclaveName === 'twin' && e.State === 'RUNNING')).toHaveLength(1);
    await host.terminate({ name: 'twin' });
  });

  it('a run that fails to boot gives its name back', async () => {
    expect(await codeOf(host.runEnclave(throwing.image, { ...WEAK, memoryMiB: MEM, name: 'reused' }))).toBe('ERR_ENCLAVE_BOOT_FAILED');
    const r = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'reused' });
    expect(r.EnclaveName).toBe('reused');
    await host.terminate({ id: r.EnclaveID });
  });

  const badArgs: [string, object][] = [
    ['memory below 64 MiB', { memoryMiB: 63 }],
    ['fractional memory', { memoryMiB: 128.5 }],
    ['NaN memory', { memoryMiB: Number.NaN }],
    ['cpu-count 0', { ...WEAK, memoryMiB: MEM, cpuCount: 0 }],
    ['cpu-count above the machine', { ...WEAK, memoryMiB: MEM, cpuCount: 4096 }],
    ['fractional cpu-count', { ...WEAK, memoryMiB: MEM, cpuCount: 1.5 }],
    ['cpu-ids and cpu-count together', { ...WEAK, memoryMiB: MEM, cpuCount: 1, cpuIds: [0] }],
    ['duplicate cpu-ids', { ...WEAK, memoryMiB: MEM, cpuIds: [0, 0] }],
    ['negative cpu-id', { ...WEAK, memoryMiB: MEM, cpuIds: [-1] }],
    ['empty cpu-ids', { ...WEAK, memoryMiB: MEM, cpuIds: [] }],
    ['a cpu-id the machine lacks', { ...WEAK, memoryMiB: MEM, cpuIds: [4096] }],
    ['a name with a slash', { ...WEAK, memoryMiB: MEM, name: '../x' }],
  ];
  it.each(badArgs)('%s is refused with ERR_INVALID_ARGUMENT', async (_t, opts) => {
    expect(await codeOf(host.runEnclave(app.image, { ...WEAK, ...(opts as { memoryMiB: number }) }))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('--cpu-ids pins the enclave to those CPUs (reported in describe, and the kernel agrees)', async () => {
    // The machine's last CPU, so the affinity differs from the default of all CPUs where there are two or more.
    const cpu = probeIsolation().cpus - 1;
    const r = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, cpuIds: [cpu], name: 'pinned' });
    expect(r).toMatchObject({ NumberOfCPUs: 1, CPUIDs: [cpu] });
    if (MACHINE.launcher) {
      expect(describeOne(host, r.EnclaveID).Isolation.CpuAffinity).toEqual([cpu]);
      // ProcessID (the launcher) and the enclave's Node under it.
      const tree = [r.ProcessID, ...readFileSync(`/proc/${r.ProcessID}/task/${r.ProcessID}/children`, 'utf8').split(' ').filter(Boolean).map(Number)];
      for (const pid of tree) expect(/^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1], `pid ${pid}`).toBe(String(cpu));
    }
    await host.terminate({ id: r.EnclaveID });
  });
});

describe('CPU placement', () => {
  it('--cpu-count without --cpu-ids spreads enclaves over the machine (the CPUs the fewest use), and the kernel agrees', async () => {
    const h = await startHost();
    const cpus = MACHINE.cpus;
    const rs: RunResult[] = [];
    try {
      for (let i = 0; i < cpus; i++) rs.push(await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, cpuCount: 1, name: `spread-${i}` }));
      expect(rs.map((r) => r.CPUIDs[0]).sort((a, b) => a! - b!)).toEqual(Array.from({ length: cpus }, (_, i) => i));
      if (MACHINE.launcher) {
        for (const r of rs) {
          const node = readFileSync(`/proc/${r.ProcessID}/task/${r.ProcessID}/children`, 'utf8').trim().split(' ')[0];
          expect(/^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${node}/status`, 'utf8'))?.[1]).toBe(String(r.CPUIDs[0]));
        }
      }
      // One more goes back to the least used, the lowest id on a tie.
      const extra = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, cpuCount: 1, name: 'spread-extra' });
      expect(extra.CPUIDs).toEqual([0]);
    } finally {
      await h.stop();
    }
  });
});

describe('fates: crash, out of memory, hang, a throwing main, a corrupted image', () => {
  it('a crash (uncaught exception) is reported: State TERMINATED, ExitReason crashed with the code and nothing the app wrote', async () => {
    const r = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'crasher' });
    expect(await command(host, r.EnclaveCID, 'crash')).toBe('crashing');
    await until(() => describeOne(host, r.EnclaveID).State === 'TERMINATED', 'the crash');
    // The message ("crashed on request") can hold payload text: outside debug mode it stays inside.
    expect(describeOne(host, r.EnclaveID).ExitReason).toBe('crashed: ERR_TEST_CRASH');
    expect(await codeOf(host.connect(r.EnclaveCID, APP_PORT))).toBeDefined();
  });

  it('in debug mode the crash message is reported too (the console is readable there anyway, as on AWS)', async () => {
    const r = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'debug-crasher', debugMode: true });
    expect(await command(host, r.EnclaveCID, 'crash')).toBe('crashing');
    await until(() => describeOne(host, r.EnclaveID).State === 'TERMINATED', 'the crash');
    expect(describeOne(host, r.EnclaveID).ExitReason).toBe('crashed: ERR_TEST_CRASH: crashed on request');
  });

  // The RSS watchdog alone (a machine without cgroups, where it is the memory limit there is):
  // test/host/resources.test.ts has the kernel's limit.
  it('out of memory (RSS past --memory) is reported as "out of memory" and the process is killed, by the RSS watchdog where there is no memory cgroup', async () => {
    const h = await startHost({ watchdogIntervalMs: 50, isolation: { ...MACHINE, cgroups: null, cgroupsReason: 'none here (test)' } });
    const r = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'hog' });
    expect(describeOne(h, r.EnclaveID).Isolation).toMatchObject({ KernelLimits: null });
    expect(describeOne(h, r.EnclaveID).Isolation.Weakened).toContain('kernel limits (cgroup): none here (test)');
    expect(await command(h, r.EnclaveCID, 'oom')).toBe('allocating');
    await until(() => describeOne(h, r.EnclaveID).State === 'TERMINATED', 'the memory watchdog');
    expect(describeOne(h, r.EnclaveID).ExitReason).toMatch(new RegExp(`^out of memory: private RSS \\d+ MiB > ${MEM} MiB`));
    await until(() => !pidAlive(r.ProcessID), 'the process to go');
  });

  it('the V8 heap limit from --memory (HeapLimitMiB) is real: an app that outgrows it dies though neither the kernel limit nor the RSS watchdog looks', async () => {
    const h = await startHost({ watchdogIntervalMs: 3_600_000, isolation: { ...MACHINE, cgroups: null, cgroupsReason: 'none here (test)' } });
    const r = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'heap-hog', debugMode: true });
    expect(describeOne(h, r.EnclaveID).Isolation.HeapLimitMiB).toBe(Math.floor(MEM * 0.75));
    const log: string[] = [];
    h.console({ id: r.EnclaveID }, (c) => void (c && log.push(c.toString())));
    // Twice --memory of live objects: fine for Node's default heap, fatal under the enclave's limit.
    expect(await command(h, r.EnclaveCID, `heap ${2 * MEM}`)).toBe('allocating on the heap');
    await until(() => describeOne(h, r.EnclaveID).State === 'TERMINATED', 'the heap limit');
    expect(log.join('')).not.toContain('heap held');
    expect(log.join('')).toMatch(/heap limit|out of memory/i);
    expect(describeOne(h, r.EnclaveID).ExitReason).not.toMatch(/^out of memory: private RSS/);
  });

  it('a hang (blocked event loop, no heartbeat) is reported as "hung" after hangTimeoutMs, and every process of it goes', async () => {
    const h = await startHost({ hangTimeoutMs: 1500, watchdogIntervalMs: 100 });
    const r = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'hanger' });
    // The launcher and the enclave's Node: a Node whose loop is stuck cannot end itself when its
    // channel closes, so the kernel must (the launcher's parent-death signal).
    const tree = [r.ProcessID, ...readFileSync(`/proc/${r.ProcessID}/task/${r.ProcessID}/children`, 'utf8').split(' ').filter(Boolean).map(Number)];
    expect(await command(h, r.EnclaveCID, 'hang')).toBe('hanging');
    await until(() => describeOne(h, r.EnclaveID).State === 'TERMINATED', 'the hang watchdog');
    expect(describeOne(h, r.EnclaveID).ExitReason).toMatch(/^hung: no heartbeat for \d+ s/);
    await until(() => tree.every((p) => !pidAlive(p)), 'every process to go');
  });

  it('an app whose main throws fails run-enclave with ERR_ENCLAVE_BOOT_FAILED (its code in the message)', async () => {
    let err: unknown;
    await host.runEnclave(throwing.image, { ...WEAK, memoryMiB: MEM }).catch((e: unknown) => (err = e));
    expect(err).toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED' });
    expect(String((err as Error).message)).toContain('ERR_TEST_CRASH');
    expect(host.describeEnclaves().filter((e) => e.EnclaveName === 'thrower')).toEqual([]);
  });

  it('a corrupted image is refused before any process starts (ERR_IMAGE_BAD_CHECKSUM), truncated too', async () => {
    const bad = Uint8Array.from(app.image);
    bad[bad.length - 10]! ^= 0xff;
    const before = childPids();
    const described = host.describeEnclaves().length;
    expect(await codeOf(host.runEnclave(bad, { ...WEAK, memoryMiB: MEM }))).toBe('ERR_IMAGE_BAD_CHECKSUM');
    expect(await codeOf(host.runEnclave(app.image.subarray(0, 100), { ...WEAK, memoryMiB: MEM }))).toBe('ERR_IMAGE_TRUNCATED');
    expect(await codeOf(host.runEnclave(new Uint8Array(0), { ...WEAK, memoryMiB: MEM }))).toMatch(/^ERR_IMAGE_/);
    expect([...childPids()].filter((p) => !before.has(p))).toEqual([]);
    expect(host.describeEnclaves()).toHaveLength(described);
  });

  it('an image built for another Node is refused before any process starts, by runEnclave and prewarm (ERR_ENCLAVE_BOOT_FAILED, naming both versions)', async () => {
    // The rewrite alone changes nothing: with this Node's version it gives the built image back.
    expect(withNodeVersion(app.image, process.version)).toEqual(app.image);
    const other = withNodeVersion(app.image, 'v25.0.0');
    // Otherwise a valid image (checksum, layout, runtime schema), so the refusal is the version's.
    const loaded = loadImage(other);
    expect(loaded.runtime.node).toBe('v25.0.0');
    expect(loaded.application).toEqual(loadImage(app.image).application);
    const before = childPids();
    const described = host.describeEnclaves().length;
    const err = await host.runEnclave(other, { ...WEAK, memoryMiB: MEM, name: 'old-node' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED' });
    expect((err as Error).message).toContain(`built for Node v25.0.0; this host runs ${process.version}`);
    // Nor does prewarm start processes for it (they could only fail at boot).
    const warmErr = await host.prewarm(other, { ...WEAK, memoryMiB: MEM, count: 1 }).catch((e: unknown) => e);
    expect(warmErr).toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED' });
    expect([...childPids()].filter((p) => !before.has(p))).toEqual([]);
    expect(host.describeEnclaves()).toHaveLength(described);
  });

  it('the host survived all of that and still runs a new enclave', async () => {
    const r = await host.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'survivor' });
    expect(await command(host, r.EnclaveCID, 'echo still here')).toBe('still here');
    await host.terminate({ id: r.EnclaveID });
  });
});

describe('warm pool', () => {
  it('after prewarm, a matching runEnclave boots in a process that was already running, and the pool refills', async () => {
    const h = await startHost();
    await h.prewarm(app.image, { ...WEAK, memoryMiB: MEM, count: 1 });
    expect(h.warmCount).toBe(1);
    const warm = childPids();
    const r = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'from-pool' });
    expect(warm.has(r.ProcessID)).toBe(true);
    expect(await command(h, r.EnclaveCID, 'echo warm')).toBe('warm');
    expect(await command(h, r.EnclaveCID, 'name')).toBe('lifecycle'); // the image staged at prewarm
    // Its NSM device (issued ahead, at prewarm) speaks for this enclave id and this image.
    const nonce = randomBytes(16);
    const doc = Buffer.from(await command(h, r.EnclaveCID, `attest ${nonce.toString('hex')}`), 'base64');
    const { document } = verifyAttestation(doc, {
      trustAnchors: [h.authority.rootCertificate],
      expectedNonce: nonce,
      expectedPcrs: { 0: app.measurements.pcr0, 1: app.measurements.pcr1, 2: app.measurements.pcr2 },
    });
    expect(document.moduleId).toBe(r.EnclaveID);
    expect(h.warmCount).toBe(1); // refilled with a new process
    expect([...childPids()].filter((p) => !warm.has(p))).toHaveLength(1);

    // Another memory size is another launch command (heap flag): it cannot use the pool.
    const before = childPids();
    const cold = await h.runEnclave(app.image, { ...WEAK, memoryMiB: 2 * MEM, name: 'cold' });
    expect(before.has(cold.ProcessID)).toBe(false);
    // A different image with the same runtime may use a warm process, but not its prepared device.
    const other = await buildImage({ entry: APP, name: 'other-app', vsockPorts: [APP_PORT] });
    const before2 = childPids();
    const o = await h.runEnclave(other.image, { ...WEAK, memoryMiB: MEM, name: 'other' });
    expect(before2.has(o.ProcessID)).toBe(true);
    // It was staged with the pool's image: the run's replaced it, and is what runs.
    expect(await command(h, o.EnclaveCID, 'name')).toBe('other-app');
    const nonce2 = randomBytes(16);
    const doc2 = Buffer.from(await command(h, o.EnclaveCID, `attest ${nonce2.toString('hex')}`), 'base64');
    const v2 = verifyAttestation(doc2, { trustAnchors: [h.authority.rootCertificate], expectedNonce: nonce2, expectedPcrs: { 0: other.measurements.pcr0 } });
    expect(v2.document.moduleId).toBe(o.EnclaveID);
    await h.stop();
    expect(h.warmCount).toBe(0);
    expect(h.describeEnclaves()).toEqual([]);
  });

  it('a memory size one MiB off the pool\'s (the same heap flag after rounding) does not take a warm process: its RSS limit is its own', async () => {
    const runtime = loadImage(app.image).runtime;
    // The premise: both sizes give the very same Node command line.
    expect(launchArgs(runtime, MEM + 1)).toEqual(launchArgs(runtime, MEM));
    const h = await startHost();
    try {
      await h.prewarm(app.image, { ...WEAK, memoryMiB: MEM, count: 1 });
      const warm = childPids();
      const r = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM + 1, name: 'one-more-mib' });
      expect(warm.has(r.ProcessID)).toBe(false);
      const d = describeOne(h, r.EnclaveID);
      expect(d.MemoryMiB).toBe(MEM + 1);
      expect(d.Isolation.RssLimitMiB).toBe(MEM + 1);
      expect(h.warmCount).toBe(1); // still kept for MEM
    } finally {
      await h.stop();
    }
  });

  it("a cold start runs the bytes it measured: the caller's buffer zeroed while the process starts changes nothing", async () => {
    const h = await startHost();
    try {
      const buffer = Uint8Array.from(app.image);
      const started = h.runEnclave(buffer, { ...WEAK, memoryMiB: MEM, name: 'copied' });
      buffer.fill(0); // before the process has even connected for its image
      const r = await started;
      expect(await command(h, r.EnclaveCID, 'name')).toBe('lifecycle');
      expect(describeOne(h, r.EnclaveID).Measurements.PCR0).toBe(toHex(app.measurements.pcr0));
    } finally {
      await h.stop();
    }
  });

  it("the pool keeps its own copy of the image: a caller's buffer changed after prewarm neither changes what warm processes run nor passes as the pool's image", async () => {
    const h = await startHost();
    try {
      const buffer = Uint8Array.from(app.image);
      await h.prewarm(buffer, { ...WEAK, memoryMiB: MEM, count: 1 });
      buffer.fill(0x41, 64, 4096); // the caller reuses its buffer
      // Those bytes are no image: refused by the loader, as without a pool.
      expect(await codeOf(h.runEnclave(buffer, { ...WEAK, memoryMiB: MEM, name: 'changed' }))).toBe('ERR_IMAGE_BAD_CHECKSUM');
      const warm = childPids();
      const r = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'original' });
      expect(warm.has(r.ProcessID)).toBe(true);
      expect(await command(h, r.EnclaveCID, 'name')).toBe('lifecycle');
      expect(describeOne(h, r.EnclaveID).Measurements.PCR0).toBe(toHex(app.measurements.pcr0));
    } finally {
      await h.stop();
    }
  });

  it('prewarm refuses a count that is not a whole number ≥ 0 (ERR_INVALID_ARGUMENT) and a stopped host (ERR_ENCLAVE_BOOT_FAILED), starting no process', async () => {
    const h = await startHost();
    const before = childPids();
    for (const count of [Infinity, Number.NaN, -1, 1.5]) {
      expect(await codeOf(h.prewarm(app.image, { ...WEAK, memoryMiB: MEM, count }))).toBe('ERR_INVALID_ARGUMENT');
    }
    await h.stop();
    expect(await codeOf(h.prewarm(app.image, { ...WEAK, memoryMiB: MEM, count: 1 }))).toBe('ERR_ENCLAVE_BOOT_FAILED');
    expect(h.warmCount).toBe(0);
    expect([...childPids()].filter((p) => !before.has(p))).toEqual([]);
  });
});

describe('warm pool, idle', () => {
  it('a pooled process that idled past its warm-up (an in-process channel pair, a module from memory) boots and serves like any other', async () => {
    const h = await startHost();
    try {
      await h.prewarm(app.image, { ...WEAK, memoryMiB: MEM, count: 1 });
      const warm = childPids();
      // The bootstrap warms up after 20 ms with its boot stream open; give it ample time to finish.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const r = await h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'idled' });
      expect(warm.has(r.ProcessID)).toBe(true);
      expect(await command(h, r.EnclaveCID, 'echo after warm-up')).toBe('after warm-up');
      const nonce = randomBytes(16);
      const doc = Buffer.from(await command(h, r.EnclaveCID, `attest ${nonce.toString('hex')}`), 'base64');
      expect(verifyAttestation(doc, { trustAnchors: [h.authority.rootCertificate], expectedNonce: nonce, expectedPcrs: { 0: app.measurements.pcr0 } }).document.moduleId).toBe(r.EnclaveID);
      expect(h.describeEnclaves().find((e) => e.EnclaveID === r.EnclaveID)?.State).toBe('RUNNING');
    } finally {
      await h.stop();
    }
  });
});

describe('stopping the host', () => {
  it('host.stop() terminates every enclave and their processes', async () => {
    const h = await startHost();
    const rs = await Promise.all(['s1', 's2'].map((name) => h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name })));
    await h.stop();
    expect(h.describeEnclaves()).toEqual([]);
    expect(h.describeEndedEnclaves().map((e) => [e.EnclaveName, e.State, e.ExitReason]).sort()).toEqual([
      ['s1', 'TERMINATED', 'terminated'],
      ['s2', 'TERMINATED', 'terminated'],
    ]);
    await until(() => rs.every((r) => !pidAlive(r.ProcessID)), 'the processes to go');
    expect(await codeOf(h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM }))).toBe('ERR_ENCLAVE_BOOT_FAILED');
  });

  it('host.stop() during a run ends the booting enclave too: the run fails and no process is left', async () => {
    const h = await startHost();
    const before = childPids();
    // runEnclave spawns the process before its first await: it is booting when stop() comes.
    const outcome = h.runEnclave(app.image, { ...WEAK, memoryMiB: MEM, name: 'late' }).then(
      () => 'started',
      (e: unknown) => (e as { code?: string }).code,
    );
    const spawned = [...childPids()].filter((p) => !before.has(p));
    expect(spawned).toHaveLength(1);
    await h.stop();
    expect(await outcome).toBe('ERR_ENCLAVE_BOOT_FAILED');
    expect(h.describeEnclaves()).toEqual([]);
    await until(() => spawned.every((p) => !pidAlive(p)), 'the booting process to go');
  });

  it('an enclave exits when its host process dies (kill -9 of the host)', async () => {
    const imagePath = join(work, 'app.eif');
    writeFileSync(imagePath, app.image);
    const script = `
      import { readFileSync } from 'node:fs';
      import { Host } from ${JSON.stringify(join(repoRoot, 'host/index.ts'))};
      const host = await Host.start({ dataDir: ${JSON.stringify(join(work, 'pki'))} });
      const r = await host.runEnclave(readFileSync(${JSON.stringify(imagePath)}), { memoryMiB: ${MEM}, allowWeakerIsolation: ${JSON.stringify(WEAK.allowWeakerIsolation === true)} });
      let node = r.ProcessID;
      try { node = Number(readFileSync('/proc/' + r.ProcessID + '/task/' + r.ProcessID + '/children', 'utf8').trim().split(' ')[0]) || node; } catch {}
      process.stdout.write(JSON.stringify({ pid: r.ProcessID, node }) + '\\n');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out);
      });
      child.once('exit', (code) => reject(new Error(`host child exited early with ${code}`)));
    });
    const { pid, node } = JSON.parse(line) as { pid: number; node: number };
    expect(pidAlive(pid)).toBe(true);
    expect(pidAlive(node)).toBe(true);
    child.kill('SIGKILL');
    await until(() => !pidAlive(pid) && !pidAlive(node), 'the orphaned enclave to exit');
  });
});
