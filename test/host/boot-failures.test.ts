// The bootstrap reports a failed launch (not a silent exit) when the image it receives is unusable,
// even before it can parse it: oversized here, which the host's own loader would never send; and
// when an image staged in a waiting process (the warm pool) is one it refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationAuthority, type NsmDevice } from '../../attestation/index.ts';
import { buildImage, loadImage } from '../../enclave/index.ts';
import { EnclaveProcess } from '../../host/enclave-process.ts';
import { planLaunch, type LaunchPlan } from '../../host/isolation.ts';
import { tempDir } from '../attestation/fixtures.ts';
import { join } from 'node:path';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('bootstrap image intake', () => {
  let plan: LaunchPlan;
  let device: NsmDevice;
  beforeAll(async () => {
    const { image } = await buildImage({ entry: join(import.meta.dirname, '..', '..', 'examples', 'echo-server', 'main.ts') });
    const loaded = loadImage(image);
    plan = planLaunch({
      runtime: loaded.runtime,
      memoryMiB: 256,
      cpuIds: [0],
      debug: false,
      allowWeakerIsolation: true,
      bootstrap: new TextDecoder().decode(loaded.bootstrap),
    });
    const authority = await AttestationAuthority.open({ dataDir: dir.path });
    device = await authority.createDevice({ moduleId: 'i-0000000000000000-enc0000000000000001', measurements: new Map() });
  });
  const spawn = () => EnclaveProcess.spawn(plan, { memoryMiB: 256, hangTimeoutMs: 10_000, bootTimeoutMs: 20_000, watchdogIntervalMs: 250 });

  it('an image over the format maximum ends the launch as failed with ERR_IMAGE_TOO_LARGE, from its frame header', async () => {
    const proc = spawn();
    await expect(proc.boot(new Uint8Array(65 << 20), device)).rejects.toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED', message: expect.stringMatching(/failed: ERR_IMAGE_TOO_LARGE/) });
    await proc.exited;
    expect(proc.state).toBe('TERMINATED');
  });

  it('a staged image the bootstrap refuses ends the process as failed before any run takes it', async () => {
    const proc = spawn();
    proc.stage(Buffer.from('not an image at all'));
    await proc.exited;
    expect(proc.exitReason).toBe('failed: ERR_IMAGE_BAD_MAGIC');
    // Taken anyway, it fails at once with the reason (not at the boot timeout).
    await expect(proc.boot(new Uint8Array(16), device)).rejects.toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED', message: 'enclave process ended before booting: failed: ERR_IMAGE_BAD_MAGIC' });
  });
});
