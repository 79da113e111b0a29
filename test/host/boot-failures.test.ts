// The bootstrap reports a failed launch (not a silent exit) when the image it receives is unusable,
// even before it can parse it: oversized here, which the host's own loader would never send.
import { afterAll, describe, expect, it } from 'vitest';
import { AttestationAuthority } from '../../attestation/index.ts';
import { buildImage, loadImage } from '../../enclave/index.ts';
import { EnclaveProcess } from '../../host/enclave-process.ts';
import { planLaunch } from '../../host/isolation.ts';
import { tempDir } from '../attestation/fixtures.ts';
import { join } from 'node:path';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('bootstrap image intake', () => {
  it('an image over the format maximum ends the launch as failed with ERR_VSOCK_READ_TOO_LARGE', async () => {
    const { image } = await buildImage({ entry: join(import.meta.dirname, '..', '..', 'examples', 'echo-server', 'main.ts') });
    const loaded = loadImage(image);
    const plan = planLaunch({
      runtime: loaded.runtime,
      memoryMiB: 256,
      cpuIds: [0],
      debug: false,
      allowWeakerIsolation: true,
      bootstrap: new TextDecoder().decode(loaded.bootstrap),
    });
    const proc = EnclaveProcess.spawn(plan, { memoryMiB: 256, hangTimeoutMs: 10_000, bootTimeoutMs: 20_000, watchdogIntervalMs: 250 });
    const authority = await AttestationAuthority.open({ dataDir: dir.path });
    const device = await authority.createDevice({ moduleId: 'i-0000000000000000-enc0000000000000001', measurements: new Map() });
    await expect(proc.boot(new Uint8Array(65 << 20), device)).rejects.toMatchObject({ code: 'ERR_ENCLAVE_BOOT_FAILED', message: expect.stringMatching(/failed: ERR_VSOCK_READ_TOO_LARGE/) });
    await proc.exited;
    expect(proc.state).toBe('TERMINATED');
  });
});
