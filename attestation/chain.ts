// Certificate chain validation for attestation documents (attestation_process.md §3.2.3.2): the
// chain [leaf, cabundle reversed] must end at a trusted root compared by DER; every certificate
// must be valid at the verification time; issuers must be CAs (basicConstraints, pathLen honoured,
// keyCertSign) and the leaf must not be one (digitalSignature, P-384 key). No revocation checks,
// as on AWS. Signatures are checked with node:crypto (OpenSSL); extensions are read with
// @peculiar/x509. A validated chain can be cached by the DER of its certificates, so repeated
// documents from one enclave cost one signature check.
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

function parse(der: Uint8Array, title: string): { node: NodeX509; cert: x509.X509Certificate } {
  try {
    return { node: new NodeX509(der), cert: new x509.X509Certificate(der) };
  } catch (cause) {
    throw new InvalidChainError(`${title} is not a valid X.509 certificate`, { cause });
  }
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
  const parsed = ders.map((d, i) => parse(d, i === 0 ? 'leaf certificate' : `cabundle[${cabundle.length - i}]`));
  let notBefore = -Infinity;
  let notAfter = Infinity;
  let latestStart = '';
  let earliestEnd = '';
  for (let i = 0; i < parsed.length; i++) {
    const { node, cert } = parsed[i] as { node: NodeX509; cert: x509.X509Certificate };
    const issuer = parsed[i + 1] ?? parsed[i]; // the root is its own issuer
    const isLeaf = i === 0;
    const subject = node.subject.replace(/\n/g, ', ');
    if (node.signatureAlgorithmOid !== ECDSA_WITH_SHA384) {
      chainError(`certificate is not signed with ecdsa-with-SHA384 (${ECDSA_WITH_SHA384})`, subject);
    }
    if (node.issuer !== issuer!.node.subject) chainError("certificate's issuer does not name the next certificate in the chain", subject);
    if (!node.verify(issuer!.node.publicKey)) chainError('certificate signature does not verify with its issuer key', subject);
    for (const ext of cert.extensions) {
      if (ext.critical && !KNOWN_CRITICAL.has(ext.type)) chainError(`unknown critical extension ${ext.type}`, subject);
    }
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    if (isLeaf) {
      if (bc?.ca) chainError('leaf certificate must not be a CA', subject);
      if (!ku || (ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) chainError('leaf certificate lacks keyUsage digitalSignature', subject);
      const key = node.publicKey;
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
        chainError('leaf certificate key is not ECDSA P-384', subject);
      }
    } else {
      if (!bc?.ca) chainError('issuer certificate is not a CA (basicConstraints)', subject);
      // CA certificates between this one and the leaf: must not exceed pathLenConstraint.
      if (bc.pathLength !== undefined && i - 1 > bc.pathLength) chainError(`pathLenConstraint ${bc.pathLength} exceeded`, subject);
      if (!ku || (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) chainError('issuer certificate lacks keyUsage keyCertSign', subject);
    }
    const from = node.validFromDate.getTime();
    const to = node.validToDate.getTime();
    if (from > notBefore) {
      notBefore = from;
      latestStart = subject;
    }
    if (to < notAfter) {
      notAfter = to;
      earliestEnd = subject;
    }
  }
  return { leafKey: parsed[0]!.node.publicKey, notBefore, notAfter, latestStart, earliestEnd };
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
  readonly #map = new Map<string, ValidatedChain>();
  hits = 0;
  misses = 0;

  constructor(maxEntries = 1024) {
    // NaN would make the bound never apply; 0 would make every verification a miss.
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new InvalidArgumentError('ChainCache maxEntries must be a positive integer');
    this.maxEntries = maxEntries;
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
    const v = this.#map.get(key);
    if (v) {
      this.#map.delete(key);
      this.#map.set(key, v);
      this.hits++;
    } else this.misses++;
    return v;
  }

  set(key: string, chain: ValidatedChain): void {
    this.#map.delete(key);
    this.#map.set(key, chain);
    while (this.#map.size > this.maxEntries) {
      const oldest = this.#map.keys().next().value;
      if (oldest === undefined) break;
      this.#map.delete(oldest);
    }
  }

  get size(): number {
    return this.#map.size;
  }

  clear(): void {
    this.#map.clear();
  }
}
