// The nitro-cli commands end to end against a real host daemon in a temporary runtime directory:
// run-enclave (flags and --config), describe-enclaves, a connection to the enclave through the
// daemon, console (debug mode only), terminate-enclave by id, name and all, the errors and exit
// codes of bad flags and config files, the daemon surviving the CLI, one daemon for two concurrent
// first runs, and a stale socket/lock from a killed daemon being replaced.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../enclave/index.ts';
import { main } from '../../host/cli/main.ts';
import { commands } from '../../host/cli/commands/index.ts';
import { NITRO_CLI_ERROR_CODES } from '../../host/cli/nitro-errors.ts';
import { parseMemory } from '../../host/cli/commands/run-enclave.ts';
import { DaemonClient, ensureDaemon, findDaemon, runtimePaths } from '../../host/daemon/index.ts';
import { ECHO_PORT, WEAK, WEAK_FLAGS, appEntry, expectQuietStderr, cleanupDaemons, cliProcess, pidAliveNotZombie, readAll, sha256, tempDir, waitFor, type CliResult } from './helpers.ts';

/** Runs the CLI in this process (the daemon it starts is still a real, separate process). */
async function cli(...argv: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const ENCLAVE_ID = /^i-[0-9a-f]{16}-enc[0-9a-f]{16}$/;
let eif: string;
let dataDir: string;
let runtimeDir: string;
const runtimeDirs: string[] = [];
const savedEnv = process.env.NITRO_SANDBOX_RUNTIME_DIR;

beforeAll(async () => {
  const dir = tempDir();
  eif = join(dir, 'app.eif');
  writeFileSync(eif, (await buildImage({ entry: appEntry })).image);
  dataDir = tempDir('nsbx-cli-host-pki-');
  runtimeDir = join(tempDir('nsbx-cli-host-rt-'), 'rt');
  runtimeDirs.push(runtimeDir);
  process.env.NITRO_SANDBOX_RUNTIME_DIR = runtimeDir;
});

afterAll(async () => {
  await cleanupDaemons(runtimeDirs);
  if (savedEnv === undefined) delete process.env.NITRO_SANDBOX_RUNTIME_DIR;
  else process.env.NITRO_SANDBOX_RUNTIME_DIR = savedEnv;
});

describe('run, describe, connect, console, terminate', () => {
  let debugId: string;
  let debugCid: number;

  it('run-enclave starts the daemon, prints nitro-cli\'s JSON, and the runtime dir is private', async () => {
    expect(existsSync(runtimeDir)).toBe(false);
    const r = await cli('run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128', '--cpu-count', '1', '--debug-mode', '--enclave-name', 'dbg', '--data-dir', dataDir);
    expectQuietStderr(r.err);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as Record<string, unknown>;
    expect(r.err.split('\n')[1]).toBe(`Started enclave with enclave-cid: ${out.EnclaveCID as number}, memory: 128 MiB, cpu-ids: [0]`);
    expect(Object.keys(out)).toEqual(['EnclaveName', 'EnclaveID', 'ProcessID', 'EnclaveCID', 'NumberOfCPUs', 'CPUIDs', 'MemoryMiB']);
    expect(out).toMatchObject({ EnclaveName: 'dbg', NumberOfCPUs: 1, CPUIDs: [0], MemoryMiB: 128 });
    expect(out.EnclaveID).toMatch(ENCLAVE_ID);
    debugId = out.EnclaveID as string;
    debugCid = out.EnclaveCID as number;
    expect(pidAliveNotZombie(out.ProcessID as number)).toBe(true);
    const { execSync } = await import('node:child_process');
    expect(execSync(`stat -c %a ${runtimeDir}`).toString().trim()).toBe('700');
    expect(execSync(`stat -c %a ${runtimePaths(runtimeDir).socket}`).toString().trim()).toBe('600');
    const ping = await new DaemonClient(runtimeDir).ping();
    expect(ping.dataDir).toBe(dataDir);
    expect(ping.pid).not.toBe(process.pid);
    expect(readFileSync(runtimePaths(runtimeDir).lock, 'utf8')).toBe(`${ping.pid}\n`);
  });

  it('run-enclave --config (nitro-cli\'s JSON keys) starts a second, non-debug enclave', async () => {
    const cfg = join(tempDir(), 'run.json');
    writeFileSync(cfg, JSON.stringify({ eif_path: eif, memory_mib: 128, cpu_ids: [1], enclave_cid: 42, debug_mode: false, enclave_name: 'prod' }));
    const r = await cli('run-enclave', '--config', cfg, ...WEAK_FLAGS, '--data-dir', dataDir);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ EnclaveName: 'prod', EnclaveCID: 42, NumberOfCPUs: 1, CPUIDs: [1], MemoryMiB: 128 });
  });

  it('describe-enclaves lists both with state, flags, measurements and isolation', async () => {
    const r = await cli('describe-enclaves');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as Record<string, unknown>[];
    expect(list.map((e) => [e.EnclaveName, e.State, e.Flags])).toEqual([
      ['dbg', 'RUNNING', 'DEBUG_MODE'],
      ['prod', 'RUNNING', 'NONE'],
    ]);
    const prod = list[1]!;
    expect(prod.EnclaveCID).toBe(42);
    expect((prod.Measurements as Record<string, string>).PCR0).toMatch(/^[0-9a-f]{96}$/);
    expect((prod.Measurements as Record<string, string>).PCR0).not.toBe('0'.repeat(96));
    // As nitro-cli: the image's PCRs in debug mode too (its documents carry zeros, not this).
    expect(list[0]!.Measurements).toEqual(prod.Measurements);
    expect(prod.Isolation).toBeTypeOf('object');
    expect(Object.keys(prod)).toEqual(['EnclaveName', 'EnclaveID', 'ProcessID', 'EnclaveCID', 'NumberOfCPUs', 'CPUIDs', 'MemoryMiB', 'State', 'Flags', 'Measurements', 'Isolation']);
  });

  it('describe-enclaves --metadata adds ImageName, ImageVersion and Metadata after Measurements, as nitro-cli', async () => {
    const r = await cli('describe-enclaves', '--metadata');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as Record<string, unknown>[];
    expect(list).toHaveLength(2);
    for (const e of list) {
      expect(Object.keys(e)).toEqual(['EnclaveName', 'EnclaveID', 'ProcessID', 'EnclaveCID', 'NumberOfCPUs', 'CPUIDs', 'MemoryMiB', 'State', 'Flags', 'Measurements', 'ImageName', 'ImageVersion', 'Metadata', 'Isolation']);
      expect(e).toMatchObject({ ImageName: 'app', ImageVersion: '1.0', Metadata: { BuildTool: 'nitro-sandbox', KernelVersion: process.version } });
      expect(Object.keys(e.Metadata as object)).toEqual(['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion', 'DockerInfo']);
    }
    // Without the flag, and with --ended, the image fields stay out; the two flags do not combine.
    expect((await cli('describe-enclaves', '--metadata', '--ended')).code).toBe(2);
  });

  it('connects to an enclave port through the daemon (CONNECT), bytes intact, half-close carried', async () => {
    const conn = await new DaemonClient(runtimeDir).connect(debugCid, ECHO_PORT);
    const payload = randomBytes(256 * 1024);
    conn.end(payload);
    expect(sha256(await readAll(conn))).toBe(sha256(payload));
    await expect(new DaemonClient(runtimeDir).connect(debugCid, 9)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('carries backpressure end to end: a client that does not read stalls its writer, then all bytes arrive', async () => {
    const conn = await new DaemonClient(runtimeDir).connect(debugCid, ECHO_PORT);
    const chunk = randomBytes(256 * 1024);
    let accepted = 0;
    // Write without reading until the writer has been stalled for 500 ms.
    for (;;) {
      while (conn.write(chunk)) accepted += chunk.length;
      accepted += chunk.length;
      const drained = await Promise.race([new Promise<boolean>((r) => conn.once('drain', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
      if (!drained) break;
      if (accepted > 256 * 1024 * 1024) break;
    }
    // Socket buffers, the daemon's pipes and the vsock credit windows hold a bounded amount.
    expect(accepted).toBeLessThan(32 * 1024 * 1024);
    conn.end();
    const back = await readAll(conn);
    expect(back.length).toBe(accepted);
    expect(back.subarray(0, chunk.length).equals(chunk)).toBe(true);
    expect(back.subarray(back.length - chunk.length).equals(chunk)).toBe(true);
  });

  it('console streams a debug-mode enclave\'s console', async () => {
    const r = await cli('console', '--enclave-id', debugId, '--disconnect-timeout', '1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Connecting to the console for enclave ${debugCid}\\.\\.\\.\\nSuccessfully connected to the console\\.\\n`));
    expect(r.out).toContain('console: hello from the test enclave');
  });

  it('console is refused for an enclave not in debug mode, and for unknown ones', async () => {
    const r = await cli('console', '--enclave-name', 'prod');
    expect(r.code).toBe(1);
    expect(r.err).toContain('ERR_CONSOLE_NOT_DEBUG_MODE: ');
    expect(r.out).toBe('');
    const ghost = await cli('console', '--enclave-name', 'ghost');
    expect(ghost.code).toBe(1);
    expect(ghost.err).toContain('ERR_ENCLAVE_NOT_FOUND: ');
  });

  it('terminate-enclave by id, then by name; open connections to the enclave are closed', async () => {
    const open = await new DaemonClient(runtimeDir).connect(debugCid, ECHO_PORT);
    open.on('error', () => undefined);
    // A Unix socket cannot carry a reset: the client sees the stream end.
    const ended = new Promise<void>((r) => open.once('end', () => r()));
    open.resume();
    const byId = await cli('terminate-enclave', '--enclave-id', debugId);
    expect(byId.code).toBe(0);
    await ended;
    expect(JSON.parse(byId.out)).toEqual({ EnclaveName: 'dbg', EnclaveID: debugId, Terminated: true });
    expect(byId.err).toBe(`Successfully terminated enclave ${debugId}.\n`);
    const byName = await cli('terminate-enclave', '--enclave-name', 'prod');
    expect(byName.code).toBe(0);
    expect(JSON.parse(byName.out)).toMatchObject({ EnclaveName: 'prod', Terminated: true });
    const again = await cli('terminate-enclave', '--enclave-name', 'prod');
    expect(again.code).toBe(1);
    expect(again.err).toContain('ERR_ENCLAVE_NOT_FOUND: ');
    // As nitro-cli: ended enclaves are gone; their exit reasons are behind --ended.
    expect(JSON.parse((await cli('describe-enclaves')).out)).toEqual([]);
    const list = JSON.parse((await cli('describe-enclaves', '--ended')).out) as Record<string, unknown>[];
    expect(list.map((e) => [e.EnclaveName, e.State, e.ExitReason])).toEqual([
      ['dbg', 'TERMINATED', 'terminated'],
      ['prod', 'TERMINATED', 'terminated'],
    ]);
  });

  it('terminate-enclave --all terminates every enclave and prints one JSON array; describe-enclaves then prints []', async () => {
    for (const name of ['a1', 'a2']) {
      expect((await cli('run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128M', '--cpu-ids', '0', '--enclave-name', name, '--data-dir', dataDir)).code).toBe(0);
    }
    expect((JSON.parse((await cli('describe-enclaves')).out) as unknown[]).length).toBe(2);
    const r = await cli('terminate-enclave', '--all');
    expect(r.code).toBe(0);
    const all = JSON.parse(r.out) as Record<string, unknown>[];
    expect(all.map((o) => [o.EnclaveName, o.Terminated])).toEqual([
      ['a1', true],
      ['a2', true],
    ]);
    expect(r.err.split('\n').filter((l) => l !== '').sort()).toEqual(all.map((o) => `Successfully terminated enclave ${o.EnclaveID as string}.`).sort());
    // The acceptance check: `jq length` of describe-enclaves is 0 after terminate-enclave --all.
    const after = await cli('describe-enclaves');
    expect(after.out).toBe('[]\n');
    expect((await cli('terminate-enclave', '--all')).out).toBe('[]\n');
  });

  it('run-enclave --attach-console prints the run JSON, then the console until the enclave ends', async () => {
    const running = cli('run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128', '--cpu-count', '1', '--attach-console', '--enclave-name', 'att', '--data-dir', dataDir);
    const client = new DaemonClient(runtimeDir);
    await waitFor(async () => (await client.describeEnclaves()).some((e) => e.EnclaveName === 'att' && e.State === 'RUNNING'), 'the attached enclave');
    await new Promise((r) => setTimeout(r, 200));
    await client.terminate({ name: 'att' });
    const r = await running;
    expect(r.code).toBe(0);
    const [runJson, ...rest] = r.out.split(/(?<=^\})\n/m);
    expect(JSON.parse(runJson!)).toMatchObject({ EnclaveName: 'att' });
    expect(rest.join('')).toMatch(new RegExp(`^Connecting to the console for enclave ${(JSON.parse(runJson!) as { EnclaveCID: number }).EnclaveCID}\\.\\.\\.\\nSuccessfully connected to the console\\.\\n`));
    expect(rest.join('')).toContain('console: hello from the test enclave');
    // --attach-console implies debug mode, as nitro-cli documents.
    const d = (await client.describeEndedEnclaves()).find((e) => e.EnclaveName === 'att');
    expect(d?.Flags).toBe('DEBUG_MODE');
  });
});

describe('bad flags and config files', () => {
  const base = (): string[] => ['run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128'];

  it.each([
    ['no CPU option', []],
    ['both CPU options', ['--cpu-count', '1', '--cpu-ids', '0']],
    ['a bad memory size', ['--cpu-count', '1', '--memory', '12X']],
    ['an absurd memory size', ['--cpu-count', '1', '--memory', '999999999999T']],
    ['a bad CPU count', ['--cpu-count', 'two']],
    ['a bad CPU id list', ['--cpu-ids', '0,,1']],
    ['an unknown flag', ['--cpu-count', '1', '--turbo']],
    ['a flag without its value', ['--cpu-count']],
  ])('run-enclave with %s is a usage error (exit 2)', async (_t, extra) => {
    const r = await cli(...base(), ...extra);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Run 'nitro-sandbox run-enclave --help'");
    expect(r.out).toBe('');
  });

  it("--memory takes nitro-cli's size indicators (M, G, T; none = MiB)", () => {
    expect([parseMemory('512'), parseMemory('512M'), parseMemory('512m'), parseMemory('2G'), parseMemory('1t')]).toEqual([512, 512, 512, 2048, 1024 * 1024]);
    for (const bad of ['', 'M', '1.5G', '-1', '1K', '1 G']) expect(() => parseMemory(bad)).toThrow(/--memory/);
  });

  it('missing --eif-path / --memory and an unreadable image are usage errors', async () => {
    expect((await cli('run-enclave', '--memory', '128', '--cpu-count', '1')).code).toBe(2);
    expect((await cli('run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--cpu-count', '1')).code).toBe(2);
    const r = await cli('run-enclave', ...WEAK_FLAGS, '--eif-path', join(tempDir(), 'none.eif'), '--memory', '128', '--cpu-count', '1');
    expect(r.code).toBe(2);
    expect(r.err).toContain('ENOENT');
  });

  it.each([
    ['CID 3 (the parent)', ['--enclave-cid', '3'], 'ERR_VSOCK_INVALID_CID'],
    ['CID 2^32-1', ['--enclave-cid', '4294967295'], 'ERR_VSOCK_INVALID_CID'],
    ['CID 1', ['--enclave-cid', '1'], 'ERR_VSOCK_INVALID_CID'],
    ['too little memory', ['--memory', '1'], 'ERR_INVALID_ARGUMENT'],
    ['more CPUs than the machine has', ['--cpu-count', '999'], 'ERR_INVALID_ARGUMENT'],
    ['a bad enclave name', ['--enclave-name', 'a b'], 'ERR_INVALID_ARGUMENT'],
  ])('run-enclave with %s fails with its code (exit 1)', async (_t, extra, code) => {
    const args = [...base(), '--data-dir', dataDir, ...extra];
    if (!extra.includes('--cpu-count')) args.push('--cpu-count', '1');
    const r = await cli(...args);
    expect(r.code).toBe(1);
    // nitro-cli's format: [ Exx ] (mapped in host/cli/nitro-errors.ts), then our code.
    expect(r.err).toMatch(new RegExp(`\\[ ${NITRO_CLI_ERROR_CODES[code] ?? 'none'} \\] [^\\n]* ${code}: `));
    expect(r.out).toBe('');
  });

  it('a file that is not an image fails with the image error', async () => {
    const f = join(tempDir(), 'junk.eif');
    writeFileSync(f, 'not an image at all');
    const r = await cli('run-enclave', ...WEAK_FLAGS, '--eif-path', f, '--memory', '128', '--cpu-count', '1', '--data-dir', dataDir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\[ E35 \] EIF file parsing error\. ERR_IMAGE_[A-Z_]+: /);
  });

  it('--enclave-cid 0 asks for an automatic CID, as in nitro-cli', async () => {
    const r = await cli(...base(), '--cpu-count', '1', '--enclave-cid', '0', '--enclave-name', 'auto', '--data-dir', dataDir);
    expect(r.code).toBe(0);
    expect(r.err).toContain('auto-generated');
    expect((JSON.parse(r.out) as { EnclaveCID: number }).EnclaveCID).toBeGreaterThan(3);
    expect((await cli('terminate-enclave', '--enclave-name', 'auto')).code).toBe(0);
  });

  const configCases: [string, unknown, string][] = [
    ['an unknown key', { eif_path: 'x', memory_mib: 128, cpu_count: 1, turbo: true }, "unknown key 'turbo'"],
    ['a camelCase key', { eifPath: 'x', memory_mib: 128, cpu_count: 1 }, "unknown key 'eifPath'"],
    ['no eif_path', { memory_mib: 128, cpu_count: 1 }, 'eif_path'],
    ['no memory_mib', { eif_path: 'x', cpu_count: 1 }, 'memory_mib'],
    ['memory as a string', { eif_path: 'x', memory_mib: '128', cpu_count: 1 }, 'memory_mib'],
    ['no CPU key', { eif_path: 'x', memory_mib: 128 }, "one of 'cpu_count' or 'cpu_ids'"],
    ['both CPU keys', { eif_path: 'x', memory_mib: 128, cpu_count: 1, cpu_ids: [0] }, 'cannot be used together'],
    ['debug_mode not a boolean', { eif_path: 'x', memory_mib: 128, cpu_count: 1, debug_mode: 'yes' }, 'debug_mode'],
    ['an array', [1], 'JSON object'],
  ];
  it.each(configCases)('--config with %s is ERR_RUN_CONFIG (exit 1)', async (_t, content, message) => {
    const f = join(tempDir(), 'c.json');
    writeFileSync(f, JSON.stringify(content));
    const r = await cli('run-enclave', '--config', f);
    expect(r.code).toBe(1);
    expect(r.err).toContain('ERR_RUN_CONFIG: ');
    expect(r.err).toContain(message);
  });

  it('--config that is not JSON or missing is ERR_RUN_CONFIG; mixed with flags is a usage error', async () => {
    const f = join(tempDir(), 'c.json');
    writeFileSync(f, '{"eif_path": ');
    expect((await cli('run-enclave', '--config', f)).err).toContain('ERR_RUN_CONFIG: ');
    expect((await cli('run-enclave', '--config', join(tempDir(), 'nope.json'))).err).toContain('ERR_RUN_CONFIG: ');
    const mixed = await cli('run-enclave', '--config', f, '--memory', '128');
    expect(mixed.code).toBe(2);
    expect(mixed.err).toContain('--config cannot be combined with --memory');
  });

  it('terminate-enclave and console need exactly one target and a well-formed id', async () => {
    expect((await cli('terminate-enclave')).code).toBe(2);
    expect((await cli('terminate-enclave', '--all', '--enclave-name', 'x')).code).toBe(2);
    expect((await cli('terminate-enclave', '--enclave-id', 'i-123')).code).toBe(2);
    expect((await cli('console')).code).toBe(2);
    expect((await cli('console', '--all')).code).toBe(2);
    expect((await cli('console', '--enclave-name', 'x', '--disconnect-timeout', '0')).code).toBe(2);
  });

  it('vsock-proxy refuses bad arguments and allowlist files before starting anything', async () => {
    for (const argv of [
      ['x', '127.0.0.1', '443'],
      ['4294967296', '127.0.0.1', '443'],
      ['8000', '127.0.0.1', '0'],
      ['8000', '127.0.0.1', '65536'],
      ['8000', '127.0.0.1', '443', '-4', '-6'],
      ['8000', '127.0.0.1', '443', '-w', '0'],
      ['8000', '127.0.0.1'],
    ]) {
      expect((await cli('vsock-proxy', ...argv)).code).toBe(2);
    }
    const f = join(tempDir(), 'bad.yaml');
    writeFileSync(f, 'allowlist:\n- {address: 127.0.0.1, port: "443"}\n');
    const bad = await cli('vsock-proxy', '8000', '127.0.0.1', '443', '--config', f);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('ERR_VSOCK_PROXY_CONFIG: ');
  });

  it('every command has --help', async () => {
    for (const c of ['run-enclave', 'describe-enclaves', 'terminate-enclave', 'console', 'vsock-proxy']) {
      const r = await cli(c, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: nitro-sandbox ${c}`));
    }
  });

  it('every option a command accepts is named in its --help', async () => {
    for (const entry of commands) {
      const c = await entry.load();
      for (const [name, o] of Object.entries(c.options)) {
        expect(c.help, `${entry.name} --${name}`).toContain(`--${name}`);
        if (o.short !== undefined) expect(c.help, `${entry.name} -${o.short}`).toContain(`-${o.short}`);
      }
    }
  });
});

describe('the daemon process', () => {
  it('outlives the CLI process that started it (run-enclave as its own process)', async () => {
    const rt = join(tempDir('nsbx-cli-host-rt-'), 'rt');
    runtimeDirs.push(rt);
    const r = await cliProcess(['run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128', '--cpu-count', '1', '--enclave-name', 'bg', '--data-dir', dataDir], { NITRO_SANDBOX_RUNTIME_DIR: rt });
    expectQuietStderr(r.err);
    expect(r.code).toBe(0);
    const { ProcessID } = JSON.parse(r.out) as { ProcessID: number };
    // The CLI has exited; the enclave and its daemon are still there.
    const d = await cliProcess(['describe-enclaves'], { NITRO_SANDBOX_RUNTIME_DIR: rt });
    expect((JSON.parse(d.out) as { EnclaveName: string; State: string }[]).map((e) => [e.EnclaveName, e.State])).toEqual([['bg', 'RUNNING']]);
    expect(pidAliveNotZombie(ProcessID)).toBe(true);

    // Shutting the daemon down terminates its enclaves and removes its socket and lock.
    const client = (await findDaemon(rt))!;
    const { pid } = await client.shutdown();
    await waitFor(() => !pidAliveNotZombie(pid) && !pidAliveNotZombie(ProcessID), 'daemon and enclave to end');
    expect(existsSync(runtimePaths(rt).socket)).toBe(false);
    expect(existsSync(runtimePaths(rt).lock)).toBe(false);
    expect(JSON.parse((await cliProcess(['describe-enclaves'], { NITRO_SANDBOX_RUNTIME_DIR: rt })).out)).toEqual([]);
  });

  it('with no daemon running, console and terminate of one enclave are ERR_ENCLAVE_NOT_FOUND, terminate --all prints [], and none starts a daemon', async () => {
    const rt = join(tempDir('nsbx-cli-host-rt-'), 'rt');
    const env = { NITRO_SANDBOX_RUNTIME_DIR: rt };
    const byName = await cliProcess(['console', '--enclave-name', 'nobody'], env);
    expect(byName).toMatchObject({ code: 1, out: '' });
    expect(byName.err).toContain('ERR_ENCLAVE_NOT_FOUND: no running enclave with name nobody (no host daemon is running)');
    const byId = await cliProcess(['terminate-enclave', '--enclave-id', 'i-0123456789abcdef-enc0123456789abcdef'], env);
    expect(byId).toMatchObject({ code: 1, out: '' });
    expect(byId.err).toContain('ERR_ENCLAVE_NOT_FOUND: no running enclave with id i-0123456789abcdef-enc0123456789abcdef (no host daemon is running)');
    expect(await cliProcess(['terminate-enclave', '--all'], env)).toMatchObject({ code: 0, out: '[]\n' });
    expect(await findDaemon(rt)).toBeUndefined();
  });

  it('two concurrent first run-enclaves start one daemon between them', async () => {
    const rt = join(tempDir('nsbx-cli-host-rt-'), 'rt');
    runtimeDirs.push(rt);
    const env = { NITRO_SANDBOX_RUNTIME_DIR: rt };
    const [a, b] = await Promise.all(
      ['c1', 'c2'].map((n) => cliProcess(['run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128', '--cpu-count', '1', '--enclave-name', n, '--data-dir', dataDir], env)),
    );
    expect([a!.code, b!.code]).toEqual([0, 0]);
    const client = (await findDaemon(rt))!;
    expect((await client.describeEnclaves()).map((e) => e.EnclaveName).sort()).toEqual(['c1', 'c2']);
    // Exactly one daemon process serves this runtime directory.
    const daemons = execFileSync('ps', ['-eo', 'pid,args']).toString().split('\n').filter((l) => l.includes('host/daemon/main.ts') && l.includes(rt));
    expect(daemons).toHaveLength(1);
    const { pid } = await client.ping();
    expect(Number(daemons[0]!.trim().split(/\s+/)[0])).toBe(pid);

    // SIGTERM to the daemon terminates its enclaves and removes its socket and lock.
    const enclavePids = (await client.describeEnclaves()).map((e) => e.ProcessID);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !pidAliveNotZombie(pid) && enclavePids.every((p) => !pidAliveNotZombie(p)), 'daemon and enclaves to end');
    expect(existsSync(runtimePaths(rt).socket)).toBe(false);
    expect(existsSync(runtimePaths(rt).lock)).toBe(false);
  });

  it('exits by itself once idle with no enclave, never while an enclave runs', async () => {
    const rt = join(tempDir('nsbx-cli-host-rt-'), 'rt');
    runtimeDirs.push(rt);
    const client = await ensureDaemon({ runtimeDir: rt, dataDir, idleExitMs: 300 });
    const { pid } = await client.ping();
    const run = await client.runEnclave(readFileSync(eif), { memoryMiB: 128, ...WEAK });
    await new Promise((r) => setTimeout(r, 900));
    expect(pidAliveNotZombie(pid)).toBe(true);
    expect((await client.describeEnclaves())[0]?.State).toBe('RUNNING');
    await client.terminate({ id: run.EnclaveID });
    await waitFor(() => !pidAliveNotZombie(pid), 'the idle daemon to exit');
    expect(existsSync(runtimePaths(rt).socket)).toBe(false);
  });

  it('a daemon killed with SIGKILL takes its enclaves with it, and the next run replaces its stale socket and lock', async () => {
    const rt = join(tempDir('nsbx-cli-host-rt-'), 'rt');
    runtimeDirs.push(rt);
    const env = { NITRO_SANDBOX_RUNTIME_DIR: rt };
    const first = await cliProcess(['run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128', '--cpu-count', '1', '--data-dir', dataDir], env);
    expect(first.code).toBe(0);
    const enclavePid = (JSON.parse(first.out) as { ProcessID: number }).ProcessID;
    const oldPid = (await new DaemonClient(rt).ping()).pid;
    process.kill(oldPid, 'SIGKILL');
    await waitFor(() => !pidAliveNotZombie(oldPid), 'the daemon to die');
    // Its socket file and lock are left behind, stale.
    expect(existsSync(runtimePaths(rt).socket)).toBe(true);
    expect(readFileSync(runtimePaths(rt).lock, 'utf8')).toBe(`${oldPid}\n`);
    await waitFor(() => !pidAliveNotZombie(enclavePid), 'the orphaned enclave to end with its channel');
    // Read-only commands see no daemon; they do not start one.
    expect(JSON.parse((await cliProcess(['describe-enclaves'], env)).out)).toEqual([]);
    expect(await findDaemon(rt)).toBeUndefined();

    const second = await cliProcess(['run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128', '--cpu-count', '1', '--enclave-name', 'after', '--data-dir', dataDir], env);
    expectQuietStderr(second.err);
    expect(second.code).toBe(0);
    const ping = await new DaemonClient(rt).ping();
    expect(ping.pid).not.toBe(oldPid);
    expect(readFileSync(runtimePaths(rt).lock, 'utf8')).toBe(`${ping.pid}\n`);
  });

  it('run-enclave warns on stderr when the daemon reports weakened isolation layers (a preferred one without --allow-weaker-isolation too)', async () => {
    // No machine here lacks a layer, so a stand-in daemon speaking the protocol reports one.
    const { createServer } = await import('node:net');
    const rt = join(tempDir('nsbx-cli-host-rt-'), 'rt');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(rt, { mode: 0o700 });
    const id = 'i-0123456789abcdef-enc0123456789abcdef';
    const run = { EnclaveName: 'w', EnclaveID: id, ProcessID: 1, EnclaveCID: 16, NumberOfCPUs: 1, CPUIDs: [0], MemoryMiB: 128 };
    const answers: Record<string, unknown> = {
      ping: { pid: 1, protocol: 1, runtimeDir: rt, dataDir, instanceId: 'i-0123456789abcdef' },
      'run-enclave': run,
      'describe-enclaves': [{ ...run, State: 'RUNNING', Flags: 'NONE', Isolation: { Weakened: ['kernel limits (cgroup): no writable cgroup'] } }],
    };
    const fake = createServer((s) => {
      s.on('error', () => undefined);
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        const nl = buf.indexOf('\n');
        if (nl < 0 || s.writableEnded) return;
        const op = (JSON.parse(buf.slice(0, nl)) as { op: string }).op;
        s.end(`${JSON.stringify({ v: 1, ok: true, result: answers[op] })}\n`);
      });
    });
    await new Promise<void>((r) => fake.listen(runtimePaths(rt).socket, () => r()));
    process.env.NITRO_SANDBOX_RUNTIME_DIR = rt;
    try {
      for (const weaker of [['--allow-weaker-isolation'], []]) {
        const r = await cli('run-enclave', '--eif-path', eif, '--memory', '128', '--cpu-count', '1', ...weaker, '--data-dir', dataDir);
        expect(r.code).toBe(0);
        expect(JSON.parse(r.out)).toEqual(run);
        expect(r.err).toBe(`Start allocating memory...\nStarted enclave with enclave-cid: 16, memory: 128 MiB, cpu-ids: [0]\nwarning: enclave ${id} runs with weaker isolation: kernel limits (cgroup): no writable cgroup\n`);
      }
    } finally {
      process.env.NITRO_SANDBOX_RUNTIME_DIR = runtimeDir;
      fake.close();
    }
  });

  it('a daemon running with another --data-dir is refused rather than silently used', async () => {
    const rt = join(tempDir('nsbx-cli-host-rt-'), 'rt');
    runtimeDirs.push(rt);
    process.env.NITRO_SANDBOX_RUNTIME_DIR = rt;
    try {
      const args = ['run-enclave', ...WEAK_FLAGS, '--eif-path', eif, '--memory', '128', '--cpu-count', '1'];
      expect((await cli(...args, '--enclave-name', 'd1', '--data-dir', dataDir)).code).toBe(0);
      const r = await cli(...args, '--enclave-name', 'd2', '--data-dir', tempDir());
      expect(r.code).toBe(1);
      expect(r.err).toContain('ERR_HOST_DAEMON: ');
      expect(r.err).toContain(dataDir);
    } finally {
      process.env.NITRO_SANDBOX_RUNTIME_DIR = runtimeDir;
    }
  });
});
