// The ways an enclave process can fail before it is ready, each ending it with a recorded reason
// and a typed boot error (ERR_ENCLAVE_BOOT_FAILED), never a hang: a command that cannot start, a
// process that exits or never connects to the boot port, a bootstrap that never reports, and one
// that floods its status stream. The plans are crafted here (a plain `node`, a fake bootstrap) so
// each path is reached directly; test/host/lifecycle.test.ts covers the fates of real enclaves.
// Last, what the host sends on the boot stream when a warm process had an image staged.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnclaveProcess, type ProcessLimits } from '../../host/enclave-process.ts';
import type { LaunchPlan } from '../../host/isolation.ts';
import { repoRoot } from '../enclave/fixtures.ts';

const FAKE_BOOTSTRAP = join(repoRoot, 'test/host/fixtures/fake-bootstrap.ts');
const LIMITS: ProcessLimits = { memoryMiB: 256, hangTimeoutMs: 10_000, bootTimeoutMs: 500, watchdogIntervalMs: 250 };
/**
 * For the fake bootstrap in the case the boot timeout itself decides: it must connect first, which
 * took over 3 s with every core busy, so the connection gets a limit no start-up reaches while the
 * boot (from the image sent to "ready") keeps LIMITS' short one.
 */
const SLOW_BOOT: ProcessLimits = { ...LIMITS, connectTimeoutMs: 60_000 };
/**
 * For cases an event decides (the process exits, floods or reports): a boot timeout no start-up
 * reaches, even with every core busy, where Node alone can take seconds to start.
 */
const EVENT_BOOT: ProcessLimits = { ...LIMITS, bootTimeoutMs: 30_000 };
const IMAGE = new Uint8Array(16);
const procs: EnclaveProcess[] = [];

function plan(command: string, args: readonly string[]): LaunchPlan {
  return {
    launcher: null,
    node: [command, ...args],
    env: {},
    cgroups: null,
    ids: null,
    placement: null,
    memoryMiB: LIMITS.memoryMiB,
    framedBoot: true,
    report: {
      NetworkNamespace: false,
      PidNamespace: false,
      Namespaces: [],
      UserNamespace: false,
      EmptyRoot: false,
      Session: true,
      NoPrivileges: false,
      SyscallFilter: false,
      DescriptorsClosed: false,
      ResourceLimits: {},
      KernelLimits: null,
      PermissionModel: false,
      NodeFlags: [],
      EmptyEnvironment: true,
      StdinClosed: true,
      Descriptors: { '0': '/dev/null', '1': '/dev/null', '2': '/dev/null', '3': 'vsock channel' },
      HeapLimitMiB: 0,
      RssLimitMiB: LIMITS.memoryMiB,
      CpuAffinity: null,
      Weakened: [],
    },
  };
}

function spawnPlan(command: string, args: readonly string[], limits = LIMITS, debug = false, framedBoot = true): EnclaveProcess {
  const base = plan(command, args);
  const p = EnclaveProcess.spawn({ ...base, framedBoot, report: { ...base.report, Descriptors: { ...base.report.Descriptors, '1': debug ? 'console' : '/dev/null' } } }, limits);
  procs.push(p);
  return p;
}

/** The NSM is never reached in these tests. */
const NO_NSM = new Promise<never>(() => undefined);

async function bootFailure(p: EnclaveProcess): Promise<{ code?: string; message: string }> {
  try {
    await p.boot(IMAGE, NO_NSM);
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('boot succeeded');
}

afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill('test over');
    await p.exited;
  }
});

describe('enclave process: failures before ready', () => {
  it('a command that cannot be started ends the process (no exit event comes) and fails the boot', async () => {
    const p = spawnPlan('/nonexistent/enclave-runtime', []);
    const err = await bootFailure(p);
    expect(err.code).toBe('ERR_ENCLAVE_BOOT_FAILED');
    expect(err.message).toMatch(/spawn failed: .*ENOENT/);
    await p.exited;
    expect(p.state).toBe('TERMINATED');
    expect(p.exitReason).toMatch(/^spawn failed: /);
  });

  it('a process that exits before connecting to the boot port fails the boot with its exit', async () => {
    // The exit, not the boot timeout, must end it: on a loaded machine Node can take longer than
    // LIMITS' 500 ms just to start, and the test then saw 'bootstrap did not connect'.
    const p = spawnPlan(process.execPath, ['-e', 'process.exit(3)'], EVENT_BOOT);
    const err = await bootFailure(p);
    expect(err).toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED', message: 'enclave process ended before booting: exited with code 3' });
    await expect(p.waitBootConnection()).rejects.toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED' });
  });

  it('a process that never connects to the boot port is killed after bootTimeoutMs', async () => {
    const p = spawnPlan(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const err = await bootFailure(p);
    expect(err.code).toBe('ERR_ENCLAVE_BOOT_FAILED');
    await p.exited;
    expect(p.exitReason).toBe('bootstrap did not connect');
  });

  it('connectTimeoutMs, when given, is the limit for the connection (bootTimeoutMs then only bounds the boot)', async () => {
    const p = spawnPlan(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { ...LIMITS, bootTimeoutMs: 600_000, connectTimeoutMs: 300 });
    const err = await bootFailure(p);
    expect(err.code).toBe('ERR_ENCLAVE_BOOT_FAILED');
    await p.exited;
    expect(p.exitReason).toBe('bootstrap did not connect');
  });

  it('a bootstrap that takes the image but never reports is killed after bootTimeoutMs', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'silent'], SLOW_BOOT);
    const err = await bootFailure(p);
    expect(err).toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED', message: `enclave boot timed out after ${SLOW_BOOT.bootTimeoutMs} ms` });
    await p.exited;
    expect(p.exitReason).toBe(`boot timed out after ${SLOW_BOOT.bootTimeoutMs} ms`);
  });

  it('a status stream past 64 KiB without a newline is refused and the process killed', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'flood'], EVENT_BOOT);
    const err = await bootFailure(p);
    expect(err).toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED', message: 'enclave bootstrap status line too long' });
    await p.exited;
    expect(p.state).toBe('TERMINATED');
  });

  it('outside debug mode a failure is reported by status and code only, whatever the bootstrap sends', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'tells'], EVENT_BOOT);
    const err = await bootFailure(p);
    expect(err.message).toBe('enclave failed: ERR_APP_SECRET');
    expect(p.exitReason).toBe('failed: ERR_APP_SECRET');
    // A "code" that is free text is not repeated either.
    const q = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'free-code'], EVENT_BOOT);
    expect((await bootFailure(q)).message).toBe('enclave failed: ERR_APP_FAILED');
  });

  it('in debug mode the message is kept (as the console is readable there)', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'tells'], EVENT_BOOT, true);
    expect((await bootFailure(p)).message).toBe('enclave failed: ERR_APP_SECRET: card 4111 1111 1111 1111');
  });

  it('status lines that are not JSON are skipped; the ready after them counts', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'noise'], EVENT_BOOT);
    await p.boot(IMAGE, NO_NSM);
    expect(p.state).toBe('RUNNING');
  });
});

describe('enclave process: an image staged ahead of the run (warm pool)', () => {
  /** What the fake bootstrap saw, as the code of the failure it reports: ERR_IMAGES_<n>. */
  function imagesSeen(p: EnclaveProcess, image: Uint8Array): Promise<string> {
    return p.boot(image, NO_NSM).then(
      () => 'ready',
      (e: unknown) => (e as Error).message,
    );
  }
  const A = new Uint8Array([1, 2, 3, 4, 5]);

  it('without staging, the boot stream carries the one image', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'count'], EVENT_BOOT);
    expect(await imagesSeen(p, A)).toBe('enclave failed: ERR_IMAGES_1');
  });

  it('staged, then booted with the same bytes (another buffer): only the end goes out, the staged image is the one', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'count'], EVENT_BOOT);
    p.stage(Buffer.from(A)); // before the bootstrap connects: sent when it does
    expect(await imagesSeen(p, Uint8Array.from(A))).toBe('enclave failed: ERR_IMAGES_1');
    const q = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'count'], EVENT_BOOT);
    await q.waitBootConnection();
    q.stage(Buffer.from(A)); // after: sent at once
    expect(await imagesSeen(q, A)).toBe('enclave failed: ERR_IMAGES_1');
  });

  it('staged, then booted with other bytes (one byte off): the run image goes out after it, and is the one that runs', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'count'], EVENT_BOOT);
    p.stage(Buffer.from(A));
    const other = Uint8Array.from(A);
    other[4] = 6;
    expect(await imagesSeen(p, other)).toBe('enclave failed: ERR_IMAGES_2');
  });

  it('an image is staged once, before the boot (ERR_ENCLAVE_BOOT_FAILED otherwise)', async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'count'], EVENT_BOOT);
    p.stage(Buffer.from(A));
    expect(() => p.stage(Buffer.from(A))).toThrow(expect.objectContaining({ code: 'ERR_ENCLAVE_BOOT_FAILED' }));
    const q = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'count'], EVENT_BOOT);
    const booted = imagesSeen(q, A);
    await q.waitBootConnection();
    await new Promise((resolve) => setImmediate(resolve));
    expect(() => q.stage(Buffer.from(A))).toThrow(expect.objectContaining({ code: 'ERR_ENCLAVE_BOOT_FAILED' }));
    expect(await booted).toBe('enclave failed: ERR_IMAGES_1');
  });

  it("a bootstrap of an earlier nitro-sandbox (its plan says it reads no frames) gets the raw image, and nothing is staged in it", async () => {
    const p = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'raw'], EVENT_BOOT, false, false);
    expect(() => p.stage(Buffer.from(A))).toThrow(expect.objectContaining({ code: 'ERR_ENCLAVE_BOOT_FAILED' }));
    expect(await imagesSeen(p, A)).toBe(`enclave failed: ERR_BYTES_${A.length}`);
    // The same fake, told the bootstrap reads frames: the length header comes first.
    const q = spawnPlan(process.execPath, [FAKE_BOOTSTRAP, 'raw'], EVENT_BOOT, false, true);
    expect(await imagesSeen(q, A)).toBe(`enclave failed: ERR_BYTES_${A.length + 4}`);
  });
});
