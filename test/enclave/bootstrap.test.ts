// The bootstrap: verifies the image, evaluates the app from memory (no disk) and calls its
// `export default async function main(ctx)`. Run in-process, and once for real: enclave/bootstrap.ts
// bundled by esbuild and evaluated from a data: URL in a child `node` started with exactly the
// measured flags (launchArgs) and an empty environment, the image arriving on stdin. (The process
// entry that wires this to the vsock channel, enclave/boot.ts, runs in every host and example test.)
import { afterAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { buildImage, launchArgs, loadImage, prepareEnclave, runPrepared, startEnclave, type BuildResult } from '../../enclave/index.ts';
import { build } from 'esbuild';
import { cleanup, examplesDir, fixCrc, repoRoot, tempDir, writeFile } from './fixtures.ts';

afterAll(cleanup);

async function buildSource(source: string, name = 'app.ts'): Promise<BuildResult> {
  return buildImage({ entry: writeFile(tempDir(), name, source) });
}

describe('startEnclave (in-process)', () => {
  test('runs examples/echo: main receives the image info and the host services, its result comes back', async () => {
    const { image } = await buildImage({ entry: join(examplesDir, 'echo', 'main.ts'), vsockPorts: [5005], version: '3.0' });
    const result = await startEnclave(image, { message: 'ping' });
    expect(result).toEqual({
      self: 'echo 3.0 listening on vsock 5005',
      echo: 'ping',
      sha384: createHash('sha384').update('ping').digest('hex'),
    });
  });

  test('prepareEnclave checks the image synchronously (as a warm process does while it waits); runPrepared then runs it', async () => {
    const { image } = await buildImage({ entry: join(examplesDir, 'echo', 'main.ts'), vsockPorts: [5005], version: '3.1' });
    expect(() => prepareEnclave(image, { nodeVersion: 'v25.0.0' })).toThrow(expect.objectContaining({ code: 'ERR_RUNTIME_MISMATCH' }));
    expect(() => prepareEnclave(image.subarray(0, 100))).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_TRUNCATED' }));
    const prepared = prepareEnclave(image);
    expect(prepared.info).toMatchObject({ version: '3.1', vsockPorts: [5005] });
    await expect(runPrepared(prepared, { message: 'pong' })).resolves.toMatchObject({ self: 'echo 3.1 listening on vsock 5005', echo: 'pong' });
  });

  test('the context is frozen and carries image.name/version/metadata/vsockPorts/memoryMiB/cpuCount', async () => {
    const { image } = await buildSource(
      'export default async function main(ctx) { "use strict"; let frozen = false; try { ctx.x = 1; } catch { frozen = true; } return { frozen, image: ctx.image, svc: ctx.svc }; }',
    );
    const r = (await startEnclave(image, { svc: 42 })) as { frozen: boolean; image: Record<string, unknown>; svc: number };
    expect(r.frozen).toBe(true);
    expect(r.svc).toBe(42);
    expect(r.image).toEqual({ name: 'app', version: '1.0', metadata: {}, vsockPorts: [], memoryMiB: 512, cpuCount: 2 });
  });

  test('an app without a default export is ERR_APP_ENTRY_POINT', async () => {
    const { image } = await buildSource('export const main = async () => 1;');
    await expect(startEnclave(image, {})).rejects.toMatchObject({ code: 'ERR_APP_ENTRY_POINT' });
  });

  test('an app that throws while being evaluated is ERR_APP_LOAD, with the app error as cause', async () => {
    const { image } = await buildSource('throw new Error("boom at load");\nexport default async () => 1;');
    const err = await startEnclave(image, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_APP_LOAD' });
    expect(((err as Error).cause as Error).message).toBe('boom at load');
  });

  test('an image built for another Node is refused (ERR_RUNTIME_MISMATCH) and the app never runs', async () => {
    const { image } = await buildSource('globalThis.__ranMismatch = true; export default async () => 1;');
    await expect(startEnclave(image, {}, { nodeVersion: 'v25.0.0' })).rejects.toMatchObject({ code: 'ERR_RUNTIME_MISMATCH' });
    expect((globalThis as Record<string, unknown>).__ranMismatch).toBeUndefined();
  });

  test('a damaged image is refused before the app is evaluated', async () => {
    const { image } = await buildSource('globalThis.__ranDamaged = true; export default async () => 1;');
    const x = new Uint8Array(image);
    x[x.length - 1] = (x[x.length - 1] ?? 0) ^ 1;
    await expect(startEnclave(x, {})).rejects.toMatchObject({ code: 'ERR_IMAGE_BAD_CHECKSUM' });
    const y = new Uint8Array(image);
    y[0] = 0;
    await expect(startEnclave(fixCrc(y), {})).rejects.toMatchObject({ code: 'ERR_IMAGE_BAD_MAGIC' });
    expect((globalThis as Record<string, unknown>).__ranDamaged).toBeUndefined();
  });
});

describe('the bundled bootstrap in an isolated process (node --permission, no grants, empty env)', () => {
  test('loads the app from the image on stdin; the app can use node:crypto but not the disk, env or child processes', async () => {
    const app = `
      import { createHash } from 'node:crypto';
      import { readFileSync } from 'node:fs';
      import { execSync } from 'node:child_process';
      const denied = (f) => { try { f(); return 'allowed'; } catch (e) { return e.code ?? String(e); } };
      export default async function main(ctx) {
        return {
          name: ctx.image.name,
          hash: createHash('sha384').update('x').digest('hex').slice(0, 16),
          readFile: denied(() => readFileSync('/etc/hostname')),
          spawn: denied(() => execSync('true')),
          envKeys: Object.keys(process.env).length,
          permission: process.permission.has('fs.read'),
        };
      }`;
    const { image } = await buildSource(app, 'isolated.ts');
    const loaded = loadImage(image);
    const bundled = await build({
      entryPoints: [join(repoRoot, 'enclave', 'bootstrap.ts')], absWorkingDir: repoRoot, bundle: true, format: 'esm',
      platform: 'node', target: 'node26', write: false, outfile: 'bootstrap.js', logLevel: 'silent', tsconfigRaw: {},
    });
    const bootstrap = bundled.outputFiles[0]?.contents ?? new Uint8Array(0);
    // The host's side, in miniature (issue 5 wires it to the channel): evaluate the bootstrap
    // from memory, hand it the image, print what main returned.
    const host = `
      const boot = await import('data:text/javascript;base64,' + process.argv[1]);
      const chunks = []; for await (const c of process.stdin) chunks.push(c);
      const result = await boot.startEnclave(new Uint8Array(Buffer.concat(chunks)), {});
      process.stdout.write(JSON.stringify(result));`;
    const args = [...launchArgs(loaded.runtime, 128), '--input-type=module', '-e', host, Buffer.from(bootstrap).toString('base64')];
    expect(args.slice(0, 4)).toEqual(['--permission', '--no-experimental-sqlite', '--no-concurrent-recompilation', '--max-old-space-size=96']);
    const out = execFileSync(process.execPath, args, { input: image, env: {}, timeout: 20_000 }).toString();
    expect(JSON.parse(out)).toEqual({
      name: 'isolated',
      hash: createHash('sha384').update('x').digest('hex').slice(0, 16),
      readFile: 'ERR_ACCESS_DENIED',
      spawn: 'ERR_ACCESS_DENIED',
      envKeys: 0,
      permission: false,
    });
  });
});
