// The host daemon under a hostile enclave and a careless starter: it closes the descriptors it
// inherited (the enclaves never see them), no signal opens an inspector in it, its runtime
// directory is refused when another user controls it, and while an enclave sends every signal it
// can name to the daemon, its group and another enclave, the daemon and that other enclave answer.
import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../enclave/index.ts';
import { DaemonClient, ensureDaemon, probeIsolation } from '../../host/index.ts';
import { runtimePaths } from '../../host/daemon/index.ts';
import { PROBE_PORT, FLOOD_PORT } from '../../examples/escape-probe/main.ts';
import type { ProbeOutcome, ProbeTargets } from '../../examples/escape-probe/probes.ts';
import { APP_PORT } from './fixtures/lifecycle-app.ts';
import { repoRoot } from '../enclave/fixtures.ts';
import { cleanupDaemons, readAll, tempDir } from '../cli-host/helpers.ts';

const M = probeIsolation();
const ROOT = process.geteuid?.() === 0;
const FULL = M.launcher !== null && M.namespaces && M.emptyRoot !== null && M.noPrivileges && M.syscallFilter;
const runtimeDirs: string[] = [];
let proberPath: string;
let victimPath: string;
let dataDir: string;

beforeAll(async () => {
  const dir = tempDir('nsbx-daemon-iso-');
  dataDir = join(dir, 'data');
  proberPath = join(dir, 'prober.eif');
  victimPath = join(dir, 'victim.eif');
  writeFileSync(proberPath, (await buildImage({ entry: join(repoRoot, 'examples/escape-probe/main.ts'), vsockPorts: [PROBE_PORT, FLOOD_PORT] })).image);
  writeFileSync(victimPath, (await buildImage({ entry: join(repoRoot, 'test/host/fixtures/lifecycle-app.ts'), name: 'victim', vsockPorts: [APP_PORT] })).image);
}, 120_000);

afterAll(async () => {
  await cleanupDaemons(runtimeDirs);
});

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** Runs the CLI with `exec 100<secret` in front of it, as a shell redirection would leave it. */
async function cliWithInheritedFd(rt: string, secret: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = spawn('/bin/bash', ['-c', 'exec 100<"$1"; shift; exec "$@"', 'bash', secret, process.execPath, join(repoRoot, 'bin/nitro-sandbox.js'), ...args], {
    env: { ...process.env, NITRO_SANDBOX_RUNTIME_DIR: rt },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? -1)));
  return { code, out, err };
}

describe('the daemon', () => {
  it.skipIf(!FULL)('closes the descriptors its starter left open, and its enclaves see none of them', async () => {
    const rt = join(tempDir('nsbx-daemon-iso-rt-'), 'rt');
    runtimeDirs.push(rt);
    const secret = join(tempDir('nsbx-daemon-iso-'), 'secret.txt');
    writeFileSync(secret, 'inherited secret');
    const r = await cliWithInheritedFd(rt, secret, ['run-enclave', '--eif-path', victimPath, '--memory', '128', '--cpu-count', '1', '--data-dir', dataDir]);
    expect(r.code, r.err).toBe(0);
    const run = JSON.parse(r.out) as { ProcessID: number };
    const daemonPid = Number(readFileSync(runtimePaths(rt).lock, 'utf8'));
    const targets = (pid: number): string[] => readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(targets(daemonPid)).not.toContain(secret);
    expect(readFileSync(runtimePaths(rt).log, 'utf8')).toMatch(/closed descriptors inherited from the starter: .*\b100\b/);
    for (const pid of [run.ProcessID, ...childrenOf(run.ProcessID)]) expect(targets(pid), `pid ${pid}`).not.toContain(secret);
  });

  it.skipIf(!FULL)('opens no inspector on SIGUSR1 (--disable-sigusr1) and keeps answering', async () => {
    const rt = join(tempDir('nsbx-daemon-iso-rt-'), 'rt');
    runtimeDirs.push(rt);
    const client = await ensureDaemon({ runtimeDir: rt, dataDir, idleExitMs: 0 });
    const { pid } = await client.ping();
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--disable-sigusr1');
    process.kill(pid, 'SIGUSR1');
    // A request after the signal is served after it was handled (one thread serves both).
    expect((await client.ping()).pid).toBe(pid);
    expect(readFileSync(runtimePaths(rt).log, 'utf8')).not.toMatch(/Debugger listening/);
  });

  it.skipIf(!ROOT)('refuses a runtime directory another user made first (ERR_HOST_DAEMON), starting nothing there', async () => {
    const rt = join(tempDir('nsbx-daemon-iso-rt-'), 'squatted');
    mkdirSync(rt, { mode: 0o700 });
    chownSync(rt, 4242, 4242);
    await expect(ensureDaemon({ runtimeDir: rt, dataDir })).rejects.toMatchObject({ code: 'ERR_HOST_DAEMON', message: expect.stringMatching(/not private|belongs to uid 4242/) });
    expect(readdirSync(rt)).toEqual([]);
  });

  it.skipIf(!FULL)('answers, and so does another enclave, while a hostile enclave signals the daemon, its group and that enclave with every number, floods its NSM and bursts its memory', async () => {
    const rt = join(tempDir('nsbx-daemon-iso-rt-'), 'rt');
    runtimeDirs.push(rt);
    const client = await ensureDaemon({ runtimeDir: rt, dataDir, idleExitMs: 0 });
    const { pid } = await client.ping();
    const image = (p: string): Uint8Array => readFileSync(p);
    const victim = await client.runEnclave(image(victimPath), { memoryMiB: 128, name: 'victim' });
    const hostile = await client.runEnclave(image(proberPath), { memoryMiB: 256, name: 'hostile' });
    const t: ProbeTargets = {
      token: 'x',
      httpPort: 1,
      tcpPort: 1,
      tlsPort: 1,
      udpPort: 1,
      dnsPort: 1,
      unixPath: runtimePaths(rt).socket,
      abstractName: 'none',
      secretFile: join(dataDir, 'custody', 'seal.key'),
      secretMjs: '/none.mjs',
      secretCjs: '/none.cjs',
      envFile: '/none.env',
      imagePath: proberPath,
      rootKeyPath: join(dataDir, 'custody', 'seal.key'),
      writeDir: rt,
      rootFile: '/etc/passwd',
      addonPath: '/none.node',
      parentPid: pid,
      hostPgid: pgidOf(pid),
      decoyPid: victim.ProcessID,
      catcherPid: pid,
      victimPids: [victim.ProcessID, ...childrenOf(victim.ProcessID)],
      pidMax: 4096,
      hostUser: 'root home /root shell /bin/bash',
      hostName: 'none',
      cgroupProcs: '/sys/fs/cgroup/memory/cgroup.procs',
      cgroupLimit: '/sys/fs/cgroup/memory/memory.limit_in_bytes',
      cgroupDir: '/sys/fs/cgroup/memory',
    };
    const conn = await client.connect(hostile.EnclaveCID, PROBE_PORT);
    conn.end(JSON.stringify(t));
    const report = JSON.parse((await readAll(conn)).toString('utf8')) as ProbeOutcome[];
    const signals = report.filter((o) => /^signals to|^SIGTERM|_debugProcess|libc kill|setPriority/.test(o.route));
    expect(signals.length).toBeGreaterThanOrEqual(10);
    for (const o of signals) expect(o, JSON.stringify(o)).toMatchObject({ ok: false });
    // The daemon's socket, the CA custody key: not reachable either.
    for (const route of ['unix socket by path', 'read a planted secret file', "read the host's CA custody key (custody/seal.key)"]) {
      expect(report.find((o) => o.route === route), route).toMatchObject({ ok: false });
    }
    expect((await client.ping()).pid).toBe(pid);
    const victimAnswers = async (): Promise<void> => {
      const echo = await client.connect(victim.EnclaveCID, APP_PORT);
      echo.end('echo still here\n');
      expect((await readAll(echo)).toString()).toBe('still here');
    };
    await victimAnswers();
    expect((await client.describeEnclaves()).map((d) => d.State)).toEqual(['RUNNING', 'RUNNING']);
    // An NSM flood: refused past the gate's burst; the daemon and the victim answer meanwhile.
    const flood = await client.connect(hostile.EnclaveCID, FLOOD_PORT);
    flood.end(JSON.stringify({ kind: 'attest', count: 400 }));
    const [flooded] = await Promise.all([readAll(flood), client.ping(), victimAnswers()]);
    const r = JSON.parse(flooded.toString()) as { done: number; refused: number; codes: string[] };
    expect(r.done + r.refused).toBe(400);
    expect(r.refused).toBeGreaterThan(0);
    expect(r.codes).toEqual(['InternalError']);
    // A memory burst: the kernel ends the hostile enclave; the daemon and the victim answer on.
    if (M.cgroups) {
      const burst = await client.connect(hostile.EnclaveCID, FLOOD_PORT);
      burst.end(JSON.stringify({ kind: 'burst', count: 1024 }));
      await readAll(burst).catch(() => undefined);
      const ended = async () => (await client.describeEndedEnclaves()).find((d) => d.EnclaveName === 'hostile');
      while (!(await ended())) await new Promise((res) => setTimeout(res, 50));
      expect((await ended())?.ExitReason).toMatch(/^out of memory: killed by the kernel at its 256 MiB limit/);
    }
    expect((await client.ping()).pid).toBe(pid);
    await victimAnswers();
    await new DaemonClient(rt).terminate('all');
  });
});

describe('the command line', () => {
  it('opens no inspector on SIGUSR1 and keeps running (kms serve, a server that runs for long)', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/nitro-sandbox.js'), 'kms', 'serve', '--port', '0', '--data-dir', join(tempDir('nsbx-daemon-iso-kms-'), 'kms')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => /http:\/\/\S+/.test(out) && resolve());
        child.once('exit', (c) => reject(new Error(`kms serve exited with ${c}: ${err}`)));
      });
      child.kill('SIGUSR1');
      const endpoint = /http:\/\/\S+/.exec(out)![0];
      // Served after the signal was handled (one thread): still up, and no inspector.
      const r = await fetch(endpoint, { method: 'POST', body: '{}' });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(child.exitCode).toBeNull();
      expect(err).not.toMatch(/Debugger listening|Starting inspector/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
