// Certificate chain validation for attestation documents (attestation_process.md §3.2.3.2): the
// chain [leaf, cabundle reversed] must end at a trusted root compared by DER; every certificate
// must be valid at the verification time; issuers must be CAs (basicConstraints, pathLen honoured,
// keyCertSign) and the leaf must not be one (digitalSignature, P-384 key). No revocation checks,
// as on AWS. Signatures are checked with node:crypto (OpenSSL); extensions are read with
// @peculiar/x509. A validated chain can be cached by the DER of its certificates, so repeated
// documents from one enclave cost one signature check; parsed certificates and verified
// certificate signatures are cached by content too, so a new leaf under known intermediates
// costs one parse and one certificate signature check.
import { createHash, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { equalBytes } from './bytes.ts';
import { AttestationError, ExpiredError, InvalidArgumentError, InvalidChainError, NotYetValidError, UntrustedRootError } from './errors.ts';
import { x509 } from './x509.ts';

const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
/** Extensions this validator understands; any other critical extension fails the chain (RFC 5280 §4.2). */
const KNOWN_CRITICAL = new Set([OID_BASIC_CONSTRAINTS, OID_KEY_USAGE]);

/** What a validated chain yields; `notBefore`/`notAfter` are the intersection of all periods. */
export interface ValidatedChain {
  readonly leafKey: KeyObject;
  readonly notBefore: number;
  readonly notAfter: number;
  /** Which certificate bounds the period on each side (for error messages). */
  readonly latestStart: string;
  readonly earliestEnd: string;
}

function chainError(message: string, subject?: string): never {
  throw new InvalidChainError(message, subject === undefined ? undefined : { detail: subject });
}

/** What validation reads from one certificate, all of it decoded up front. */
interface ParsedCertificate {
  readonly node: NodeX509;
  readonly subject: string;
  readonly issuer: string;
  readonly signatureOid: string | undefined;
  readonly publicKey: KeyObject;
  readonly ca: boolean;
  readonly pathLength: number | undefined;
  /** keyUsage bits, or undefined when the extension is absent. */
  readonly keyUsage: number | undefined;
  /** The OID of a critical extension this validator does not understand, if any. */
  readonly unknownCritical: string | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** An LRU keyed by strings: Map keeps insertion order, so re-inserting on use makes the first key the oldest. */
class Lru<V> {
  readonly #map = new Map<string, V>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get size(): number {
    return this.#map.size;
  }
  get(key: string): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string);
  }
  clear(): void {
    this.#map.clear();
  }
}

// Parsing a certificate (@peculiar/x509 for its extensions) and checking its signature are the
// costly steps, and one chain's intermediates are shared by every enclave of a host: both are
// cached by content (SHA-256 of the DER), so a new leaf under known intermediates costs one parse
// and one signature check. Results are pure functions of the bytes; only successes are cached.
const parsedCertificates = new Lru<ParsedCertificate>(256);
const verifiedLinks = new Lru<true>(1024);

function derKey(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64');
}

function parse(der: Uint8Array, key: string, title: string): ParsedCertificate {
  const hit = parsedCertificates.get(key);
  if (hit) return hit;
  let p: ParsedCertificate;
  try {
    const node = new NodeX509(der);
    const cert = new x509.X509Certificate(der);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    p = {
      node,
      subject: node.subject.replace(/\n/g, ', '),
      issuer: node.issuer,
      signatureOid: node.signatureAlgorithmOid,
      // OpenSSL decodes the key lazily: a broken one fails here, as a broken certificate.
      publicKey: node.publicKey,
      ca: bc?.ca === true,
      pathLength: bc?.pathLength,
      keyUsage: ku?.usages,
      unknownCritical: cert.extensions.find((e) => e.critical && !KNOWN_CRITICAL.has(e.type))?.type,
      notBefore: node.validFromDate.getTime(),
      notAfter: node.validToDate.getTime(),
    };
  } catch (cause) {
    throw new InvalidChainError(`${title} is not a valid X.509 certificate`, { cause });
  }
  parsedCertificates.set(key, p);
  return p;
}

/**
 * Validates `[leaf, ...cabundle reversed]` against the trust anchors (DER). Throws
 * UntrustedRootError, InvalidChainError; validity periods are returned, not checked, so a cached
 * chain can be re-checked against any time (see `checkValidity`).
 */
export function validateChain(certificate: Uint8Array, cabundle: readonly Uint8Array[], anchors: readonly Uint8Array[]): ValidatedChain {
  try {
    return validate(certificate, cabundle, anchors);
  } catch (cause) {
    if (cause instanceof AttestationError) throw cause;
    // OpenSSL can parse a certificate and still fail later on its key or signature encoding
    // (found by fuzzing): that is a broken chain, not a crash.
    throw new InvalidChainError('certificate chain is malformed', { cause, detail: cause instanceof Error ? cause.message : String(cause) });
  }
}

/** cabundle[0] is the chain's root: it must be one of the anchors, byte for byte (compared by DER). */
export function assertTrustedRoot(cabundle: readonly Uint8Array[], anchors: readonly Uint8Array[]): void {
  const root = cabundle[0];
  if (root === undefined || !anchors.some((a) => equalBytes(a, root))) {
    throw new UntrustedRootError('certificate chain does not end at a trusted root');
  }
}

function validate(certificate: Uint8Array, cabundle: readonly Uint8Array[], anchors: readonly Uint8Array[]): ValidatedChain {
  assertTrustedRoot(cabundle, anchors);
  const ders = [certificate, ...[...cabundle].reverse()];
  const keys = ders.map(derKey);
  const parsed = ders.map((d, i) => parse(d, keys[i] as string, i === 0 ? 'leaf certificate' : `cabundle[${cabundle.length - i}]`));
  let notBefore = -Infinity;
  let notAfter = Infinity;
  let latestStart = '';
  let earliestEnd = '';
  for (let i = 0; i < parsed.length; i++) {
    const c = parsed[i] as ParsedCertificate;
    const issuerIndex = Math.min(i + 1, parsed.length - 1); // the root is its own issuer
    const issuer = parsed[issuerIndex] as ParsedCertificate;
    const isLeaf = i === 0;
    const subject = c.subject;
    if (c.signatureOid !== ECDSA_WITH_SHA384) {
      chainError(`certificate is not signed with ecdsa-with-SHA384 (${ECDSA_WITH_SHA384})`, subject);
    }
    if (c.issuer !== issuer.node.subject) chainError("certificate's issuer does not name the next certificate in the chain", subject);
    const link = `${keys[i] as string}|${keys[issuerIndex] as string}`;
    if (!verifiedLinks.get(link)) {
      if (!c.node.verify(issuer.publicKey)) chainError('certificate signature does not verify with its issuer key', subject);
      verifiedLinks.set(link, true);
    }
    if (c.unknownCritical !== undefined) chainError(`unknown critical extension ${c.unknownCritical}`, subject);
    if (isLeaf) {
      if (c.ca) chainError('leaf certificate must not be a CA', subject);
      if (c.keyUsage === undefined || (c.keyUsage & x509.KeyUsageFlags.digitalSignature) === 0) chainError('leaf certificate lacks keyUsage digitalSignature', subject);
      const key = c.publicKey;
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
        chainError('leaf certificate key is not ECDSA P-384', subject);
      }
    } else {
      if (!c.ca) chainError('issuer certificate is not a CA (basicConstraints)', subject);
      // CA certificates between this one and the leaf: must not exceed pathLenConstraint.
      if (c.pathLength !== undefined && i - 1 > c.pathLength) chainError(`pathLenConstraint ${c.pathLength} exceeded`, subject);
      if (c.keyUsage === undefined || (c.keyUsage & x509.KeyUsageFlags.keyCertSign) === 0) chainError('issuer certificate lacks keyUsage keyCertSign', subject);
    }
    if (c.notBefore > notBefore) {
      notBefore = c.notBefore;
      latestStart = subject;
    }
    if (c.notAfter < notAfter) {
      notAfter = c.notAfter;
      earliestEnd = subject;
    }
  }
  return { leafKey: (parsed[0] as ParsedCertificate).publicKey, notBefore, notAfter, latestStart, earliestEnd };
}

/** Throws ExpiredError / NotYetValidError when `at` (ms) is outside the chain's joint validity. */
export function checkValidity(chain: ValidatedChain, at: number): void {
  if (at < chain.notBefore) {
    throw new NotYetValidError('certificate is not yet valid', { detail: `${chain.latestStart} valid from ${new Date(chain.notBefore).toISOString()}` });
  }
  if (at > chain.notAfter) {
    throw new ExpiredError('certificate has expired', { detail: `${chain.earliestEnd} expired ${new Date(chain.notAfter).toISOString()}` });
  }
}

/** An LRU of validated chains keyed by SHA-256 over the length-prefixed DER of every certificate. */
export class ChainCache {
  readonly maxEntries: number;
  readonly #lru: Lru<ValidatedChain>;
  hits = 0;
  misses = 0;

  constructor(maxEntries = 1024) {
    // NaN would make the bound never apply; 0 would make every verification a miss.
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new InvalidArgumentError('ChainCache maxEntries must be a positive integer');
    this.maxEntries = maxEntries;
    this.#lru = new Lru(maxEntries);
  }

  static key(certificate: Uint8Array, cabundle: readonly Uint8Array[]): string {
    const h = createHash('sha256');
    const len = Buffer.alloc(4);
    for (const d of [certificate, ...cabundle]) {
      len.writeUInt32BE(d.length);
      h.update(len).update(d);
    }
    return h.digest('base64');
  }

  get(key: string): ValidatedChain | undefined {
    const v = this.#lru.get(key);
    if (v) this.hits++;
    else this.misses++;
    return v;
  }

  set(key: string, chain: ValidatedChain): void {
    this.#lru.set(key, chain);
  }

  get size(): number {
    return this.#lru.size;
  }

  clear(): void {
    this.#lru.clear();
  }
}
