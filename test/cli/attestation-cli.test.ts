// The attestation commands, driven through the CLI entry point with captured output.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeDocument, toHex } from '../../attestation/index.ts';
import { main } from '../../host/cli/main.ts';
import { findDaemon, parseRequest } from '../../host/daemon/index.ts';
import { VECTORS, pem, tempDir } from '../attestation/fixtures.ts';

const dir = tempDir();
// `attest` asks the host daemon, which alone unseals the CA keys: this file's own daemon.
const runtimeDir = join(dir.path, 'run');
process.env.NITRO_SANDBOX_RUNTIME_DIR = runtimeDir;
afterAll(async () => {
  await (await findDaemon(runtimeDir))?.shutdown();
  dir.cleanup();
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const P0 = 'aa'.repeat(48);
const P2 = 'bb'.repeat(48);

describe('attest + verify-attestation', () => {
  const docFile = join(dir.path, 'doc.bin');

  it('attest writes a document that verify-attestation accepts with --root sandbox, printing it as JSON', async () => {
    const a = await run('attest', '--data-dir', dir.path, '--pcr', `0=${P0}`, '--pcr', `2=${P2}`, '--nonce', '0102', '--user-data', 'ff', '--out', docFile);
    expect(a.code).toBe(0);
    const v = await run('verify-attestation', '--document', docFile, '--root', 'sandbox', '--data-dir', dir.path, '--pcr', `0=${P0}`, '--pcr', `2=${P2}`, '--nonce', '0102', '--max-age', '60');
    expect(v.err).toBe('');
    expect(v.code).toBe(0);
    const j = JSON.parse(v.out) as { valid: boolean; document: { pcrs: Record<string, string>; nonce: string; user_data: string; cabundle: unknown[] } };
    expect(j.valid).toBe(true);
    expect(j.document.pcrs['0']).toBe(P0);
    expect(j.document.pcrs['1']).toBe('00'.repeat(48));
    expect(j.document.nonce).toBe('0102');
    expect(j.document.user_data).toBe('ff');
    expect(j.document.cabundle.length).toBe(4);
  });

  it('prints base64 without --out, and verify-attestation reads base64 files', async () => {
    const a = await run('attest', '--data-dir', dir.path, '--pcr', `0=${P0}`);
    expect(a.code).toBe(0);
    const b64 = join(dir.path, 'doc.b64');
    writeFileSync(b64, a.out);
    expect((await run('verify-attestation', '--document', b64, '--root', 'sandbox', '--data-dir', dir.path)).code).toBe(0);
  });

  it('without --pcr 0–2 the document reads as debug mode (PCR0–2 zero), as on AWS', async () => {
    const b64 = join(dir.path, 'zero.b64');
    writeFileSync(b64, (await run('attest', '--data-dir', dir.path)).out);
    const v = await run('verify-attestation', '--document', b64, '--root', 'sandbox', '--data-dir', dir.path);
    expect(v.err).toMatch(/^ERR_DEBUG_MODE_NOT_ALLOWED/);
  });

  it('the chain inside a document from attest passes openssl verify', async () => {
    const d = decodeDocument(new Uint8Array(readFileSync(docFile))).document;
    writeFileSync(join(dir.path, 'r.pem'), pem(d.cabundle[0]!));
    writeFileSync(join(dir.path, 'u.pem'), d.cabundle.slice(1).map(pem).join(''));
    writeFileSync(join(dir.path, 'l.pem'), pem(d.certificate));
    const out = execFileSync('openssl', ['verify', '-CAfile', join(dir.path, 'r.pem'), '-untrusted', join(dir.path, 'u.pem'), join(dir.path, 'l.pem')], { encoding: 'utf8' });
    expect(out).toMatch(/: OK/);
  });

  it('--root as a PEM file from pki export-root works like --root sandbox', async () => {
    const e = await run('pki', 'export-root', '--data-dir', dir.path);
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/^-----BEGIN CERTIFICATE-----/);
    writeFileSync(join(dir.path, 'root.pem'), e.out);
    expect((await run('verify-attestation', '--document', docFile, '--root', join(dir.path, 'root.pem'))).code).toBe(0);
  });

  it('--root sandbox reads only DIR/pki/root.pem: no root.key needed, and no PKI created where there is none', async () => {
    const verifierDir = join(dir.path, 'verifier');
    mkdirSync(join(verifierDir, 'pki'), { recursive: true });
    copyFileSync(join(dir.path, 'pki', 'root.pem'), join(verifierDir, 'pki', 'root.pem'));
    expect((await run('verify-attestation', '--document', docFile, '--root', 'sandbox', '--data-dir', verifierDir)).code).toBe(0);
    expect(existsSync(join(verifierDir, 'pki', 'root.key'))).toBe(false);
    const empty = join(dir.path, 'no-pki');
    const r = await run('verify-attestation', '--document', docFile, '--root', 'sandbox', '--data-dir', empty);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--root: cannot read .*no-pki\/pki\/root\.pem \(ENOENT\)/);
    expect(existsSync(empty)).toBe(false);
  });

  it('--public-key takes a PEM public key and stores its SPKI DER', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pemFile = join(dir.path, 'pub.pem');
    writeFileSync(pemFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const out = join(dir.path, 'pk.bin');
    expect((await run('attest', '--data-dir', dir.path, '--public-key', pemFile, '--out', out)).code).toBe(0);
    const d = decodeDocument(new Uint8Array(readFileSync(out))).document;
    expect(toHex(d.publicKey!)).toBe(toHex(publicKey.export({ type: 'spki', format: 'der' })));
  });

  const refusals: [string, string[], string][] = [
    ['a PCR mismatch', ['--pcr', `0=${P2}`], 'ERR_PCR_MISMATCH'],
    ['a missing PCR the policy names', ['--pcr', `20=${P2}`], 'ERR_PCR_MISMATCH'],
    ['a wrong nonce', ['--nonce', '0103'], 'ERR_NONCE_MISMATCH'],
    ['a time after the leaf expired', ['--at', new Date(Date.now() + 4 * 3600_000).toISOString()], 'ERR_ATTESTATION_EXPIRED'],
    ['the AWS root', ['--root', 'aws'], 'ERR_ATTESTATION_UNTRUSTED_ROOT'],
    ['a document older than --max-age', ['--max-age', '1', '--at', new Date(Date.now() + 60_000).toISOString()], 'ERR_ATTESTATION_TOO_OLD'],
  ];
  it.each(refusals)('refuses %s with exit 1 and the error code', async (_, extra, want) => {
    const hasRoot = extra.includes('--root');
    const v = await run('verify-attestation', '--document', docFile, ...(hasRoot ? [] : ['--root', 'sandbox', '--data-dir', dir.path]), ...extra);
    expect(v.code).toBe(1);
    expect(v.err).toMatch(new RegExp(`^${want}: `));
    expect(v.out).toBe('');
  });

  it('refuses a debug-mode document unless --allow-debug', async () => {
    const f = join(dir.path, 'debug.bin');
    expect((await run('attest', '--data-dir', dir.path, '--debug-mode', '--pcr', `0=${P0}`, '--out', f)).code).toBe(0);
    const v = await run('verify-attestation', '--document', f, '--root', 'sandbox', '--data-dir', dir.path);
    expect(v.code).toBe(1);
    expect(v.err).toMatch(/^ERR_DEBUG_MODE_NOT_ALLOWED/);
    const ok = await run('verify-attestation', '--document', f, '--root', 'sandbox', '--data-dir', dir.path, '--allow-debug');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).debug_mode).toBe(true);
  });

  it('verifies the real AWS vectors with --root aws --at inside their validity, and refuses them now', async () => {
    const f = join(VECTORS, 'signed-eif-2025-04-01.b64');
    const ok = await run('verify-attestation', '--document', f, '--root', 'aws', '--at', '2025-04-01T14:00:00Z');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).document.module_id).toBe('i-0ffff615a409a72d7-enc0195f17eaba9b385');
    const now = await run('verify-attestation', '--document', f);
    expect(now.code).toBe(1);
    expect(now.err).toMatch(/^ERR_ATTESTATION_EXPIRED/);
    const bad = await run('verify-attestation', '--document', join(VECTORS, 'malformed-edited.b64'), '--at', '2025-04-01T14:00:00Z');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^ERR_ATTESTATION_MALFORMED/);
  });
});

describe('attest goes through the daemon', () => {
  it('the document is signed by the daemon of this data directory; this process never opened the PKI', async () => {
    expect((await run('attest', '--data-dir', dir.path, '--pcr', `0=${P0}`)).code).toBe(0);
    const daemon = await findDaemon(runtimeDir);
    expect((await daemon?.ping())?.dataDir).toBe(dir.path);
  });

  it.each([
    ['no module id', { pcrs: {} }],
    ['a module id with a slash', { pcrs: {}, moduleId: 'i-1/x' }],
    ['PCR 16', { pcrs: { 16: P0 }, moduleId: 'i-1' }],
    ['a PCR index with a leading zero', { pcrs: { '01': P0 }, moduleId: 'i-1' }],
    ['a short PCR', { pcrs: { 0: 'aa' }, moduleId: 'i-1' }],
    ['a nonce over 1024 bytes', { pcrs: {}, moduleId: 'i-1', nonce: 'aa'.repeat(1025) }],
    ['odd-length hex', { pcrs: {}, moduleId: 'i-1', userData: 'abc' }],
    ['a debugMode that is not a boolean', { pcrs: {}, moduleId: 'i-1', debugMode: 'yes' }],
    ['an unknown field', { pcrs: {}, moduleId: 'i-1', certificate: 'x' }],
  ])('the daemon refuses an attest request with %s (ERR_DAEMON_BAD_REQUEST)', (_what, fields) => {
    expect(() => parseRequest(JSON.stringify({ v: 1, op: 'attest', ...fields }))).toThrow(expect.objectContaining({ code: 'ERR_DAEMON_BAD_REQUEST' }));
  });

  it('a daemon running with another data directory is refused (ERR_HOST_DAEMON), not used', async () => {
    const r = await run('attest', '--data-dir', join(dir.path, 'elsewhere'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ERR_HOST_DAEMON: .*runs with data dir/);
  });
});

describe('usage errors exit 2 with a message naming the problem', () => {
  const badPem = join(dir.path, 'bad.pem');
  writeFileSync(badPem, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
  const bigDer = join(dir.path, 'big.der');
  writeFileSync(bigDer, new Uint8Array(1025));
  const cases: [string, string[], RegExp][] = [
    ['an unknown flag', ['verify-attestation', '--documnet', 'x'], /Unknown option '--documnet'/],
    ['a missing --document', ['verify-attestation'], /--document is required/],
    ['an unreadable document', ['verify-attestation', '--document', '/nonexistent/doc'], /cannot read/],
    ['a bad --pcr', ['attest', '--pcr', '0=abc'], /--pcr/],
    ['a PCR index attest cannot set', ['attest', '--pcr', `16=${P0}`], /index must be 0–15/],
    ['a nonce over 1024 bytes', ['attest', '--nonce', 'aa'.repeat(1025)], /at most 1024 bytes/],
    ['odd hex', ['attest', '--user-data', 'abc'], /even-length hex/],
    ['a module id that cannot name a certificate', ['attest', '--module-id', 'i-1/../../x'], /--module-id must be 1–64 of/],
    ['a --public-key PEM holding no key', ['attest', '--public-key', badPem], /--public-key: the PEM file holds no readable public key/],
    ['a --public-key over 1024 bytes', ['attest', '--public-key', bigDer], /--public-key must be at most 1024 bytes of DER/],
    ['a bad --at', ['verify-attestation', '--document', join(VECTORS, 'signed-eif-2025-04-01.b64'), '--at', 'yesterday'], /--at must be an ISO 8601 time/],
    ['a --at Date.parse takes but ISO 8601 does not', ['verify-attestation', '--document', join(VECTORS, 'signed-eif-2025-04-01.b64'), '--at', 'March 7, 2025'], /--at must be an ISO 8601 time/],
    ['a bare year as --at', ['verify-attestation', '--document', join(VECTORS, 'signed-eif-2025-04-01.b64'), '--at', '2025'], /--at must be an ISO 8601 time/],
    ['a bad --max-age', ['verify-attestation', '--document', join(VECTORS, 'signed-eif-2025-04-01.b64'), '--max-age', '-1'], /--max-age/],
    ['an unknown command', ['attestify'], /unknown command 'attestify'/],
  ];
  it.each(cases)('%s', async (_, argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('--help prints the command help, including the minting warning for attest', async () => {
    const r = await run('attest', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/can mint documents with any PCRs/);
    const top = await run('--help');
    expect(top.out).toMatch(/verify-attestation/);
  });
});
