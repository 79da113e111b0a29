// Confined builds (issue 13): the bundler reads only the app's project and the dependencies its
// lockfile lists. Every route an app (or a dependency) could take to a host file is tried: absolute
// paths, `../`, symlinks, file: URLs, import attributes choosing the text and JSON loaders,
// require() and import(); the sandbox data directory (its PKI) is refused even inside the project.
// And describe-eif lists the files that went in, checked against openssl's SHA-384.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SandboxPki, toHex } from '../../attestation/index.ts';
import { buildImage, describeImage, measureImage } from '../../enclave/index.ts';
import { ConfinementCheck, confinementFor, packageKey } from '../../enclave/confine.ts';
import { bundleModule } from '../../enclave/bundle.ts';
import { cleanup, examplesDir, fixCrc, repoRoot, tempDir } from './fixtures.ts';

afterAll(cleanup);

/** Writes `files` (path → content) under `dir`, making folders as needed. */
function tree(dir: string, files: Record<string, string>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
}

/** A project folder with a package.json (its root) and an outside folder holding a secret. */
function project(): { root: string; outside: string } {
  const base = tempDir('nsbx-confine-');
  const root = join(base, 'app');
  const outside = join(base, 'outside');
  tree(base, {
    'app/package.json': '{"name":"app","version":"1.0.0"}',
    'outside/secret.txt': 'SECRET-TEXT-0xC0FFEE',
    'outside/secret.json': '{"secret":"SECRET-JSON-0xC0FFEE"}',
    'outside/secret.ts': 'export const secret = "SECRET-TS-0xC0FFEE";',
  });
  return { root, outside };
}

async function refusal(entry: string, extra: { dataDir?: string; projectRoot?: string } = {}): Promise<Record<string, unknown>> {
  const e = (await buildImage({ entry, ...extra }).then(
    () => undefined,
    (err: unknown) => err,
  )) as Record<string, unknown> | undefined;
  expect(e, 'the build should have been refused').toBeDefined();
  return e as Record<string, unknown>;
}

describe('imports of host files outside the project are refused (ERR_BUILD_IMPORT_REFUSED, naming import and importer)', () => {
  const routes: [string, (p: { root: string; outside: string }) => string][] = [
    ['an absolute path with { type: "text" }', (p) => `import s from ${JSON.stringify(join(p.outside, 'secret.txt'))} with { type: 'text' };\nexport default async () => s;\n`],
    ['"../" past the root with { type: "json" }', () => `import s from '../outside/secret.json' with { type: 'json' };\nexport default async () => s;\n`],
    ['a plain "../" module import', () => `import { secret } from '../outside/secret.ts';\nexport default async () => secret;\n`],
    ['a file: URL', (p) => `import s from ${JSON.stringify(`file://${join(p.outside, 'secret.txt')}`)} with { type: 'text' };\nexport default async () => s;\n`],
    ['require() of an absolute path', (p) => `const s = require(${JSON.stringify(join(p.outside, 'secret.json'))});\nexport default async () => s;\n`],
    ['a literal dynamic import()', () => `export default async () => (await import('../outside/secret.ts')).secret;\n`],
  ];
  for (const [what, source] of routes) {
    test(what, async () => {
      const p = project();
      writeFileSync(join(p.root, 'main.ts'), source(p));
      const e = await refusal(join(p.root, 'main.ts'));
      expect(e).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', importer: 'main.ts' });
      expect(String(e.message)).toContain('main.ts');
    });
  }

  test('a symlink inside the project pointing out', async () => {
    const p = project();
    symlinkSync(join(p.outside, 'secret.txt'), join(p.root, 'innocent.txt'));
    writeFileSync(join(p.root, 'main.ts'), "import s from './innocent.txt' with { type: 'text' };\nexport default async () => s;\n");
    const e = await refusal(join(p.root, 'main.ts'));
    expect(e).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', specifier: './innocent.txt', importer: 'main.ts', reason: expect.stringMatching(/outside the project root/) });
  });

  test('a symlinked folder inside the project pointing out', async () => {
    const p = project();
    symlinkSync(p.outside, join(p.root, 'lib'));
    writeFileSync(join(p.root, 'main.ts'), "import { secret } from './lib/secret.ts';\nexport default async () => secret;\n");
    expect(await refusal(join(p.root, 'main.ts'))).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', specifier: './lib/secret.ts' });
  });

  test('the refusal names the importer deep in the project, and --project-root widens nothing it does not contain', async () => {
    const p = project();
    tree(p.root, { 'src/deep/reader.ts': "export { secret } from '../../../outside/secret.ts';\n", 'main.ts': "export { secret as default } from './src/deep/reader.ts';\n" });
    expect(await refusal(join(p.root, 'main.ts'))).toMatchObject({ importer: 'src/deep/reader.ts', specifier: '../../../outside/secret.ts' });
    // With the project root moved up to include outside/, the same import is the project's own.
    const ok = await buildImage({ entry: join(p.root, 'main.ts'), projectRoot: join(p.root, '..') });
    expect(ok.manifest.files.application.map((f) => f.path)).toEqual(['app/main.ts', 'app/src/deep/reader.ts', 'outside/secret.ts']);
  });

  test('an entry outside the given project root is ERR_BUILD_INVALID_OPTION', async () => {
    const p = project();
    writeFileSync(join(p.outside, 'main.ts'), 'export default async () => 1;\n');
    await expect(buildImage({ entry: join(p.outside, 'main.ts'), projectRoot: p.root })).rejects.toMatchObject({ code: 'ERR_BUILD_INVALID_OPTION' });
  });

  test('Node built-ins stay importable (the enclave permission model confines them at run time)', async () => {
    const p = project();
    writeFileSync(join(p.root, 'main.ts'), "import { createHash } from 'node:crypto';\nimport fs from 'fs';\nexport default async () => [createHash, fs];\n");
    await expect(buildImage({ entry: join(p.root, 'main.ts') })).resolves.toBeDefined();
  });
});

describe('the sandbox data directory (PKI) is never readable by a build', () => {
  test('outside the project: refused (acceptance: an app importing the PKI files fails to build)', async () => {
    const p = project();
    const data = join(p.outside, 'data');
    await SandboxPki.open({ dataDir: data });
    for (const f of ['pki/root.pem', 'pki/root.json', 'custody/seal.key']) {
      writeFileSync(join(p.root, 'main.ts'), `import s from ${JSON.stringify(join(data, f))} with { type: 'text' };\nexport default async () => s;\n`);
      expect(await refusal(join(p.root, 'main.ts'), { dataDir: data })).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED' });
    }
  });

  test('inside the project, named as the data directory: refused', async () => {
    const p = project();
    const data = join(p.root, '.nitro-sandbox');
    await SandboxPki.open({ dataDir: data });
    writeFileSync(join(p.root, 'main.ts'), "import s from './.nitro-sandbox/pki/root.json' with { type: 'json' };\nexport default async () => s;\n");
    const e = await refusal(join(p.root, 'main.ts'), { dataDir: data });
    expect(e).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', reason: expect.stringMatching(/sandbox data directory/) });
  });

  test('inside the project, not named (another NITRO_SANDBOX_HOME): refused by its marker', async () => {
    const p = project();
    await SandboxPki.open({ dataDir: join(p.root, 'state') });
    writeFileSync(join(p.root, 'main.ts'), "import s from './state/custody/seal.key' with { type: 'binary' };\nexport default async () => s;\n");
    const e = await refusal(join(p.root, 'main.ts'));
    expect(e).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', reason: expect.stringMatching(/\.nitro-sandbox-data/) });
  });

  test('an app whose own sources lie in the data directory cannot read its PKI either', async () => {
    const p = project();
    const data = join(p.outside, 'data');
    await SandboxPki.open({ dataDir: data });
    tree(data, { 'app/package.json': '{"name":"inside"}', 'app/main.ts': "import s from '../pki/root.json' with { type: 'json' };\nexport default async () => s;\n" });
    // Even the entry itself is refused, before anything it imports.
    expect(await refusal(join(data, 'app', 'main.ts'))).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', specifier: join(data, 'app', 'main.ts') });
    expect(await refusal(join(data, 'app', 'main.ts'), { dataDir: data, projectRoot: data })).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED' });
  });
});

describe('dependencies are bundled from the lockfile tree only', () => {
  const LOCK = (packages: Record<string, unknown>) => JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages: { '': { name: 'app' }, ...packages } });
  function withDep(lock: string | undefined, installed = '1.0.0'): string {
    const p = project();
    tree(p.root, {
      'node_modules/dep/package.json': JSON.stringify({ name: 'dep', version: installed, main: 'index.js' }),
      'node_modules/dep/index.js': "exports.x = require('inner');\n",
      'node_modules/dep/node_modules/inner/package.json': JSON.stringify({ name: 'inner', version: '2.0.0', main: 'i.js' }),
      'node_modules/dep/node_modules/inner/i.js': 'module.exports = 42;\n',
      'main.ts': "import { x } from 'dep';\nexport default async () => x;\n",
    });
    if (lock !== undefined) writeFileSync(join(p.root, 'package-lock.json'), lock);
    return join(p.root, 'main.ts');
  }

  test('listed with matching versions (nested too): builds, and the file list names them', async () => {
    const r = await buildImage({ entry: withDep(LOCK({ 'node_modules/dep': { version: '1.0.0' }, 'node_modules/dep/node_modules/inner': { version: '2.0.0' } })) });
    expect(r.manifest.files.application.map((f) => f.path)).toEqual([
      'main.ts',
      'node_modules/dep/index.js',
      'node_modules/dep/node_modules/inner/i.js',
    ]);
  });

  test('no lockfile: refused', async () => {
    expect(await refusal(withDep(undefined))).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', specifier: 'dep', reason: expect.stringMatching(/no package-lock\.json/) });
  });

  test('a package the lockfile does not list (here the nested one): refused, naming it', async () => {
    const e = await refusal(withDep(LOCK({ 'node_modules/dep': { version: '1.0.0' } })));
    expect(e).toMatchObject({ specifier: 'inner', importer: 'node_modules/dep/index.js', reason: expect.stringMatching(/node_modules\/dep\/node_modules\/inner is not in package-lock\.json/) });
  });

  test('another version than the lockfile records: refused', async () => {
    const e = await refusal(withDep(LOCK({ 'node_modules/dep': { version: '1.0.0' }, 'node_modules/dep/node_modules/inner': { version: '2.0.0' } }), '1.0.1'));
    expect(e).toMatchObject({ specifier: 'dep', reason: expect.stringMatching(/version 1\.0\.1, but package-lock\.json records 1\.0\.0/) });
  });

  test('a listed dependency reaching out of the project: refused, naming the dependency as importer', async () => {
    const p = project();
    tree(p.root, {
      'node_modules/evil/package.json': '{"name":"evil","version":"1.0.0","main":"index.js"}',
      'node_modules/evil/index.js': "module.exports = require('../../../outside/secret.json');\n",
      'package-lock.json': LOCK({ 'node_modules/evil': { version: '1.0.0' } }),
      'main.ts': "import evil from 'evil';\nexport default async () => evil;\n",
    });
    expect(await refusal(join(p.root, 'main.ts'))).toMatchObject({ importer: 'node_modules/evil/index.js', specifier: '../../../outside/secret.json' });
  });

  test('packageKey follows npm lockfile keys', () => {
    expect(packageKey(join('node_modules', 'a', 'x.js'))).toBe('node_modules/a');
    expect(packageKey(join('node_modules', '@s', 'b', 'lib', 'x.js'))).toBe('node_modules/@s/b');
    expect(packageKey(join('node_modules', 'a', 'node_modules', '@s', 'c', 'x.js'))).toBe('node_modules/a/node_modules/@s/c');
    expect(packageKey(join('packages', 'w', 'node_modules', 'd', 'x.js'))).toBe('packages/w/node_modules/d');
    expect(packageKey(join('node_modules', 'x.js'))).toBeUndefined();
    expect(packageKey(join('node_modules', '.bin', 'x'))).toBeUndefined();
    expect(packageKey(join('src', 'x.ts'))).toBeUndefined();
  });

  test("the repository's own example with an npm dependency builds from package-lock.json", async () => {
    const r = await buildImage({ entry: join(examplesDir, 'conditional-decrypt', 'aws-sdk.ts') });
    const deps = r.manifest.files.application.filter((f) => f.path.startsWith('node_modules/'));
    expect(deps.length).toBeGreaterThan(50);
    expect(deps.some((f) => f.path.startsWith('node_modules/@aws-sdk/client-kms/'))).toBe(true);
  });
});

describe('describe-eif lists the files that went into the image', () => {
  let files: { Application: { Path: string; Sha384: string }[]; Bootstrap: { Path: string; Sha384: string }[] };
  beforeAll(async () => {
    const { image } = await buildImage({ entry: join(examplesDir, 'hello', 'main.ts') });
    files = describeImage(image).Files as typeof files;
  });

  test('paths relative to the project root (here the repository), SHA-384 as openssl computes it', () => {
    expect(files.Application.map((f) => f.Path)).toEqual(['examples/hello/greeting.ts', 'examples/hello/main.ts']);
    for (const f of files.Application) {
      const out = execFileSync('openssl', ['dgst', '-sha384', '-r', join(repoRoot, f.Path)]).toString();
      expect(f.Sha384).toBe(out.split(' ')[0]);
    }
  });

  test('the bootstrap (PCR1) is listed too, relative to the nitro-sandbox package', () => {
    const paths = files.Bootstrap.map((f) => f.Path);
    expect(paths).toContain('enclave/boot.ts');
    expect(paths).toContain('enclave/bootstrap.ts');
    for (const f of files.Bootstrap) expect(f.Sha384).toBe(execFileSync('openssl', ['dgst', '-sha384', '-r', join(repoRoot, f.Path)]).toString().split(' ')[0]);
    for (const p of paths) expect(relative(repoRoot, join(repoRoot, p)).startsWith('..')).toBe(false);
  });

  test('the list is in the manifest, outside every PCR as EIF metadata: editing an entry moves no PCR (audit by rebuilding)', async () => {
    const { image, measurements } = await buildImage({ entry: join(examplesDir, 'hello', 'main.ts') });
    const text = Buffer.from(image).toString('latin1');
    const sha = files.Application[0]!.Sha384;
    const at = text.indexOf(`"sha384":"${sha}"`) + '"sha384":"'.length;
    expect(at).toBeGreaterThan(10);
    const edited = new Uint8Array(image);
    edited[at] = sha[0] === 'a' ? 0x62 : 0x61; // another hex digit: the manifest stays canonical
    fixCrc(edited);
    const m = measureImage(edited);
    expect([toHex(m.pcr0), toHex(m.pcr1), toHex(m.pcr2)]).toEqual([toHex(measurements.pcr0), toHex(measurements.pcr1), toHex(measurements.pcr2)]);
    expect((describeImage(edited).Files as typeof files).Application[0]!.Sha384).not.toBe(sha);
  });

});

describe('the check after the build, a layer of its own', () => {
  // The plugin checks each import when esbuild resolves it; esbuild reads the file afterwards. A
  // file swapped for a symlink to a host file in between would be read through it: the check of
  // every file esbuild read (its metafile), after the build, is what catches that. The race is
  // made deterministic here: the check the plugin calls swaps the file the moment it accepts it.
  test('a file swapped for a symlink out of the project after the plugin accepted it: refused after the build (ERR_BUILD_IMPORT_REFUSED, as a bundle input)', async () => {
    const p = project();
    tree(p.root, { 'main.ts': "import { secret } from './dep.ts';\nexport default async () => secret;\n", 'dep.ts': 'export const secret = "harmless";\n' });
    const dep = join(p.root, 'dep.ts');
    const check = new ConfinementCheck(confinementFor(join(p.root, 'main.ts'), undefined, []));
    const accepted: string[] = [];
    const real = check.check.bind(check);
    check.check = (path: string) => {
      const why = real(path);
      if (why === undefined) accepted.push(relative(p.root, path));
      if (path === dep && accepted.filter((a) => a === 'dep.ts').length === 1) {
        unlinkSync(dep);
        symlinkSync(join(p.outside, 'secret.ts'), dep);
      }
      return why;
    };
    const err = (await bundleModule(join(p.root, 'main.ts'), { workingDir: p.root, filesRelativeTo: p.root, confine: check }).then(
      () => undefined,
      (e: unknown) => e,
    )) as Record<string, unknown> | undefined;
    // The plugin accepted both files; the check after the build refused what was read through the link.
    expect(accepted).toEqual(['main.ts', 'dep.ts']);
    expect(err).toMatchObject({ code: 'ERR_BUILD_IMPORT_REFUSED', specifier: 'dep.ts', importer: '(bundle input)' });
    expect(String(err?.message)).toContain('outside the project root');
  });

  test('without the swap the same build passes both checks (the test above fails for the swap, not the setup)', async () => {
    const p = project();
    tree(p.root, { 'main.ts': "import { secret } from './dep.ts';\nexport default async () => secret;\n", 'dep.ts': 'export const secret = "harmless";\n' });
    const check = new ConfinementCheck(confinementFor(join(p.root, 'main.ts'), undefined, []));
    const b = await bundleModule(join(p.root, 'main.ts'), { workingDir: p.root, filesRelativeTo: p.root, confine: check });
    expect(b.files.map((f) => f.path)).toEqual(['dep.ts', 'main.ts']);
  });
});
