// Building and measuring images: reproducibility (acceptance: identical bytes and PCRs from two
// temporary directories, no timestamp or path inside), which PCRs a change moves, signing and
// PCR8, and PCRs checked against independent computations (node:crypto over offsets taken from
// IMAGE_FORMAT.md, and the openssl binary).
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../attestation/index.ts';
import {
  DEFAULT_ISOLATION,
  SECTION,
  buildImage,
  bundledBootstrap,
  launchArgs,
  loadImage,
  measureImage,
  pcr8FromCertificate,
  type BuildResult,
} from '../../enclave/index.ts';
import {
  cleanup,
  copyExample,
  examplesDir,
  expectedPcrs,
  opensslCert,
  pcrOf,
  pcrWithOpenssl,
  repoRoot,
  sectionData,
  sections,
  tempDir,
  writeFile,
  type RawSection,
  type SigningPair,
} from './fixtures.ts';

const hex = (r: BuildResult): Record<string, string | undefined> => ({
  pcr0: toHex(r.measurements.pcr0),
  pcr1: toHex(r.measurements.pcr1),
  pcr2: toHex(r.measurements.pcr2),
  pcr8: r.measurements.pcr8 && toHex(r.measurements.pcr8),
});

let keys: SigningPair;
let otherKeys: SigningPair;
beforeAll(() => {
  const d = tempDir();
  keys = opensslCert(d, 'signer-a');
  otherKeys = opensslCert(d, 'signer-b');
});
afterAll(cleanup);

describe('reproducible builds (acceptance: identical bytes and PCRs, no timestamp or path)', () => {
  for (const app of ['hello', 'echo']) {
    test(`examples/${app} copied into two temp dirs at different depths builds to identical bytes`, async () => {
      const a = tempDir('nsbx-repro-a-');
      const b = tempDir('nsbx-repro-b-');
      const ra = await buildImage({ entry: copyExample(app, a) });
      const rb = await buildImage({ entry: copyExample(app, b, 'deeper', 'still') });
      expect(Buffer.from(ra.image).equals(Buffer.from(rb.image))).toBe(true);
      expect(hex(ra)).toEqual(hex(rb));
      // …and the same as the copy in the repository: nothing depends on where the sources live.
      const rr = await buildImage({ entry: join(examplesDir, app, 'main.ts') });
      expect(Buffer.from(rr.image).equals(Buffer.from(ra.image))).toBe(true);

      const text = Buffer.from(ra.image).toString('latin1');
      const now = new Date();
      const leaks = [a, b, repoRoot, tmpdir(), homedir(), process.cwd(), hostname(), userInfo().username, String(now.getUTCFullYear())];
      for (const leak of leaks) expect(text.includes(leak), `image contains '${leak}'`).toBe(false);
      // No ISO date, no epoch-seconds or epoch-milliseconds of today.
      expect(text).not.toMatch(/\b(19|20)\d\d-[01]\d-[0-3]\d/);
      expect(text).not.toContain(String(Math.floor(now.getTime() / 1e5)));
      expect(text).not.toContain(String(Math.floor(now.getTime() / 1e8)));
    });
  }

  test('the clock does not matter: a build with the date set to 2031 is byte-identical', async () => {
    const entry = join(examplesDir, 'echo', 'main.ts');
    const now = (await buildImage({ entry })).image;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2031-06-01T12:00:00Z'));
      const later = (await buildImage({ entry })).image;
      expect(Buffer.from(later).equals(Buffer.from(now))).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  test('the working directory does not matter: the CLI run from two directories writes identical images', () => {
    const d = tempDir('nsbx-cwd-');
    copyExample('hello', d, 'one');
    const cli = join(repoRoot, 'bin', 'nitro-sandbox.js');
    const env = { PATH: process.env.PATH ?? '' };
    execFileSync(process.execPath, [cli, 'build-enclave', '--entry', 'main.ts', '--output-file', join(d, 'a.eif')], { cwd: join(d, 'one', 'hello'), env, stdio: 'ignore' });
    execFileSync(process.execPath, [cli, 'build-enclave', '--entry', 'one/hello/main.ts', '--output-file', join(d, 'b.eif')], { cwd: d, env, stdio: 'ignore' });
    expect(readFileSync(join(d, 'a.eif')).equals(readFileSync(join(d, 'b.eif')))).toBe(true);
  });

  test('the bootstrap bundle is the same bytes on every build and names repository-relative paths only', async () => {
    const boot = Buffer.from(await bundledBootstrap()).toString('utf8');
    expect(boot).toContain('// enclave/bootstrap.ts');
    expect(boot).not.toContain(repoRoot);
    const r = await buildImage({ entry: join(examplesDir, 'hello', 'main.ts') });
    expect(Buffer.from(sectionData(r.image, SECTION.BOOTSTRAP)).toString('utf8')).toBe(boot);
  });
});

describe('PCRs (reference/nitro.md: PCRx = extend(0⁴⁸, SHA384(what it covers)))', () => {
  test('PCR0/1/2 equal independent computations over the ranges IMAGE_FORMAT.md defines', async () => {
    const r = await buildImage({ entry: join(examplesDir, 'echo', 'main.ts'), vsockPorts: [5005] });
    const want = expectedPcrs(r.image);
    expect(hex(r)).toEqual({ ...want, pcr8: undefined });
    expect(toHex(measureImage(r.image).pcr0)).toBe(want.pcr0);
    // Cross-check with the openssl binary for PCR0, the PCR a key policy usually names: the data
    // of RUNTIME, BOOTSTRAP and APPLICATION, concatenated without their section headers.
    const [rt, bs, app] = sections(r.image) as [RawSection, RawSection, RawSection];
    const data = Buffer.concat([rt, bs, app].map((x) => r.image.subarray(x.dataStart, x.end)));
    expect(pcrWithOpenssl(data)).toBe(want.pcr0);
  });

  test('a one-character change in app code moves PCR0 and PCR2 only', async () => {
    const d = tempDir();
    const entry = copyExample('hello', d);
    const before = hex(await buildImage({ entry }));
    const src = join(d, 'hello', 'greeting.ts');
    writeFileSync(src, readFileSync(src, 'utf8').replace('hello from', 'hellO from'));
    const after = hex(await buildImage({ entry }));
    expect(after.pcr0).not.toBe(before.pcr0);
    expect(after.pcr2).not.toBe(before.pcr2);
    expect(after.pcr1).toBe(before.pcr1);
  });

  test('comments and unused exports are not code: esbuild drops them and every PCR stays', async () => {
    const d = tempDir();
    const entry = copyExample('hello', d);
    const before = hex(await buildImage({ entry }));
    appendFileSync(join(d, 'hello', 'greeting.ts'), '\n// a comment\nexport const unused = 1;\n');
    expect(hex(await buildImage({ entry }))).toEqual(before);
  });

  test('a change of isolation flags moves PCR0 and PCR1 only', async () => {
    const entry = join(examplesDir, 'hello', 'main.ts');
    const base = hex(await buildImage({ entry }));
    const flags = hex(await buildImage({ entry, isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--disable-proto=throw'] } }));
    expect(flags.pcr0).not.toBe(base.pcr0);
    expect(flags.pcr1).not.toBe(base.pcr1);
    expect(flags.pcr2).toBe(base.pcr2);
    // Other parts of the isolation are measured the same way.
    const layers = hex(await buildImage({ entry, isolation: { ...DEFAULT_ISOLATION, layers: { networkNamespace: 'required', cpuAffinity: 'preferred' } } }));
    expect(layers.pcr1).not.toBe(base.pcr1);
    expect(layers.pcr2).toBe(base.pcr2);
    const heap = hex(await buildImage({ entry, isolation: { ...DEFAULT_ISOLATION, heapPercentOfMemory: 50 } }));
    expect(heap.pcr1).not.toBe(base.pcr1);
  });

  test('renaming an image or changing its manifest (version, metadata, ports, resources) leaves PCR0–2 unchanged, as EIF metadata', async () => {
    const entry = join(examplesDir, 'hello', 'main.ts');
    const base = await buildImage({ entry });
    for (const opts of [{ name: 'other' }, { version: '9.9' }, { metadata: { team: 'x' } }, { vsockPorts: [5000] }, { memoryMiB: 1024 }, { cpuCount: 1 }]) {
      const other = await buildImage({ entry, ...opts });
      // The manifest did change (the image bytes differ), but no PCR covers it.
      expect(Buffer.from(other.image).equals(Buffer.from(base.image)), JSON.stringify(opts)).toBe(false);
      expect(hex(other), JSON.stringify(opts)).toEqual(hex(base));
    }
  });

  test('metadata key order does not matter: the manifest is canonical JSON', async () => {
    const entry = join(examplesDir, 'hello', 'main.ts');
    const a = await buildImage({ entry, metadata: { b: 1, a: { y: [1, 2], x: 'z' } } });
    const b = await buildImage({ entry, metadata: { a: { x: 'z', y: [1, 2] }, b: 1 } });
    expect(Buffer.from(a.image).equals(Buffer.from(b.image))).toBe(true);
    expect(Buffer.from(sectionData(a.image, SECTION.MANIFEST)).toString()).toContain('"metadata":{"a":{"x":"z","y":[1,2]},"b":1}');
  });

  test('the runtime section records process.version and the exact flags; launchArgs reads them back', async () => {
    const isolation = { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--disable-proto=throw'] };
    const r = await buildImage({ entry: join(examplesDir, 'hello', 'main.ts'), isolation });
    const rt = JSON.parse(Buffer.from(sectionData(r.image, SECTION.RUNTIME)).toString()) as { node: string };
    expect(rt.node).toBe(process.version);
    const loaded = loadImage(r.image);
    expect(loaded.runtime.isolation).toEqual(isolation);
    expect(launchArgs(loaded.runtime, 512)).toEqual(['--permission', '--disable-proto=throw', '--max-old-space-size=384']);
    expect(() => launchArgs(loaded.runtime, 16)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('signing (PCR8 = extend(0⁴⁸, SHA384(certificate DER)))', () => {
  test('signing adds PCR8 and leaves PCR0–2 as they were', async () => {
    const entry = join(examplesDir, 'echo', 'main.ts');
    const plain = hex(await buildImage({ entry }));
    const signed = await buildImage({ entry, signing: { certificate: keys.certPem, privateKey: keys.keyPem } });
    const h = hex(signed);
    expect(plain.pcr8).toBeUndefined();
    expect({ ...h, pcr8: undefined }).toEqual(plain);
    // PCR8 from the DER that openssl itself produces.
    const der = (await import('node:child_process')).execFileSync('openssl', ['x509', '-in', keys.certPath, '-outform', 'DER']);
    expect(h.pcr8).toBe(pcrOf(der));
    expect(h.pcr8).toBe(pcrWithOpenssl(der));
    expect(toHex(pcr8FromCertificate(keys.certPem))).toBe(h.pcr8);
    expect(toHex(measureImage(signed.image).pcr8 as Uint8Array)).toBe(h.pcr8);
    expect(loadImage(signed.image).signature).toBeDefined();
    // A different certificate gives a different PCR8 and nothing else.
    const other = hex(await buildImage({ entry, signing: { certificate: otherKeys.certPem, privateKey: otherKeys.keyPem } }));
    expect(other.pcr8).not.toBe(h.pcr8);
    expect(other.pcr0).toBe(h.pcr0);
  });

  test('the SIGNATURE section is what IMAGE_FORMAT.md says, checked with cbor-x and node:crypto directly', async () => {
    const signed = await buildImage({ entry: join(examplesDir, 'hello', 'main.ts'), signing: { certificate: keys.certPem, privateKey: keys.keyPem } });
    const { Decoder, Encoder } = await import('cbor-x');
    const { X509Certificate, verify } = await import('node:crypto');
    const section = new Decoder({ mapsAsObjects: true, useRecords: false }).decode(sectionData(signed.image, SECTION.SIGNATURE)) as { signing_certificate: Uint8Array; signature: Uint8Array }[];
    expect(section).toHaveLength(1);
    const entry = section[0] as { signing_certificate: Uint8Array; signature: Uint8Array };
    expect(Object.keys(entry)).toEqual(['signing_certificate', 'signature']);
    const der = execFileSync('openssl', ['x509', '-in', keys.certPath, '-outform', 'DER']);
    expect(Buffer.from(entry.signing_certificate).equals(der)).toBe(true);
    // COSE_Sign1, untagged: [h'a1013822', {}, payload, r‖s].
    const [prot, unprot, payload, sig] = new Decoder({ mapsAsObjects: false, useRecords: false }).decode(entry.signature) as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array];
    expect(Buffer.from(prot).toString('hex')).toBe('a1013822');
    expect(unprot.size).toBe(0);
    const str = (t: string): string => Buffer.from(t).toString('hex');
    expect(Buffer.from(payload).toString('hex')).toBe(
      `a36e${str('register_index')}006e${str('register_value')}5830${toHex(signed.measurements.pcr0)}70${str('certificate_pcr8')}5830${toHex(signed.measurements.pcr8 as Uint8Array)}`,
    );
    const sigStructure = new Encoder({ useRecords: false, tagUint8Array: false }).encode(['Signature1', prot, new Uint8Array(0), payload]);
    const key = new X509Certificate(der).publicKey;
    expect(verify('sha384', sigStructure, { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
  });

  test('a signed image is byte-identical to the unsigned one up to the SIGNATURE section', async () => {
    const entry = join(examplesDir, 'hello', 'main.ts');
    const plain = (await buildImage({ entry })).image;
    const signed = (await buildImage({ entry, signing: { certificate: keys.certPem, privateKey: keys.keyPem } })).image;
    const s = sections(signed);
    expect(s.map((x) => x.type)).toEqual([1, 2, 3, 4, 5]);
    expect(Buffer.from(signed.subarray(24, s[3]?.end)).equals(Buffer.from(plain.subarray(24)))).toBe(true);
  });

  test('a key that does not match the certificate is refused (ERR_SIGNING_KEY)', async () => {
    const entry = join(examplesDir, 'hello', 'main.ts');
    await expect(buildImage({ entry, signing: { certificate: keys.certPem, privateKey: otherKeys.keyPem } })).rejects.toMatchObject({ code: 'ERR_SIGNING_KEY' });
  });

  test('a P-256 certificate is refused (ERR_SIGNING_KEY): Nitro signing keys are P-384', async () => {
    const p256 = opensslCert(tempDir(), 'p256', 'P-256');
    const entry = join(examplesDir, 'hello', 'main.ts');
    await expect(buildImage({ entry, signing: { certificate: p256.certPem, privateKey: p256.keyPem } })).rejects.toMatchObject({ code: 'ERR_SIGNING_KEY' });
  });

  test('an unreadable certificate is refused before bundling (ERR_SIGNING_KEY)', async () => {
    const entry = join(examplesDir, 'hello', 'main.ts');
    await expect(buildImage({ entry, signing: { certificate: 'not a cert', privateKey: keys.keyPem } })).rejects.toMatchObject({ code: 'ERR_SIGNING_KEY' });
  });
});

describe('build errors', () => {
  test('a syntax error is ERR_BUILD_FAILED carrying the bundler message and a relative location', async () => {
    const d = tempDir();
    const entry = writeFile(d, 'broken.ts', 'export default async function main( {\n');
    const err = await buildImage({ entry }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_BUILD_FAILED' });
    expect((err as Error).message).toMatch(/broken\.ts:\d+:\d+: Expected/);
  });

  test('an unresolved import is ERR_BUILD_FAILED naming the module', async () => {
    const d = tempDir();
    const entry = writeFile(d, 'app.ts', "import { x } from './missing.ts';\nexport default async () => x;\n");
    await expect(buildImage({ entry })).rejects.toMatchObject({ code: 'ERR_BUILD_FAILED', message: expect.stringContaining('./missing.ts') });
  });

  test.each([
    ['a missing entry', { entry: '/nonexistent/app.ts' }],
    ['an entry that is not JS/TS', { entry: join(examplesDir, 'hello') }],
    ['an empty name', { name: '' }],
    ['a name with a newline', { name: 'a\nb' }],
    ['reserved metadata keys', { metadata: { BuildTool: 'x' } }],
    ['non-JSON metadata', { metadata: { when: new Date(0) } as never }],
    ['too little memory', { memoryMiB: 16 }],
    ['zero CPUs', { cpuCount: 0 }],
    ['port 0', { vsockPorts: [0] }],
    ['an --allow-fs-read grant', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--allow-fs-read=*'] } }],
    ['isolation without --permission', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: [] } }],
    ['--no-permission after --permission (Node then enforces nothing)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--no-permission'] } }],
    ['--experimental-sqlite after --no-experimental-sqlite (node:sqlite ignores --permission)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--no-experimental-sqlite', '--experimental-sqlite'] } }],
    ['--permission-audit (denials only logged)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--permission-audit'] } }],
    ['--prof (writes a V8 log file despite --permission)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--prof'] } }],
    ['a trace-event file pattern (writes a trace file despite --permission)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--trace-event-categories=node', '--trace-event-file-pattern=t.json'] } }],
    ['--cpu-prof (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--cpu-prof'] } }],
    ['--heap-prof (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--heap-prof'] } }],
    ['--report-on-signal (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--report-on-signal'] } }],
    ['--heapsnapshot-signal=SIGUSR2 (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--heapsnapshot-signal=SIGUSR2'] } }],
    ['--redirect-warnings=w.txt (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--redirect-warnings=w.txt'] } }],
    ['--perf-basic-prof (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--perf-basic-prof'] } }],
    ['--logfile=v8.log (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--logfile=v8.log'] } }],
    ['--diagnostic-dir=/ (diagnostic output to a file)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--diagnostic-dir=/'] } }],
    ['a config file (unmeasured options)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--experimental-config-file=/c.json'] } }],
    ['a heap flag (the host derives it)', { isolation: { ...DEFAULT_ISOLATION, nodeFlags: ['--permission', '--max-old-space-size=9'] } }],
    ['a NODE_OPTIONS variable', { isolation: { ...DEFAULT_ISOLATION, environment: { NODE_OPTIONS: '--inspect' } } }],
    ['an unknown layer demand', { isolation: { ...DEFAULT_ISOLATION, layers: { networkNamespace: 'maybe', cpuAffinity: 'off' } } as never }],
  ])('%s is ERR_BUILD_INVALID_OPTION', async (_what, opts) => {
    await expect(buildImage({ entry: join(examplesDir, 'hello', 'main.ts'), ...opts })).rejects.toMatchObject({ code: 'ERR_BUILD_INVALID_OPTION' });
  });
});

describe('bundling ignores tsconfig files', () => {
  test('a tsconfig.json next to or above the sources does not change the image', async () => {
    const d = tempDir();
    const entry = writeFile(d, 'classy.ts', 'export default async function main() { return new (class { x = 1; })(); }\n');
    const before = (await buildImage({ entry })).image;
    writeFile(d, 'tsconfig.json', '{"compilerOptions":{"useDefineForClassFields":false}}');
    const after = (await buildImage({ entry })).image;
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true);
  });
});
