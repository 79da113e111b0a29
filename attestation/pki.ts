// The sandbox's local PKI: the stand-in for the AWS Nitro PKI. It mirrors AWS's hierarchy so that
// documents have the same shape: a root (like "aws.nitro-enclaves", no pathLen), a regional CA
// (pathLen 2, ~20 days), a zonal CA (pathLen 1, ~6 days), an instance CA (pathLen 0, 1 day) and a
// per-enclave leaf (not a CA, digitalSignature, 3 hours) whose subject carries the enclave id.
// Intermediates are renewed from the root when they would expire before a fresh leaf does.
//
// The CA private keys are kept sealed under the data directory's custody key (custody.ts) and
// unsealed only here, in the process that signs. Whoever can unseal them can mint documents that
// verify against this root: that is the trust model (ARCHITECTURE.md, "Root of trust").
//
// Files, in `<data dir>/pki/` (0700): root.pem (0644, the trust anchor tools read), root.json
// (0600, the root certificate and its sealed key: the authoritative copy) and intermediates.json
// (0600, version 2: certificates and sealed keys). A data directory of an older version, with a
// plaintext root.key, is sealed on first open and root.key removed.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Custody, createExclusive, type SealedKey } from './custody.ts';
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

/**
 * The file that marks a folder as a sandbox data directory (written when the PKI is opened there).
 * Enclave builds refuse to read anything below a folder holding it, wherever it lies.
 */
export const DATA_DIR_MARKER = '.nitro-sandbox-data';

/** Default data directory: $NITRO_SANDBOX_HOME, else (unset or empty) ~/.nitro-sandbox. */
export function defaultDataDir(): string {
  // An empty value is taken as unset, as shells treat `VAR=`: it must not mean the current directory.
  return process.env.NITRO_SANDBOX_HOME || join(homedir(), '.nitro-sandbox');
}

/**
 * The sandbox root certificate of a data directory (`<dataDir>/pki/root.pem`, mode 0644): all a
 * verifier needs, without opening the PKI (which unseals the CA keys and creates the PKI when absent).
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

/** Replaces `path` atomically with `text` (temporary file, then rename). */
function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

const MARKER_TEXT = 'This folder is a nitro-sandbox data directory. Enclave builds refuse to read anything in it.\n';

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
  readonly #custody: Custody;
  readonly #root: Level;
  #levels: Level[];
  #renewal: Promise<void> | null = null;

  private constructor(dir: string, region: string, clock: () => number, custody: Custody, root: Level, levels: Level[]) {
    this.dir = dir;
    this.region = region;
    this.#clock = clock;
    this.#custody = custody;
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
      if (!existsSync(join(dataDir, DATA_DIR_MARKER))) createExclusive(join(dataDir, DATA_DIR_MARKER), MARKER_TEXT, 0o644);
    } catch (cause) {
      throw new PkiError(`cannot create the PKI directory ${dir}`, { cause });
    }
    // A new custody key only while nothing is sealed yet (a new CA, or an older plaintext one):
    // with sealed keys present, a missing custody key is an error, never silently replaced.
    const custody = Custody.open(dataDir, { create: !existsSync(join(dir, ROOT_FILE)) });
    const root = await loadOrCreateRoot(dir, clock, custody);
    const levels = loadLevels(dir, root, custody);
    const pki = new SandboxPki(dir, region, clock, custody, root, levels ?? []);
    await pki.#renewIfNeeded();
    return pki;
  }

  /**
   * The root certificate (PEM) of the PKI in `dataDir`, creating the PKI on first use. An existing
   * PKI is read without unsealing anything: this is what `pki export-root` prints.
   */
  static async rootPem(options: PkiOptions = {}): Promise<string> {
    const file = join(options.dataDir ?? defaultDataDir(), 'pki', ROOT_FILE);
    if (existsSync(file)) return pem(readRootFile(file).certificate, 'CERTIFICATE');
    return (await SandboxPki.open(options)).rootPem();
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
      version: INTERMEDIATES_VERSION,
      levels: levels.map((l, i) => {
        const name = LEVELS[i]?.name ?? 'intermediate';
        return { name, certificate: pem(l.certificate, 'CERTIFICATE'), key: this.#custody.seal(l.key, name, l.certificate) };
      }),
    };
    writeAtomic(join(this.dir, 'intermediates.json'), `${JSON.stringify(file, null, 2)}\n`, 0o600);
    this.#levels = levels;
  }
}

const ROOT_FILE = 'root.json';
const LEGACY_ROOT_KEY = 'root.key';
const INTERMEDIATES_VERSION = 2;

interface RootFile {
  readonly certificate: Uint8Array;
  readonly key: unknown;
}

function readRootFile(path: string): RootFile {
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown; certificate?: unknown; key?: unknown };
    if (file.version !== 1 || typeof file.certificate !== 'string') throw new PkiError(`${path} is not a sandbox root file (version 1)`);
    return { certificate: new Uint8Array(new X509Certificate(file.certificate).raw), key: file.key };
  } catch (cause) {
    if (cause instanceof PkiError) throw cause;
    throw new PkiError(`the root CA file ${path} is unreadable`, { cause });
  }
}

/** Writes root.json unless one exists: true when ours won (another process may have raced us). */
function createRootFile(dir: string, certificate: Uint8Array, sealed: SealedKey): boolean {
  const text = `${JSON.stringify({ version: 1, certificate: pem(certificate, 'CERTIFICATE'), key: sealed }, null, 2)}\n`;
  try {
    return createExclusive(join(dir, ROOT_FILE), text, 0o600);
  } catch (cause) {
    throw new PkiError(`cannot write the root CA into ${dir}`, { cause });
  }
}

/**
 * Loads the root from root.json (creating it on first use, or sealing an older plaintext root.key)
 * and makes root.pem, the copy tools read, match it.
 */
async function loadOrCreateRoot(dir: string, clock: () => number, custody: Custody): Promise<Level> {
  const rootFile = join(dir, ROOT_FILE);
  const certPath = join(dir, 'root.pem');
  const legacyKey = join(dir, LEGACY_ROOT_KEY);
  if (!existsSync(rootFile)) {
    if (existsSync(legacyKey) && existsSync(certPath)) {
      let key: KeyObject;
      let cert: X509Certificate;
      try {
        key = createPrivateKey(readFileSync(legacyKey));
        cert = new X509Certificate(readFileSync(certPath));
      } catch (cause) {
        throw new PkiError(`the root CA in ${dir} is unreadable`, { cause });
      }
      if (!cert.checkPrivateKey(key)) throw new PkiError('root.key does not match root.pem');
      const der = new Uint8Array(cert.raw);
      createRootFile(dir, der, custody.seal(key, 'root', der));
    } else {
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
      createRootFile(dir, certificate, custody.seal(key.privateKey, 'root', certificate));
    }
  }
  const file = readRootFile(rootFile);
  const key = custody.unseal(file.key, 'root', file.certificate);
  const cert = new X509Certificate(file.certificate);
  if (!cert.checkPrivateKey(key)) throw new PkiError('the sealed root key does not match the root certificate');
  const rootPem = pem(file.certificate, 'CERTIFICATE');
  try {
    if (!existsSync(certPath) || readFileSync(certPath, 'utf8') !== rootPem) writeAtomic(certPath, rootPem, 0o644);
    // The plaintext key of an older data directory goes once root.json holds it sealed.
    if (existsSync(legacyKey)) unlinkSync(legacyKey);
  } catch (cause) {
    if (!(cause instanceof Error && 'code' in cause && cause.code === 'ENOENT')) throw new PkiError(`cannot update the root CA files in ${dir}`, { cause });
  }
  return { certificate: file.certificate, key, notAfter: Date.parse(cert.validTo) };
}

/** Loads intermediates; null when absent or not a consistent chain below this root (then renewed). */
function loadLevels(dir: string, root: Level, custody: Custody): Level[] | null {
  const path = join(dir, 'intermediates.json');
  if (!existsSync(path)) return null;
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as { version: number; levels: { name: string; certificate: string; key: unknown }[] };
    // Version 1 held plaintext keys: replaced by new, sealed intermediates.
    if (file.version !== INTERMEDIATES_VERSION || !Array.isArray(file.levels) || file.levels.length !== LEVELS.length) return null;
    const levels: Level[] = [];
    let parentCert = new X509Certificate(root.certificate);
    for (const [i, l] of file.levels.entries()) {
      const cert = new X509Certificate(l.certificate);
      const der = new Uint8Array(cert.raw);
      const key = custody.unseal(l.key, LEVELS[i]?.name ?? 'intermediate', der);
      if (!cert.checkPrivateKey(key) || !cert.verify(parentCert.publicKey)) return null;
      levels.push({ certificate: der, key, notAfter: Date.parse(cert.validTo) });
      parentCert = cert;
    }
    return levels;
  } catch {
    return null;
  }
}
