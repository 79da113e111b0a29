// The sandbox's local PKI: the stand-in for the AWS Nitro PKI. It mirrors AWS's hierarchy so that
// documents have the same shape: a root (like "aws.nitro-enclaves", no pathLen), a regional CA
// (pathLen 2, ~20 days), a zonal CA (pathLen 1, ~6 days), an instance CA (pathLen 0, 1 day) and a
// per-enclave leaf (not a CA, digitalSignature, 3 hours) whose subject carries the enclave id.
// Intermediates are renewed from the root when they would expire before a fresh leaf does.
//
// Whoever can read root.key can mint documents that verify against this root: that is the trust
// model (ARCHITECTURE.md, "Root of trust"), and why the key files are written with mode 0600.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PkiError, InvalidArgumentError } from './errors.ts';
import { x509 } from './x509.ts';

export const LEAF_LIFETIME_MS = 3 * 3600_000;
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const ROOT_LIFETIME_MS = 30 * 365 * DAY;

/** The intermediate levels below the root, nearest the root first, with AWS-like lifetimes. */
const LEVELS = [
  { name: 'regional', pathLen: 2, lifetime: 20 * DAY },
  { name: 'zonal', pathLen: 1, lifetime: 6 * DAY },
  { name: 'instance', pathLen: 0, lifetime: 1 * DAY },
] as const;

const ECDSA_P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const SIGNING_ALG = { name: 'ECDSA', hash: 'SHA-384' } as const;

/** Default data directory: $NITRO_SANDBOX_HOME, else (unset or empty) ~/.nitro-sandbox. */
export function defaultDataDir(): string {
  // An empty value is taken as unset, as shells treat `VAR=`: it must not mean the current directory.
  return process.env.NITRO_SANDBOX_HOME || join(homedir(), '.nitro-sandbox');
}

/**
 * The sandbox root certificate of a data directory (`<dataDir>/pki/root.pem`, mode 0644): all a
 * verifier needs, without opening the PKI (which reads root.key and creates the PKI when absent).
 */
export function sandboxRootPath(dataDir: string = defaultDataDir()): string {
  return join(dataDir, 'pki', 'root.pem');
}

export interface PkiOptions {
  /** Folder holding `pki/`; created on first use. Default: `defaultDataDir()`. */
  readonly dataDir?: string;
  /** Milliseconds since the epoch; injectable so expiry and renewal can be tested. */
  readonly clock?: () => number;
  /** Region label used in certificate names, as AWS uses its region. */
  readonly region?: string;
}

interface Level {
  readonly certificate: Uint8Array;
  readonly key: KeyObject;
  readonly notAfter: number;
}

/** A leaf certificate and its private key, issued to one enclave. */
export interface LeafCredential {
  readonly certificate: Uint8Array;
  readonly privateKey: KeyObject;
  readonly notBefore: number;
  readonly notAfter: number;
  /** Root first, nearest intermediate last: the document's `cabundle`. */
  readonly cabundle: readonly Uint8Array[];
}

function pem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f; // positive INTEGER
  return b.toString('hex');
}

/** Whole seconds: X.509 times carry no milliseconds, and a cert must not start after "now". */
function seconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

async function issue(opts: {
  subject: string;
  issuer: Level | null; // null: self-signed
  key: { privateKey: KeyObject; publicKey: KeyObject };
  notBefore: number;
  notAfter: number;
  ca: boolean;
  pathLen?: number;
}): Promise<Uint8Array> {
  const signingKey = (opts.issuer?.key ?? opts.key.privateKey).toCryptoKey(ECDSA_P384, false, ['sign']);
  const publicKey = opts.key.publicKey.toCryptoKey(ECDSA_P384, true, ['verify']);
  const usages = opts.ca
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
    : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: opts.subject,
    issuer: opts.issuer ? subjectOf(opts.issuer.certificate) : opts.subject,
    notBefore: seconds(opts.notBefore),
    notAfter: seconds(opts.notAfter),
    signingAlgorithm: SIGNING_ALG,
    publicKey,
    signingKey,
    extensions: await extensionsFor(opts.ca, opts.pathLen, usages, publicKey, opts.issuer),
  });
  return new Uint8Array(cert.rawData);
}

/**
 * Extensions in AWS's order: the root has basicConstraints, subjectKeyIdentifier, keyUsage;
 * intermediates add authorityKeyIdentifier (AWS's instance CA, pathLen 0, lists them as
 * basicConstraints, keyUsage, SKI, AKI); the leaf has only basicConstraints and a non-critical
 * keyUsage (AWS's leaf carries no key identifiers either).
 */
async function extensionsFor(ca: boolean, pathLen: number | undefined, usages: number, publicKey: CryptoKey, issuer: Level | null): Promise<x509.Extension[]> {
  const bc = new x509.BasicConstraintsExtension(ca, ca ? pathLen : undefined, true);
  if (!ca) return [bc, new x509.KeyUsagesExtension(usages, false)];
  const ski = await x509.SubjectKeyIdentifierExtension.create(publicKey);
  const ku = new x509.KeyUsagesExtension(usages, true);
  if (!issuer) return [bc, ski, ku];
  const issuerKey = createPublicKey(issuer.key).toCryptoKey(ECDSA_P384, true, ['verify']);
  const aki = await x509.AuthorityKeyIdentifierExtension.create(issuerKey);
  return pathLen === 0 ? [bc, ku, ski, aki] : [bc, aki, ski, ku];
}

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' });
}

function subjectOf(der: Uint8Array): string {
  return new x509.X509Certificate(der).subject;
}

/** The local certificate authority. Create with `SandboxPki.open()`. */
export class SandboxPki {
  readonly dir: string;
  readonly region: string;
  readonly #clock: () => number;
  readonly #root: Level;
  #levels: Level[];
  #renewal: Promise<void> | null = null;

  private constructor(dir: string, region: string, clock: () => number, root: Level, levels: Level[]) {
    this.dir = dir;
    this.region = region;
    this.#clock = clock;
    this.#root = root;
    this.#levels = levels;
  }

  /** Opens the PKI in `dataDir/pki`, creating the root and intermediates on first use. */
  static async open(options: PkiOptions = {}): Promise<SandboxPki> {
    const dataDir = options.dataDir ?? defaultDataDir();
    const clock = options.clock ?? Date.now;
    const region = options.region ?? 'local-1';
    if (!/^[a-z0-9-]{1,32}$/.test(region)) throw new InvalidArgumentError('region must be 1–32 of [a-z0-9-]');
    const dir = join(dataDir, 'pki');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new PkiError(`cannot create the PKI directory ${dir}`, { cause });
    }
    const root = await loadOrCreateRoot(dir, clock);
    const levels = loadLevels(dir, root);
    const pki = new SandboxPki(dir, region, clock, root, levels ?? []);
    await pki.#renewIfNeeded();
    return pki;
  }

  /** DER of the root certificate: the trust anchor verifiers need. */
  get rootCertificate(): Uint8Array {
    return new Uint8Array(this.#root.certificate);
  }

  rootPem(): string {
    return pem(this.#root.certificate, 'CERTIFICATE');
  }

  /** The current `cabundle`: root first, instance CA last (four certificates, as on AWS). */
  cabundle(): Uint8Array[] {
    return [this.#root, ...this.#levels].map((l) => new Uint8Array(l.certificate));
  }

  /**
   * Issues a leaf certificate for one enclave: a fresh P-384 key, the enclave id in the subject's
   * CN (`<enclave id>.<region>.sandbox`, like AWS's `<enclave id>.<region>.aws`), valid 3 hours.
   */
  async issueLeaf(enclaveId: string): Promise<LeafCredential> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(enclaveId)) throw new InvalidArgumentError('enclave id must be 1–64 of [A-Za-z0-9-]');
    await this.#renewIfNeeded();
    const instance = this.#levels[this.#levels.length - 1];
    if (!instance) throw new PkiError('no instance CA');
    const now = this.#clock();
    const notBefore = Math.floor(now / 1000) * 1000;
    const notAfter = notBefore + LEAF_LIFETIME_MS;
    const key = newKey();
    const certificate = await issue({
      subject: `C=US, ST=Washington, L=Seattle, O=nitro-sandbox, OU=sandbox, CN=${enclaveId}.${this.region}.sandbox`,
      issuer: instance,
      key,
      notBefore,
      notAfter,
      ca: false,
    });
    return { certificate, privateKey: key.privateKey, notBefore, notAfter, cabundle: this.cabundle() };
  }

  /** Renews the intermediates when any would expire before a leaf issued now. */
  async #renewIfNeeded(): Promise<void> {
    while (this.#renewal) await this.#renewal;
    const deadline = this.#clock() + LEAF_LIFETIME_MS + HOUR;
    const stale = this.#levels.length !== LEVELS.length || this.#levels.some((l) => l.notAfter < deadline) || this.#root.notAfter < deadline;
    if (!stale) return;
    if (this.#root.notAfter < deadline) throw new PkiError('the sandbox root certificate expires within the leaf lifetime; delete the PKI directory to make a new root');
    this.#renewal = this.#renew().finally(() => {
      this.#renewal = null;
    });
    await this.#renewal;
  }

  async #renew(): Promise<void> {
    const now = this.#clock();
    const levels: Level[] = [];
    let parent = this.#root;
    const label = randomBytes(8).toString('hex');
    for (const spec of LEVELS) {
      const key = newKey();
      const cn =
        spec.name === 'regional'
          ? `${label}.${this.region}.sandbox.nitro-enclaves`
          : spec.name === 'zonal'
            ? `${randomBytes(8).toString('hex')}.zonal.${this.region}.sandbox.nitro-enclaves`
            : `i-${randomBytes(9).toString('hex').slice(0, 17)}.${this.region}.sandbox.nitro-enclaves`;
      const notBefore = now - HOUR; // small back-dating: a verifier's clock may lag ours
      const notAfter = Math.min(now + spec.lifetime, parent.notAfter);
      const certificate = await issue({
        subject: `C=US, O=nitro-sandbox, OU=sandbox, CN=${cn}`,
        issuer: parent,
        key,
        notBefore,
        notAfter,
        ca: true,
        pathLen: spec.pathLen,
      });
      const level = { certificate, key: key.privateKey, notAfter: Math.floor(notAfter / 1000) * 1000 };
      levels.push(level);
      parent = level;
    }
    const file = {
      version: 1,
      levels: levels.map((l, i) => ({
        name: LEVELS[i]?.name,
        certificate: pem(l.certificate, 'CERTIFICATE'),
        key: l.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      })),
    };
    writePrivate(join(this.dir, 'intermediates.json'), `${JSON.stringify(file, null, 2)}\n`);
    this.#levels = levels;
  }
}

async function loadOrCreateRoot(dir: string, clock: () => number): Promise<Level> {
  const keyPath = join(dir, 'root.key');
  const certPath = join(dir, 'root.pem');
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    const key = newKey();
    const now = clock();
    const certificate = await issue({
      subject: 'C=US, O=nitro-sandbox, OU=sandbox, CN=sandbox.nitro-enclaves',
      issuer: null,
      key,
      notBefore: now - HOUR,
      notAfter: now + ROOT_LIFETIME_MS,
      ca: true,
    });
    // Exclusive create: when two processes race on a fresh directory, one root wins and the
    // loser loads it.
    try {
      writeFileSync(keyPath, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      writeFileSync(certPath, pem(certificate, 'CERTIFICATE'), { mode: 0o644, flag: 'wx' });
    } catch (cause) {
      if (!(cause instanceof Error && 'code' in cause && cause.code === 'EEXIST')) {
        throw new PkiError(`cannot write the root CA into ${dir}`, { cause });
      }
    }
  }
  try {
    const key = createPrivateKey(readFileSync(keyPath));
    const cert = new X509Certificate(readFileSync(certPath));
    if (!cert.checkPrivateKey(key)) throw new PkiError('root.key does not match root.pem');
    return { certificate: new Uint8Array(cert.raw), key, notAfter: Date.parse(cert.validTo) };
  } catch (cause) {
    if (cause instanceof PkiError) throw cause;
    throw new PkiError(`the root CA in ${dir} is unreadable`, { cause });
  }
}

/** Loads intermediates; null when absent or not a consistent chain below this root (then renewed). */
function loadLevels(dir: string, root: Level): Level[] | null {
  const path = join(dir, 'intermediates.json');
  if (!existsSync(path)) return null;
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as { version: number; levels: { certificate: string; key: string }[] };
    if (file.version !== 1 || !Array.isArray(file.levels) || file.levels.length !== LEVELS.length) return null;
    const levels: Level[] = [];
    let parentCert = new X509Certificate(root.certificate);
    for (const l of file.levels) {
      const cert = new X509Certificate(l.certificate);
      const key = createPrivateKey(l.key);
      if (!cert.checkPrivateKey(key) || !cert.verify(parentCert.publicKey)) return null;
      levels.push({ certificate: new Uint8Array(cert.raw), key, notAfter: Date.parse(cert.validTo) });
      parentCert = cert;
    }
    return levels;
  } catch {
    return null;
  }
}
