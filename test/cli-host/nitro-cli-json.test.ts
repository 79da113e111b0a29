// Every JSON output of the nitro-cli commands against nitro-cli's structs: field names, order and
// types from fixtures/nitro-cli-json.json, transcribed from nitro-cli 1.5's source (file and
// commit named there). Our extensions are named here and may only follow nitro-cli's fields.
// Also nitro-cli's `[ Exx ]` error format and the README's mapping table.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../enclave/index.ts';
import { main } from '../../host/cli/main.ts';
import { NITRO_CLI_ERROR_CODES, NITRO_CLI_ERRORS } from '../../host/cli/nitro-errors.ts';
import { WEAK_FLAGS, appEntry, cleanupDaemons, tempDir, type CliResult } from './helpers.ts';
import { opensslCert, repoRoot, type SigningPair } from '../enclave/fixtures.ts';
import { coseSign1, expectedEifPcrs, identityJson, pcrInfo, signatureSection, writeEif, bytesOf, type EifSpec } from '../enclave/eif-fixtures.ts';

interface Field {
  readonly name: string;
  readonly type: string;
  readonly optional?: boolean;
  readonly flatten?: boolean;
  readonly values?: readonly string[];
}
interface Fixture {
  readonly structs: Readonly<Record<string, readonly Field[]>>;
  readonly measurements: { readonly keys: readonly string[]; readonly optional: readonly string[]; readonly HashAlgorithm: string };
  readonly pcr: Readonly<Record<string, readonly string[]>>;
}
const fixture = JSON.parse(readFileSync(join(repoRoot, 'test/cli-host/fixtures/nitro-cli-json.json'), 'utf8')) as Fixture;

/** This sandbox's additions to nitro-cli's structs, allowed only after nitro-cli's own fields. */
const EXTENSIONS: Readonly<Record<string, readonly string[]>> = { EnclaveDescribeInfo: ['Isolation'] };

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const uint = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function checkType(v: unknown, f: Field, at: string): void {
  switch (f.type) {
    case 'String':
      expect(typeof v, at).toBe('string');
      if (f.values) expect(f.values, at).toContain(v);
      return;
    case 'bool':
      expect(typeof v, at).toBe('boolean');
      return;
    case 'u16':
    case 'u32':
    case 'u64':
    case 'usize':
      expect(uint(v), `${at}: ${String(v)}`).toBe(true);
      if (f.type === 'u16') expect(v as number).toBeLessThan(65536);
      return;
    case 'Vec<u32>':
      expect(Array.isArray(v) && v.every(uint), at).toBe(true);
      return;
    case 'BTreeMap<String, String>': {
      expect(isRecord(v), at).toBe(true);
      const keys = Object.keys(v as object);
      expect(Object.values(v as object).every((x) => typeof x === 'string'), at).toBe(true);
      expect(keys, `${at}: a BTreeMap prints its keys sorted`).toEqual([...keys].sort(byBytes));
      return;
    }
    case 'serde_json::Value':
      return;
    default:
      checkStruct(v, f.type, at);
  }
}

/** `value` has struct `name`'s fields in its order (optional ones may be absent), then its extensions. */
function checkStruct(value: unknown, name: string, at = name): void {
  expect(isRecord(value), at).toBe(true);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const ext = EXTENSIONS[name] ?? [];
  const fields = fixture.structs[name];
  if (!fields) throw new Error(`no struct ${name} in the fixture`);
  let i = 0;
  for (const f of fields) {
    if (f.flatten && f.type === 'serde_json::Value') {
      // CustomMetadata flattened: any members, up to our extensions.
      while (i < keys.length && !ext.includes(keys[i] as string)) i++;
      continue;
    }
    const inner = f.flatten ? (fixture.structs[f.type] ?? []).map((g) => ({ ...g, optional: f.optional === true || g.optional === true })) : [f];
    for (const g of inner) {
      if (keys[i] === g.name) {
        checkType(obj[g.name], g, `${at}.${g.name}`);
        i++;
      } else {
        expect(g.optional, `${at}: '${g.name}' missing or out of order (got '${String(keys[i])}')`).toBe(true);
        expect(keys, `${at}: '${g.name}' out of order`).not.toContain(g.name);
      }
    }
  }
  expect(keys.slice(i), `${at}: fields after nitro-cli's must be extensions (${ext.join(', ') || 'none'})`).toEqual(ext.filter((e) => keys.includes(e)));
}

function checkMeasurements(m: unknown, signed: boolean): void {
  expect(Object.keys(m as object)).toEqual(fixture.measurements.keys.filter((k) => signed || !fixture.measurements.optional.includes(k)));
  expect((m as Record<string, string>).HashAlgorithm).toBe(fixture.measurements.HashAlgorithm);
  for (const [k, v] of Object.entries(m as object)) if (k !== 'HashAlgorithm') expect(v).toMatch(/^[0-9a-f]{96}$/);
}

async function cli(...argv: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

async function ok(...argv: string[]): Promise<unknown> {
  const r = await cli(...argv);
  expect(r.code, `${argv[0] ?? ''}: ${r.err}`).toBe(0);
  return JSON.parse(r.out) as unknown;
}

let dir: string;
let keys: SigningPair;
let runtimeDir: string;
let dataDir: string;
const savedEnv = process.env.NITRO_SANDBOX_RUNTIME_DIR;

beforeAll(() => {
  dir = tempDir('nsbx-nitro-json-');
  keys = opensslCert(dir, 'json-signer');
  dataDir = tempDir('nsbx-nitro-json-pki-');
  runtimeDir = join(tempDir('nsbx-nitro-json-rt-'), 'rt');
  process.env.NITRO_SANDBOX_RUNTIME_DIR = runtimeDir;
});

afterAll(async () => {
  await cleanupDaemons([runtimeDir]);
  if (savedEnv === undefined) delete process.env.NITRO_SANDBOX_RUNTIME_DIR;
  else process.env.NITRO_SANDBOX_RUNTIME_DIR = savedEnv;
});

describe('every JSON output has nitro-cli\'s field names, order and types (fixtures/nitro-cli-json.json)', () => {
  let image: string;

  it('build-enclave, sign-eif: EnclaveBuildInfo', async () => {
    image = join(dir, 'app.eif');
    const built = await ok('build-enclave', '--entry', appEntry, '--output-file', image);
    checkStruct(built, 'EnclaveBuildInfo');
    checkMeasurements((built as { Measurements: unknown }).Measurements, false);
    const signedPath = join(dir, 'signed.eif');
    writeFileSync(signedPath, readFileSync(image));
    const signed = await ok('sign-eif', '--eif-path', signedPath, '--signing-certificate', keys.certPath, '--private-key', keys.keyPath);
    checkStruct(signed, 'EnclaveBuildInfo');
    checkMeasurements((signed as { Measurements: unknown }).Measurements, true);
  });

  it('describe-eif of our images and of real EIFs (signed, unsigned, without metadata): EifDescribeInfo', async () => {
    const unsigned = await ok('describe-eif', '--eif-path', image);
    checkStruct(unsigned, 'EifDescribeInfo');
    checkMeasurements((unsigned as { Measurements: unknown }).Measurements, false);
    const signed = await ok('describe-eif', '--eif-path', join(dir, 'signed.eif'));
    checkStruct(signed, 'EifDescribeInfo');
    expect(Object.keys(signed as object)).toContain('SigningCertificate');
    const s: EifSpec = { kernel: bytesOf('k', 100), cmdline: Buffer.from('console=ttyS0'), ramdisks: [bytesOf('r0', 100), bytesOf('r1', 100)], metadata: identityJson({ x: 1 }) };
    const eifs: [string, Uint8Array][] = [
      ['real-signed.eif', writeEif({ ...s, signature: signatureSection(keys.certPem, coseSign1(pcrInfo(expectedEifPcrs(s).PCR0), keys.keyPem)) })],
      ['real-unsigned.eif', writeEif(s)],
      ['real-v3.eif', writeEif({ ...s, metadata: undefined, version: 3 })],
    ];
    for (const [name, bytes] of eifs) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const d = await ok('describe-eif', '--eif-path', path);
      checkStruct(d, 'EifDescribeInfo', name);
      checkMeasurements((d as { Measurements: unknown }).Measurements, name === 'real-signed.eif');
    }
  });

  it('pcr: a one-key BTreeMap, PCR or PCR8', async () => {
    const input = await ok('pcr', '--input', image);
    expect(Object.keys(input as object)).toEqual(fixture.pcr['--input']);
    const cert = await ok('pcr', '--signing-certificate', keys.certPath);
    expect(Object.keys(cert as object)).toEqual(fixture.pcr['--signing-certificate']);
  });

  it('run-enclave, describe-enclaves (and --metadata), terminate-enclave (one, --all): their structs; [] when none is left', async () => {
    for (const name of ['j1', 'j2']) {
      const run = await ok('run-enclave', ...WEAK_FLAGS, '--eif-path', image, '--memory', '128', '--cpu-count', '1', '--enclave-name', name, '--data-dir', dataDir);
      checkStruct(run, 'EnclaveRunInfo');
    }
    const list = await ok('describe-enclaves');
    expect(Array.isArray(list) && list.length === 2).toBe(true);
    for (const e of list as unknown[]) checkStruct(e, 'EnclaveDescribeInfo');
    const withMeta = (await ok('describe-enclaves', '--metadata')) as Record<string, unknown>[];
    for (const e of withMeta) {
      checkStruct(e, 'EnclaveDescribeInfo');
      expect(Object.keys(e)).toEqual(expect.arrayContaining(['ImageName', 'ImageVersion', 'Metadata']));
    }
    checkStruct(await ok('terminate-enclave', '--enclave-name', 'j1'), 'EnclaveTerminateInfo');
    const all = await ok('terminate-enclave', '--all');
    expect(Array.isArray(all)).toBe(true);
    for (const t of all as unknown[]) checkStruct(t, 'EnclaveTerminateInfo');
    expect(await ok('describe-enclaves')).toEqual([]);
  });
});

describe('nitro-cli\'s error format: [ Exx ] for the nitro-cli commands (document_errors.rs)', () => {
  it('a damaged image is [ E35 ] with nitro-cli\'s description, our code and message, and the help link; exit 1', async () => {
    const path = join(dir, 'cut.eif');
    writeFileSync(path, (await buildImage({ entry: appEntry })).image.subarray(0, 100));
    const r = await cli('describe-eif', '--eif-path', path);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^\[ E35 \] EIF file parsing error\. ERR_IMAGE_TRUNCATED: image truncated: /);
    expect(r.err).toContain('\n\nFor more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E35\n');
  });

  it('an unknown enclave name is [ E58 ]; usage mistakes stay exit 2 without a code (clap\'s); other commands keep CODE: message', async () => {
    const r = await cli('terminate-enclave', '--enclave-name', 'nobody-here');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^\[ E58 \] Naming error\. ERR_ENCLAVE_NOT_FOUND: /);
    const usage = await cli('describe-eif');
    expect(usage.code).toBe(2);
    expect(usage.err).not.toMatch(/\[ E/);
    const other = await cli('verify-attestation', '--document', join(dir, 'missing.b64'));
    expect(other.err).not.toMatch(/\[ E/);
  });

  it('every mapped code has a nitro-cli description, and the README table says exactly what the map does', () => {
    for (const e of Object.values(NITRO_CLI_ERROR_CODES)) expect(NITRO_CLI_ERRORS[e], e).toBeDefined();
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### nitro-cli error codes'));
    const rows = [...section.matchAll(/^\| (E\d\d) \| ([^|]+) \| ([^|]+) \|$/gm)];
    const fromReadme: Record<string, string> = {};
    for (const [, e, title, codes] of rows) {
      expect(title?.trim(), e).toBe(NITRO_CLI_ERRORS[e as string]);
      for (const c of (codes ?? '').matchAll(/`([A-Z_]+)`/g)) fromReadme[c[1] as string] = e as string;
    }
    expect(fromReadme).toEqual(NITRO_CLI_ERROR_CODES);
  });
});
