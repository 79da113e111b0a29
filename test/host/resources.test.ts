// The escape suite's routes that end or flood an enclave (examples/escape-probe/floods.ts), each
// run in an enclave of its own with every layer and with the OS layers only, and judged from the
// host; each also shown open where the layer that stops it is absent:
//   - a memory burst: the kernel (the enclave's memory cgroup) kills the enclave at its --memory,
//     its peak never past it by more than 10 %, and the host and a victim enclave answer on;
//     outside the sandbox the same burst holds 1.5× that much;
//   - a stream flood to a parent port whose listener never reads: the host takes at most the
//     enclave's budget (connections × window) and refuses the rest; a host without the budget
//     takes every stream, 4× as much memory;
//   - an NSM flood: the gate (nsm-gate.ts) refuses attestations past the budget's burst while
//     another enclave's device serves it; without the gate every request is signed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type VsockConnection } from '../../enclave/index.ts';
import { osLayersOnlyForTests } from '../../host/host.ts';
import { Host, probeIsolation, type RunResult } from '../../host/index.ts';
import { DEFAULT_BUDGET } from '../../host/budget.ts';
import { FLOOD_PORT } from '../../examples/escape-probe/main.ts';
import type { FloodReport, FloodRequest } from '../../examples/escape-probe/floods.ts';
import { APP_PORT } from './fixtures/lifecycle-app.ts';
import { repoRoot } from '../enclave/fixtures.ts';

const M = probeIsolation();
const FULL = M.launcher !== null && M.namespaces && M.emptyRoot !== null && M.noPrivileges && M.syscallFilter;
const MEM = 128;
const work = mkdtempSync(join(tmpdir(), 'nsbx-resources-'));
const hosts: Host[] = [];
let prober: Uint8Array;
let victimImage: Uint8Array;

async function startHost(options: Parameters<typeof Host.start>[0] = {}, osOnly = false): Promise<Host> {
  const h = await Host.start({ dataDir: join(work, 'pki'), ...options });
  hosts.push(h);
  return osOnly ? osLayersOnlyForTests(h) : h;
}

async function flood(h: Host, cid: number, req: FloodRequest): Promise<FloodReport> {
  return JSON.parse((await h.request(cid, FLOOD_PORT, JSON.stringify(req))).toString('utf8')) as FloodReport;
}

/** Waits (without asserting on time) until `cond` holds; the test's own timeout bounds it. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 2000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function victimAnswers(h: Host, v: RunResult): Promise<void> {
  expect((await h.request(v.EnclaveCID, APP_PORT, 'echo still here\n')).toString()).toBe('still here');
}

beforeAll(async () => {
  prober = (await buildImage({ entry: join(repoRoot, 'examples/escape-probe/main.ts'), vsockPorts: [5005, FLOOD_PORT] })).image;
  victimImage = (await buildImage({ entry: join(repoRoot, 'test/host/fixtures/lifecycle-app.ts'), name: 'victim', vsockPorts: [APP_PORT] })).image;
}, 120_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  rmSync(work, { recursive: true, force: true });
});

const CONFIGS = [
  ['with every layer', false],
  ['with the OS layers only', true],
] as const;

describe('memory burst', () => {
  it('outside the sandbox a process holds 1.5× that memory', async () => {
    const code = `import { burst } from ${JSON.stringify(join(repoRoot, 'examples/escape-probe/floods.ts'))};
      await burst(${MEM * 1.5});
      process.stdout.write(/VmRSS:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1]);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.once('exit', r));
    expect(Number(out) / 1024).toBeGreaterThan(MEM * 1.1);
  });

  it.skipIf(!FULL || M.cgroups === null).each(CONFIGS)(
    '%s, the kernel ends the enclave at its --memory (peak within 10 %), and the host and a victim enclave answer throughout',
    async (_name, osOnly) => {
      // No RSS watchdog: the kernel's limit alone.
      const h = await startHost({ watchdogIntervalMs: 2 ** 31 - 1 }, osOnly);
      const victim = await h.runEnclave(victimImage, { memoryMiB: MEM, name: 'victim' });
      const hog = await h.runEnclave(prober, { memoryMiB: MEM, name: 'hog' });
      // Four times its memory: it never answers (its stream ends with the enclave).
      const answer = flood(h, hog.EnclaveCID, { kind: 'burst', count: 4 * MEM }).catch((e: unknown) => e);
      await until(() => h.describeEndedEnclaves().some((d) => d.EnclaveID === hog.EnclaveID), 'the kernel to end the hog');
      expect(await answer).toBeInstanceOf(Error);
      const reason = h.describeEndedEnclaves().find((d) => d.EnclaveID === hog.EnclaveID)?.ExitReason ?? '';
      // The peak is the kernel's own high-water mark of the enclave's pages (its cgroup's); `ps`
      // would add Node's code pages, the host's page cache shared by every Node (enclave-process.ts).
      const m = new RegExp(`^out of memory: killed by the kernel at its ${MEM} MiB limit \\(memory cgroup; peak (\\d+\\.\\d) MiB\\)$`).exec(reason);
      expect(m, reason).not.toBeNull();
      expect(Number(m![1])).toBeLessThanOrEqual(MEM * 1.1);
      await victimAnswers(h, victim);
      expect(h.describeEnclaves().find((d) => d.EnclaveID === victim.EnclaveID)?.State).toBe('RUNNING');
    },
  );
});

describe('stream flood to a parent port whose listener never reads', () => {
  const STREAMS = 512;

  /** Runs the flood against `h` and returns what the host took: streams accepted and bytes held. */
  async function streamFlood(h: Host, port: number): Promise<{ report: FloodReport; accepted: number; heldMiB: number }> {
    const held: VsockConnection[] = [];
    // Accepted and never read: each stream's bytes stay in the host.
    const l = h.listenParent(port, (conn) => {
      conn.on('error', () => undefined);
      held.push(conn);
    });
    const victim = await h.runEnclave(victimImage, { memoryMiB: MEM, name: `victim-${port}` });
    const hog = await h.runEnclave(prober, { memoryMiB: 256, name: `streams-${port}` });
    const before = process.memoryUsage().arrayBuffers;
    // The app answers once the host has taken every byte it lets in (floods.ts): the channel
    // carries its answer after all of them.
    const report = await flood(h, hog.EnclaveCID, { kind: 'streams', count: STREAMS, port, bytes: DEFAULT_BUDGET.streamWindow });
    const heldMiB = (process.memoryUsage().arrayBuffers - before) / 2 ** 20;
    // The host still serves: describe, and another enclave's streams.
    expect(h.describeEnclaves().map((d) => d.EnclaveName)).toContain(`streams-${port}`);
    await victimAnswers(h, victim);
    for (const c of held) c.destroy();
    l.close();
    await h.terminate({ id: hog.EnclaveID });
    await h.terminate({ id: victim.EnclaveID });
    return { report, accepted: held.length, heldMiB };
  }

  it('without a budget the host takes every stream, a whole window each (the route open)', async () => {
    const h = await startHost({ budget: { streamBytes: 1 << 30 } });
    const r = await streamFlood(h, 7001);
    expect(r.report).toEqual({ done: STREAMS, refused: 0, codes: [] });
    expect(r.accepted).toBe(STREAMS);
    expect(r.heldMiB).toBeGreaterThan((STREAMS * DEFAULT_BUDGET.streamWindow) / 2 ** 20 / 2);
  });

  it.each(CONFIGS)('%s, the host takes at most the enclave budget and refuses the rest (ECONNREFUSED)', async (_name, osOnly) => {
    const h = await startHost({}, osOnly);
    const r = await streamFlood(h, osOnly ? 7003 : 7002);
    // The channel's connection cap, less the two streams already open: the boot stream and the
    // one this flood was asked on.
    const cap = Math.floor(DEFAULT_BUDGET.streamBytes / DEFAULT_BUDGET.streamWindow) - 2;
    expect(r.report).toEqual({ done: cap, refused: STREAMS - cap, codes: ['ECONNREFUSED'] });
    expect(r.accepted).toBe(cap);
    expect(r.heldMiB).toBeLessThan((DEFAULT_BUDGET.streamBytes / 2 ** 20) * 1.5);
  });
});

describe('NSM flood', () => {
  const REQUESTS = 200;
  // A clock that does not move: the bucket refills by the clock, so exactly its burst passes.
  const frozen = (): number => 1_800_000_000_000;

  it('without the gate every attestation is signed (the route open)', async () => {
    const h = await startHost({ clock: frozen, budget: { nsmBurst: 1 << 20, attestationCost: 1 } });
    const hog = await h.runEnclave(prober, { memoryMiB: 256, name: 'attest-all' });
    expect(await flood(h, hog.EnclaveCID, { kind: 'attest', count: REQUESTS })).toEqual({ done: REQUESTS, refused: 0, codes: [] });
  });

  it.each(CONFIGS)('%s, attestations past the burst are refused with InternalError while another enclave is served', async (_name, osOnly) => {
    const h = await startHost({ clock: frozen }, osOnly);
    const victim = await h.runEnclave(victimImage, { memoryMiB: MEM, name: 'victim' });
    const hog = await h.runEnclave(prober, { memoryMiB: 256, name: 'attest-flood' });
    const [report] = await Promise.all([flood(h, hog.EnclaveCID, { kind: 'attest', count: REQUESTS }), victimAnswers(h, victim)]);
    const passed = DEFAULT_BUDGET.nsmBurst / DEFAULT_BUDGET.attestationCost;
    expect(report).toEqual({ done: passed, refused: REQUESTS - passed, codes: ['InternalError'] });
    // The victim's own device still signs for it.
    const doc = (await h.request(victim.EnclaveCID, APP_PORT, `attest ${'00'.repeat(16)}\n`)).toString();
    expect(doc).not.toMatch(/^error/);
    expect(Buffer.from(doc, 'base64').length).toBeGreaterThan(1000);
  });
});

afterAll(() => {
  // Nothing of the enclaves' cgroups is left behind once their hosts stopped.
  const parent = M.cgroups?.parent.memory;
  if (parent) {
    const group = join(parent, `nitro-sandbox-${process.pid}`);
    let left: string[] = [];
    try {
      left = readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    } catch {
      // no group made
    }
    expect(left).toEqual([]);
  }
});
