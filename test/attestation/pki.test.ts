// The sandbox PKI: created on first use, CA keys sealed under the custody key (0600, in its own 0700
// directory), AWS-shaped hierarchy, leafs per enclave, renewal of intermediates, and openssl's own
// verdict on the chains it issues.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { homedir } from 'node:os';
import { AttestationAuthority, DATA_DIR_MARKER, SandboxPki, decodeDocument, defaultDataDir, verifyAttestation } from '../../attestation/index.ts';
import { PCRS, pem, tempDir, vector, x509 } from './fixtures.ts';

const dirs: { cleanup: () => void }[] = [];
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d.path;
}
afterAll(() => dirs.forEach((d) => d.cleanup()));

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('data directory', () => {
  it('defaults to $NITRO_SANDBOX_HOME, else (unset or empty) ~/.nitro-sandbox', () => {
    const saved = process.env.NITRO_SANDBOX_HOME;
    try {
      process.env.NITRO_SANDBOX_HOME = '/somewhere/else';
      expect(defaultDataDir()).toBe('/somewhere/else');
      delete process.env.NITRO_SANDBOX_HOME;
      expect(defaultDataDir()).toBe(join(homedir(), '.nitro-sandbox'));
      process.env.NITRO_SANDBOX_HOME = ''; // empty is unset, not the current directory
      expect(defaultDataDir()).toBe(join(homedir(), '.nitro-sandbox'));
    } finally {
      if (saved === undefined) delete process.env.NITRO_SANDBOX_HOME;
      else process.env.NITRO_SANDBOX_HOME = saved;
    }
  });
});

describe('sandbox root CA', () => {
  it('is created on first use: P-384, ecdsa-with-SHA384, CA, keyCertSign; sealed key files mode 0600', async () => {
    const d = dir();
    const pki = await SandboxPki.open({ dataDir: d });
    const root = new X509Certificate(pki.rootCertificate);
    expect(root.ca).toBe(true);
    expect(root.signatureAlgorithmOid).toBe('1.2.840.10045.4.3.3');
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    const text = openssl(['x509', '-noout', '-text', '-in', join(d, 'pki', 'root.pem')]);
    expect(text).toMatch(/Certificate Sign/);
    expect(text).toMatch(/CA:TRUE/);
    expect(statSync(join(d, 'pki', 'root.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'pki', 'intermediates.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(d, 'pki', 'root.key'))).toBe(false);
  });

  it('is exported as PEM and stays the same when reopened', async () => {
    const d = dir();
    const a = await SandboxPki.open({ dataDir: d });
    const b = await SandboxPki.open({ dataDir: d });
    expect(b.rootPem()).toBe(a.rootPem());
    expect(a.rootPem()).toBe(readFileSync(join(d, 'pki', 'root.pem'), 'utf8'));
    expect(b.cabundle().map((c) => Buffer.from(c).toString('hex'))).toEqual(a.cabundle().map((c) => Buffer.from(c).toString('hex')));
  });

  it('two processes racing on a fresh directory end up with one root', async () => {
    const d = dir();
    const [a, b] = await Promise.all([SandboxPki.open({ dataDir: d }), SandboxPki.open({ dataDir: d })]);
    const c = await SandboxPki.open({ dataDir: d });
    expect(c.rootPem()).toBe(readFileSync(join(d, 'pki', 'root.pem'), 'utf8'));
    expect([a.rootPem(), b.rootPem()]).toContain(c.rootPem());
  });

  it('a damaged root file is refused with ERR_PKI', async () => {
    const d = dir();
    await SandboxPki.open({ dataDir: d });
    writeFileSync(join(d, 'pki', 'root.json'), 'not a root');
    await expect(SandboxPki.open({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_PKI' });
  });

  it('another CA\'s sealed root is refused with ERR_PKI: it does not open with this custody key', async () => {
    const d1 = dir();
    const d2 = dir();
    await SandboxPki.open({ dataDir: d1 });
    await SandboxPki.open({ dataDir: d2 });
    writeFileSync(join(d1, 'pki', 'root.json'), readFileSync(join(d2, 'pki', 'root.json')));
    await expect(SandboxPki.open({ dataDir: d1 })).rejects.toMatchObject({ code: 'ERR_PKI', message: expect.stringMatching(/does not open with this custody key/) });
  });

  it('damaged intermediates are replaced, not trusted', async () => {
    const d = dir();
    const a = await SandboxPki.open({ dataDir: d });
    writeFileSync(join(d, 'pki', 'intermediates.json'), '{"version":1,"levels":[]}');
    const b = await SandboxPki.open({ dataDir: d });
    expect(b.cabundle().length).toBe(4);
    expect(Buffer.from(b.cabundle()[1]!).equals(Buffer.from(a.cabundle()[1]!))).toBe(false);
  });

  it('bad arguments are refused with ERR_INVALID_ARGUMENT', async () => {
    await expect(SandboxPki.open({ dataDir: dir(), region: 'Not A Region!' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    const pki = await SandboxPki.open({ dataDir: dir() });
    await expect(pki.issueLeaf('bad id/with slash')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(pki.issueLeaf('')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });
});

describe('hierarchy and leafs', () => {
  it('root, regional (pathLen 2), zonal (pathLen 1), instance (pathLen 0) and a 3-hour leaf naming the enclave', async () => {
    const d = dir();
    const pki = await SandboxPki.open({ dataDir: d, region: 'eu-test-1' });
    const leaf = await pki.issueLeaf('i-0123456789abcdef-enc0123456789abcdef');
    const texts = leaf.cabundle.map((c, i) => {
      writeFileSync(join(d, `c${i}.pem`), pem(c));
      return openssl(['x509', '-noout', '-text', '-in', join(d, `c${i}.pem`)]);
    });
    expect(texts[0]).toMatch(/CA:TRUE\s*$/m);
    expect(texts[1]).toMatch(/CA:TRUE, pathlen:2/);
    expect(texts[2]).toMatch(/CA:TRUE, pathlen:1/);
    expect(texts[3]).toMatch(/CA:TRUE, pathlen:0/);
    writeFileSync(join(d, 'leaf.pem'), pem(leaf.certificate));
    const lt = openssl(['x509', '-noout', '-text', '-in', join(d, 'leaf.pem')]);
    expect(lt).toMatch(/CA:FALSE/);
    expect(lt).toMatch(/Digital Signature/);
    expect(lt).toMatch(/CN *= *i-0123456789abcdef-enc0123456789abcdef\.eu-test-1\.sandbox/);
    expect(leaf.notAfter - leaf.notBefore).toBe(3 * 3600_000);
  });

  it('openssl verify accepts the chain of a document made by the authority', async () => {
    const d = dir();
    const authority = await AttestationAuthority.open({ dataDir: d });
    const device = await authority.createDevice({ moduleId: 'i-1111111111111111-enc2222222222222222', measurements: PCRS });
    const doc = decodeDocument(await device.attestation()).document;
    writeFileSync(join(d, 'root.pem'), pem(doc.cabundle[0]!));
    writeFileSync(join(d, 'untrusted.pem'), doc.cabundle.slice(1).map(pem).join(''));
    writeFileSync(join(d, 'leaf.pem'), pem(doc.certificate));
    // Not -x509_strict: like AWS's own leaf, ours carries no authorityKeyIdentifier (see below).
    const out = openssl(['verify', '-CAfile', join(d, 'root.pem'), '-untrusted', join(d, 'untrusted.pem'), join(d, 'leaf.pem')]);
    expect(out.trim()).toBe(`${join(d, 'leaf.pem')}: OK`);
    // and openssl refuses it against another root (the check above is not vacuous)
    const other = await SandboxPki.open({ dataDir: dir() });
    writeFileSync(join(d, 'other.pem'), other.rootPem());
    expect(() => openssl(['verify', '-CAfile', join(d, 'other.pem'), '-untrusted', join(d, 'untrusted.pem'), join(d, 'leaf.pem')])).toThrow();
  });

  it('openssl verify accepts a real AWS chain the same way (cross-check of the openssl check)', () => {
    const d = dir();
    const aws = decodeDocument(vector('debug-2024-09-17.b64')).document;
    writeFileSync(join(d, 'root.pem'), pem(aws.cabundle[0]!));
    writeFileSync(join(d, 'untrusted.pem'), aws.cabundle.slice(1).map(pem).join(''));
    writeFileSync(join(d, 'leaf.pem'), pem(aws.certificate));
    const at = String(Math.floor(aws.timestamp / 1000) + 60);
    expect(openssl(['verify', '-attime', at, '-CAfile', join(d, 'root.pem'), '-untrusted', join(d, 'untrusted.pem'), join(d, 'leaf.pem')]).trim()).toMatch(/: OK$/);
  });

  it('certificates carry the extensions AWS certificates carry, in the same order', async () => {
    const d = dir();
    const pki = await SandboxPki.open({ dataDir: d });
    const leaf = await pki.issueLeaf('i-1');
    const ours = [...leaf.cabundle, leaf.certificate].map((c) => new x509.X509Certificate(c).extensions.map((e) => e.type));
    const awsDoc = decodeDocument(vector('debug-2024-09-17.b64')).document;
    const theirs = [...awsDoc.cabundle, awsDoc.certificate].map((c) => new x509.X509Certificate(c).extensions.map((e) => e.type));
    const CRL_DP = '2.5.29.31'; // AWS intermediates name a CRL; a local sandbox has none to serve
    expect(ours[0]).toEqual(theirs[0]!.filter((t) => t !== CRL_DP));
    for (const i of [1, 2, 3]) expect(ours[i]).toEqual(theirs[i]!.filter((t) => t !== CRL_DP));
    expect(new Set(ours[4])).toEqual(new Set(theirs[4]));
  });

  it('renews intermediates that would expire before a new leaf, and documents keep verifying', async () => {
    const d = dir();
    let now = Date.now();
    const clock = () => now;
    const pki = await SandboxPki.open({ dataDir: d, clock });
    const before = pki.cabundle();
    now += 23 * 3600_000; // the instance CA lives one day: a 3-hour leaf would outlive it
    const leaf = await pki.issueLeaf('i-1');
    expect(Buffer.from(leaf.cabundle[3]!).equals(Buffer.from(before[3]!))).toBe(false);
    expect(Buffer.from(leaf.cabundle[0]!).equals(Buffer.from(before[0]!))).toBe(true);
    const authority = await AttestationAuthority.open({ dataDir: d, clock });
    const doc = await (await authority.createDevice({ moduleId: 'i-1', measurements: PCRS })).attestation();
    expect(verifyAttestation(doc, { trustAnchors: [authority.rootCertificate], at: now }).document.moduleId).toBe('i-1');
  });

  it('the authority re-issues an aged leaf before signing, so documents stay verifiable', async () => {
    const d = dir();
    let now = Date.now();
    const authority = await AttestationAuthority.open({ dataDir: d, clock: () => now });
    const device = await authority.createDevice({ moduleId: 'i-5', measurements: PCRS });
    const first = decodeDocument(await device.attestation()).document.certificate;
    now += 2 * 3600_000;
    const doc2 = await device.attestation();
    expect(Buffer.from(decodeDocument(doc2).document.certificate).equals(Buffer.from(first))).toBe(false);
    now += 2 * 3600_000; // past the first leaf's end, inside the second's
    expect(verifyAttestation(doc2, { trustAnchors: [authority.rootCertificate], at: now }).document.moduleId).toBe('i-5');
  });
});

describe('custody: CA keys sealed at rest, the custody key apart', () => {
  /** Every file under `d`, recursively. */
  function files(d: string): string[] {
    return readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  }

  it('no file of the data directory holds a private key in the clear; the custody key sits alone in a 0700 folder', async () => {
    const d = dir();
    const pki = await SandboxPki.open({ dataDir: d });
    await pki.issueLeaf('i-1'); // intermediates written too
    for (const f of files(d)) expect(readFileSync(f, 'latin1'), f).not.toMatch(/PRIVATE KEY/);
    expect(statSync(join(d, 'custody')).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, 'pki')).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, 'custody', 'seal.key')).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(d, 'custody'))).toEqual(['seal.key']);
    expect(readdirSync(join(d, 'pki')).sort()).toEqual(['intermediates.json', 'root.json', 'root.pem']);
    // The data directory is marked, so builds refuse it wherever it lies (test/enclave/confine.test.ts).
    expect(existsSync(join(d, DATA_DIR_MARKER))).toBe(true);
  });

  it('a copy of pki/ without the custody key opens nothing (ERR_PKI), and the key is not re-made over sealed keys', async () => {
    const d = dir();
    await SandboxPki.open({ dataDir: d });
    rmSync(join(d, 'custody'), { recursive: true });
    await expect(SandboxPki.open({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_PKI', message: expect.stringMatching(/custody key .* is missing/) });
    expect(existsSync(join(d, 'custody', 'seal.key'))).toBe(false);
  });

  it('a custody key other users can read is refused (ERR_PKI)', async () => {
    const d = dir();
    await SandboxPki.open({ dataDir: d });
    chmodSync(join(d, 'custody', 'seal.key'), 0o644);
    await expect(SandboxPki.open({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_PKI', message: expect.stringMatching(/accessible to other users/) });
    chmodSync(join(d, 'custody', 'seal.key'), 0o600);
    await expect(SandboxPki.open({ dataDir: d })).resolves.toBeInstanceOf(SandboxPki);
  });

  it('a sealed key is bound to its role: an intermediate key put in root.json does not open (ERR_PKI)', async () => {
    const d = dir();
    await SandboxPki.open({ dataDir: d });
    const inter = JSON.parse(readFileSync(join(d, 'pki', 'intermediates.json'), 'utf8')) as { levels: { key: unknown }[] };
    const root = JSON.parse(readFileSync(join(d, 'pki', 'root.json'), 'utf8')) as { key: unknown };
    root.key = inter.levels[0]!.key;
    writeFileSync(join(d, 'pki', 'root.json'), JSON.stringify(root));
    await expect(SandboxPki.open({ dataDir: d })).rejects.toMatchObject({ code: 'ERR_PKI' });
  });

  it('an older data directory (plaintext root.key) is sealed on open: same root, root.key gone, its bytes nowhere', async () => {
    const d = dir();
    mkdirSync(join(d, 'pki'), { mode: 0o700 });
    const key = join(d, 'pki', 'root.key');
    const cert = join(d, 'pki', 'root.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-sha384', '-nodes', '-days', '3650', '-subj', '/CN=legacy root',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-keyout', key, '-out', cert]);
    const legacyDer = createPrivateKey(readFileSync(key)).export({ type: 'pkcs8', format: 'der' });
    const before = readFileSync(cert, 'utf8');
    copyFileSync(cert, join(d, 'legacy.pem'));
    const pki = await SandboxPki.open({ dataDir: d });
    expect(new X509Certificate(pki.rootCertificate).fingerprint256).toBe(new X509Certificate(before).fingerprint256);
    expect(existsSync(key)).toBe(false);
    for (const f of files(d)) {
      const bytes = readFileSync(f);
      expect(bytes.includes(legacyDer), f).toBe(false);
      expect(bytes.includes(Buffer.from(legacyDer.toString('base64').slice(0, 64))), f).toBe(false);
    }
    // …and it still signs: a document verifies against the legacy root.
    const authority = await AttestationAuthority.open({ dataDir: d });
    const doc = await (await authority.createDevice({ moduleId: 'i-1', measurements: PCRS })).attestation();
    expect(verifyAttestation(doc, { trustAnchors: [before] }).document.moduleId).toBe('i-1');
  });

  it('pki export-root reads the root without the custody key', async () => {
    const d = dir();
    const pki = await SandboxPki.open({ dataDir: d });
    rmSync(join(d, 'custody'), { recursive: true });
    expect(await SandboxPki.rootPem({ dataDir: d })).toBe(pki.rootPem());
  });
});
