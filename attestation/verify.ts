// Verifies an attestation document the way AWS documents it (attestation_process.md §3): syntax,
// certificate chain to a trusted root, validity at the verification time, the COSE signature with
// the leaf key; then the caller's policy, failing closed: every PCR the policy names must be present
// and equal (CVE-2025-64186 was a verifier accepting documents that omit them), the nonce must
// match, the timestamp must be recent, and debug-mode documents are refused unless allowed.
import { createHash, X509Certificate } from 'node:crypto';
import { abytes, equalBytes, fromHex, toHex } from './bytes.ts';
import { ChainCache, assertTrustedRoot, checkValidity, validateChain } from './chain.ts';
import { decodeDocument, type AttestationDocument } from './document.ts';
import { verifyCoseSign1 } from './cose.ts';
import {
  DebugModeError,
  InvalidArgumentError,
  NonceMismatchError,
  PcrMismatchError,
  SignatureVerificationError,
  StaleDocumentError,
} from './errors.ts';
import { isZero } from './pcr.ts';
import { AWS_NITRO_ROOT_G1_PEM } from './roots.ts';

/** Trust anchor: DER bytes or a PEM string of a root certificate. */
export type TrustAnchor = Uint8Array | string;

export interface VerifyOptions {
  /** Roots to accept, compared by DER. Required: the caller chooses (`awsNitroRoot()`, the sandbox root, …). */
  readonly trustAnchors: readonly TrustAnchor[];
  /** Verification time; default now. */
  readonly at?: Date | number;
  /** PCR index → expected value (bytes or hex). Each one named must be present and equal. */
  readonly expectedPcrs?: ReadonlyMap<number, Uint8Array | string> | Readonly<Record<number, Uint8Array | string>>;
  /** When set, the document's nonce must be present and equal to it. */
  readonly expectedNonce?: Uint8Array;
  /** When set, the document's timestamp must be at most this old (ms) and not in the future beyond `clockSkewMs`. */
  readonly maxAgeMs?: number;
  /** Allowed lead of a document timestamp over the verifier's clock, with `maxAgeMs`. Default 60 s. */
  readonly clockSkewMs?: number;
  /** Accept debug-mode documents (PCR0–2 all zero). Default false. */
  readonly allowDebug?: boolean;
  /** Reuse validated chains across calls (see ChainCache). */
  readonly chainCache?: ChainCache;
}

export interface VerifiedDocument {
  readonly document: AttestationDocument;
  /** True when PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode. */
  readonly debug: boolean;
}

let awsRootDer: Uint8Array | undefined;
/** DER of the AWS Nitro Enclaves Root-G1 certificate (built in). */
export function awsNitroRoot(): Uint8Array {
  awsRootDer ??= new Uint8Array(new X509Certificate(AWS_NITRO_ROOT_G1_PEM).raw);
  return new Uint8Array(awsRootDer);
}

// Parsed anchors per caller array (parsing PEM is the costly part), reused only while the array
// still holds the same elements: a caller that removes or replaces a root must stop trusting it.
const anchorCache = new WeakMap<readonly TrustAnchor[], { readonly from: readonly TrustAnchor[]; readonly der: Uint8Array[] }>();
function anchorsDer(anchors: readonly TrustAnchor[]): Uint8Array[] {
  const hit = anchorCache.get(anchors);
  if (hit && hit.from.length === anchors.length && hit.from.every((a, i) => a === anchors[i])) return hit.der;
  if (!Array.isArray(anchors) || anchors.length === 0) throw new InvalidArgumentError('trustAnchors must name at least one root');
  const out = anchors.map((a, i) => {
    if (a instanceof Uint8Array) return a;
    try {
      return new Uint8Array(new X509Certificate(a).raw);
    } catch (cause) {
      throw new InvalidArgumentError(`trustAnchors[${i}] is not a certificate`, { cause });
    }
  });
  anchorCache.set(anchors, { from: [...anchors], der: out });
  return out;
}

function expectedPcrEntries(p: VerifyOptions['expectedPcrs']): [number, Uint8Array][] {
  if (p === undefined) return [];
  const entries: [number | string, Uint8Array | string][] = p instanceof Map ? [...p] : Object.entries(p);
  return entries.map(([k, v]) => {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= 32) throw new InvalidArgumentError(`expected PCR index ${String(k)} out of range`);
    const value = typeof v === 'string' ? fromHex(v, `expected PCR${i}`) : v;
    if (!(value instanceof Uint8Array) || ![32, 48, 64].includes(value.length)) throw new InvalidArgumentError(`expected PCR${i} must be 32, 48 or 64 bytes`);
    return [i, value];
  });
}

/** A time limit option: a NaN or negative one would silently turn its check off or fail everything. */
function duration(ms: number | undefined, title: string): number | undefined {
  if (ms !== undefined && (typeof ms !== 'number' || !(ms >= 0))) throw new InvalidArgumentError(`${title} must be a non-negative number of milliseconds`);
  return ms;
}

/** True when a document is from a debug-mode enclave (PCR0–2 present and all zero). */
export function isDebugDocument(doc: AttestationDocument): boolean {
  return [0, 1, 2].every((i) => {
    const v = doc.pcrs.get(i);
    return v !== undefined && isZero(v);
  });
}

/**
 * Verifies `bytes` (a COSE_Sign1 attestation document) and returns the decoded document.
 * Throws an AttestationError subclass with a stable `code` on any failure; never anything else.
 */
export function verifyAttestation(bytes: Uint8Array, options: VerifyOptions): VerifiedDocument {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options are required');
  const anchors = anchorsDer(options.trustAnchors);
  const at = options.at === undefined ? Date.now() : options.at instanceof Date ? options.at.getTime() : options.at;
  if (typeof at !== 'number' || !Number.isFinite(at)) throw new InvalidArgumentError('at must be a valid time');
  const expected = expectedPcrEntries(options.expectedPcrs);
  const maxAgeMs = duration(options.maxAgeMs, 'maxAgeMs');
  const skew = duration(options.clockSkewMs, 'clockSkewMs') ?? 60_000;
  const expectedNonce = options.expectedNonce === undefined ? undefined : abytes(options.expectedNonce, 'expectedNonce');

  // 1. syntax
  const { cose, document } = decodeDocument(bytes);

  // 2. chain (cached by the DER of its certificates) and validity at `at`
  const cache = options.chainCache;
  const key = cache ? ChainCache.key(document.certificate, document.cabundle) : '';
  let chain = cache?.get(key);
  if (chain) {
    // A cached chain was validated against some anchors; the root must be one of *these*.
    assertTrustedRoot(document.cabundle, anchors);
  } else {
    chain = validateChain(document.certificate, document.cabundle, anchors);
    cache?.set(key, chain);
  }
  checkValidity(chain, at);

  // 3. signature
  if (!verifyCoseSign1(cose, chain.leafKey)) throw new SignatureVerificationError();

  // 4. the caller's policy, failing closed
  const debug = isDebugDocument(document);
  if (debug && options.allowDebug !== true) throw new DebugModeError('debug-mode document not allowed');
  for (const [i, want] of expected) {
    const got = document.pcrs.get(i);
    if (got === undefined) throw new PcrMismatchError('PCR mismatch', { detail: `PCR${i} is missing from the document` });
    if (!equalBytes(got, want)) throw new PcrMismatchError('PCR mismatch', { detail: `PCR${i} is ${toHex(got)}, expected ${toHex(want)}` });
  }
  if (expectedNonce !== undefined) {
    if (document.nonce === null || !equalBytes(document.nonce, expectedNonce)) throw new NonceMismatchError('nonce mismatch');
  }
  if (maxAgeMs !== undefined) {
    const age = at - document.timestamp;
    if (age > maxAgeMs) throw new StaleDocumentError('document is too old', { detail: `age ${age} ms > ${maxAgeMs} ms` });
    if (age < -skew) throw new StaleDocumentError('document timestamp is in the future', { detail: `${-age} ms ahead` });
  }
  return { document, debug };
}

/** SHA-256 of a certificate's DER, hex: how AWS publishes its root's fingerprint. */
export function derSha256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
