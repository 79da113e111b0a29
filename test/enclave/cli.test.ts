// The CLI commands through `main([...])` with a capturing CliIo: nitro-cli's output shapes
// (aws-nitro-enclaves-cli: EnclaveBuildInfo, DescribeEifInfo, get_file_pcr), exit codes, and the
// values cross-checked against openssl.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../host/cli/main.ts';
import { capture, cleanup, examplesDir, expectedPcrs, opensslCert, pcrWithOpenssl, tempDir, writeFile, type SigningPair } from './fixtures.ts';

let dir: string;
let keys: SigningPair;
beforeAll(() => {
  dir = tempDir();
  keys = opensslCert(dir, 'cli-signer');
});
afterAll(cleanup);

async function run(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const c = capture();
  const status = await main(argv, c.io);
  return { status, out: c.out(), err: c.err() };
}

const HEX48 = /^[0-9a-f]{96}$/;

describe('build-enclave', () => {
  test('prints {"Measurements":{HashAlgorithm, PCR0, PCR1, PCR2}} and writes the image those PCRs describe', async () => {
    const output = join(dir, 'hello.eif');
    const r = await run('build-enclave', '--entry', join(examplesDir, 'hello', 'main.ts'), '--output-file', output);
    expect(r.status).toBe(0);
    expect(r.err).toBe('Start building the Enclave Image...\nEnclave Image successfully created.\n');
    const parsed = JSON.parse(r.out) as { Measurements: Record<string, string> };
    expect(Object.keys(parsed)).toEqual(['Measurements']);
    expect(Object.keys(parsed.Measurements)).toEqual(['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2']);
    expect(parsed.Measurements.HashAlgorithm).toBe('Sha384 { ... }');
    const want = expectedPcrs(new Uint8Array(readFileSync(output)));
    expect(parsed.Measurements).toMatchObject({ PCR0: want.pcr0, PCR1: want.pcr1, PCR2: want.pcr2 });
    // serde_json::to_string_pretty layout: two-space indent, newline at the end.
    expect(r.out).toBe(`${JSON.stringify(parsed, null, 2)}\n`);
  });

  test('signed: adds PCR8, equal to `pcr --signing-certificate` and to openssl over the DER', async () => {
    const output = join(dir, 'signed.eif');
    const r = await run('build-enclave', '--entry', join(examplesDir, 'hello', 'main.ts'), '--output-file', output,
      '--signing-certificate', keys.certPath, '--private-key', keys.keyPath);
    expect(r.status).toBe(0);
    const m = (JSON.parse(r.out) as { Measurements: Record<string, string> }).Measurements;
    expect(Object.keys(m)).toEqual(['HashAlgorithm', 'PCR0', 'PCR1', 'PCR2', 'PCR8']);
    const p = await run('pcr', '--signing-certificate', keys.certPath);
    expect(p.status).toBe(0);
    expect(JSON.parse(p.out)).toEqual({ PCR8: m.PCR8 });
    const der = execFileSync('openssl', ['x509', '-in', keys.certPath, '-outform', 'DER']);
    expect(m.PCR8).toBe(pcrWithOpenssl(der));
    // A DER certificate file gives the same PCR8.
    const derPath = writeFile(dir, 'cert.der', der);
    expect(JSON.parse((await run('pcr', '--signing-certificate', derPath)).out)).toEqual({ PCR8: m.PCR8 });
  });

  test('--name, --version, --metadata, --memory, --cpu-count, --vsock-port reach describe-eif', async () => {
    const output = join(dir, 'named.eif');
    const meta = writeFile(dir, 'meta.json', JSON.stringify({ team: 'payments', tier: 2 }));
    const r = await run('build-enclave', '--entry', join(examplesDir, 'echo', 'main.ts'), '--output-file', output, '--name', 'echo-svc',
      '--version', '2.1.0', '--metadata', meta, '--memory', '1024', '--cpu-count', '4', '--vsock-port', '5006', '--vsock-port', '5005');
    expect(r.status).toBe(0);
    const d = JSON.parse((await run('describe-eif', '--eif-path', output)).out) as Record<string, unknown>;
    expect(d).toMatchObject({ ImageName: 'echo-svc', ImageVersion: '2.1.0', Metadata: { team: 'payments', tier: 2, BuildTool: 'nitro-sandbox' } });
    // The custom metadata follows nitro-cli's fixed fields, flattened into Metadata.
    expect(Object.keys(d.Metadata as object)).toEqual(['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion', 'DockerInfo', 'team', 'tier']);
  });

  test.each([
    ['no --entry', ['--output-file', 'x.eif']],
    ['no --output-file', ['--entry', 'x.ts']],
    ['a certificate without a key', ['--entry', 'x.ts', '--output-file', 'x.eif', '--signing-certificate', 'c.pem']],
    ['an unknown flag', ['--entry', 'x.ts', '--output-file', 'x.eif', '--docker-uri', 'x']],
    ['a non-numeric port', ['--entry', 'x.ts', '--output-file', 'x.eif', '--vsock-port', 'http']],
  ])('usage error (%s) exits 2', async (_what, args) => {
    const r = await run('build-enclave', ...args);
    expect(r.status).toBe(2);
    expect(r.err).toContain('nitro-sandbox build-enclave:');
  });

  test('a syntax error exits 1 with ERR_BUILD_FAILED and the bundler message; no file is written', async () => {
    const entry = writeFile(dir, 'bad.ts', 'export default (\n');
    const output = join(dir, 'bad.eif');
    const r = await run('build-enclave', '--entry', entry, '--output-file', output);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/ERR_BUILD_FAILED: bundling .*bad\.ts failed:\nerror: bad\.ts:\d+:\d+: /);
    expect(() => readFileSync(output)).toThrow();
  });

  test('metadata that is not a JSON object exits 1 with ERR_BUILD_INVALID_OPTION', async () => {
    const meta = writeFile(dir, 'list.json', '[1,2]');
    const r = await run('build-enclave', '--entry', join(examplesDir, 'hello', 'main.ts'), '--output-file', join(dir, 'm.eif'), '--metadata', meta);
    expect(r.status).toBe(1);
    expect(r.err).toContain('ERR_BUILD_INVALID_OPTION');
  });

  test('--help documents the entry point and the options', async () => {
    const r = await run('build-enclave', '--help');
    expect(r.status).toBe(0);
    for (const s of ['--entry', '--output-file', '--signing-certificate', '--private-key', '--metadata', 'export default async function main(ctx)']) expect(r.out).toContain(s);
  });
});

describe('describe-eif', () => {
  test('prints nitro-cli\'s DescribeEifInfo fields in its order; signed images add SigningCertificate and SignatureCheck', async () => {
    const plainPath = join(dir, 'd-plain.eif');
    const signedPath = join(dir, 'd-signed.eif');
    await run('build-enclave', '--entry', join(examplesDir, 'hello', 'main.ts'), '--output-file', plainPath);
    await run('build-enclave', '--entry', join(examplesDir, 'hello', 'main.ts'), '--output-file', signedPath, '--signing-certificate', keys.certPath, '--private-key', keys.keyPath);
    const plain = JSON.parse((await run('describe-eif', '--eif-path', plainPath)).out) as Record<string, unknown>;
    expect(Object.keys(plain)).toEqual(['EifVersion', 'Measurements', 'IsSigned', 'CheckCRC', 'ImageName', 'ImageVersion', 'Metadata']);
    expect(plain).toMatchObject({ EifVersion: 2, IsSigned: false, CheckCRC: true, ImageName: 'hello', ImageVersion: '1.0' });
    // Every field of nitro-cli's MetadataDescribeInfo, in its order; fixed values where a field
    // has no meaning here (IMAGE_FORMAT.md): no build time is recorded, the "kernel" is Node.
    const meta = plain.Metadata as Record<string, unknown>;
    expect(Object.keys(meta)).toEqual(['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion', 'DockerInfo']);
    expect(meta).toMatchObject({ BuildTime: '1970-01-01T00:00:00+00:00', BuildTool: 'nitro-sandbox', OperatingSystem: 'Node.js', KernelVersion: process.version });
    expect(meta.DockerInfo).toEqual({ Bundler: expect.stringMatching(/^esbuild \d+\.\d+\.\d+$/) });
    const signed = JSON.parse((await run('describe-eif', '--eif-path', signedPath)).out) as Record<string, unknown>;
    expect(Object.keys(signed)).toEqual(['EifVersion', 'Measurements', 'IsSigned', 'SigningCertificate', 'CheckCRC', 'SignatureCheck', 'ImageName', 'ImageVersion', 'Metadata']);
    expect(signed).toMatchObject({ IsSigned: true, SignatureCheck: true });
    expect((signed.Measurements as Record<string, string>).PCR0).toBe((plain.Measurements as Record<string, string>).PCR0);
    // SigningCertificate as nitro-cli prints it, checked against `openssl x509 -text`.
    const cert = signed.SigningCertificate as Record<string, unknown>;
    expect(Object.keys(cert)).toEqual(['IssuerName', 'Algorithm', 'NotBefore', 'NotAfter', 'Signature']);
    expect(cert.IssuerName).toEqual({ commonName: 'cli-signer', countryName: 'US', organizationName: 'Enclave Tests' });
    const dates = execFileSync('openssl', ['x509', '-in', keys.certPath, '-noout', '-dates']).toString();
    const text = execFileSync('openssl', ['x509', '-in', keys.certPath, '-noout', '-text']).toString();
    expect(cert.Algorithm).toBe('ecdsa-with-SHA384');
    expect(dates).toContain(`notBefore=${cert.NotBefore as string}`);
    expect(dates).toContain(`notAfter=${cert.NotAfter as string}`);
    const sigHex = (text.split('Signature Value:')[1] ?? '').replace(/[^0-9a-f:]/g, '').replace(/^:+|:+$/g, '');
    expect((cert.Signature as string).toLowerCase()).toBe(sigHex);
  });

  test('a damaged checksum is reported as CheckCRC: false (exit 0), like nitro-cli', async () => {
    const p = join(dir, 'crc.eif');
    await run('build-enclave', '--entry', join(examplesDir, 'hello', 'main.ts'), '--output-file', p);
    const bytes = readFileSync(p);
    bytes[20] = (bytes[20] ?? 0) ^ 0xff;
    writeFileSync(p, bytes);
    const r = await run('describe-eif', '--eif-path', p);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ CheckCRC: false });
  });

  test('a foreign file exits 1 with ERR_IMAGE_BAD_MAGIC; a missing file is a usage error', async () => {
    const r = await run('describe-eif', '--eif-path', writeFile(dir, 'notes.txt', 'hello world, not an image'));
    expect(r.status).toBe(1);
    expect(r.err).toContain('ERR_IMAGE_BAD_MAGIC');
    expect((await run('describe-eif', '--eif-path', join(dir, 'nope.eif'))).status).toBe(2);
  });
});

describe('pcr', () => {
  test('--input prints {"PCR": SHA384(0⁴⁸ ‖ SHA384(file))}, as openssl computes it', async () => {
    const data = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
    const file = writeFile(dir, 'blob.bin', data);
    const r = await run('pcr', '--input', file);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ PCR: pcrWithOpenssl(data) });
    expect((JSON.parse(r.out) as { PCR: string }).PCR).toMatch(HEX48);
  });

  test('--input of an empty file is the PCR of zero bytes', async () => {
    const r = await run('pcr', '--input', writeFile(dir, 'empty.bin', ''));
    expect(JSON.parse(r.out)).toEqual({ PCR: pcrWithOpenssl(new Uint8Array(0)) });
  });

  test('exactly one of --input and --signing-certificate (exit 2); an unreadable certificate exits 1 with ERR_SIGNING_KEY', async () => {
    expect((await run('pcr')).status).toBe(2);
    expect((await run('pcr', '--input', 'a', '--signing-certificate', 'b')).status).toBe(2);
    const r = await run('pcr', '--signing-certificate', writeFile(dir, 'junk.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'));
    expect(r.status).toBe(1);
    expect(r.err).toContain('ERR_SIGNING_KEY');
  });
});

describe('commands are registered', () => {
  test('the top-level help lists build-enclave, describe-eif and pcr', async () => {
    const r = await run('--help');
    for (const name of ['build-enclave', 'describe-eif', 'pcr']) expect(r.out).toMatch(new RegExp(`^  ${name} `, 'm'));
  });
});
