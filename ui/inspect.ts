// The document inspector's analysis: every field of an attestation document, its certificate chain
// certificate by certificate, and each step of the verifier (attestation/verify.ts, after AWS's
// attestation_process.md §3) with its own verdict, so a failure shows where it happened and what
// still holds (a real AWS document verified today fails only its validity step).
//
// The verdict that counts is the verifier's own (`verifier` below, from verifyAttestation with the
// same options); the steps explain it. Each step is judged independently where it can be (the
// chain at a time inside the certificates' common validity period, or apart from time when there
// is none, the signature with the leaf's key), in the verifier's order, so the first failing step is the one the verifier reports
// (test/ui/inspect.test.ts checks that over mutated documents).
import { createHash, X509Certificate } from 'node:crypto';
import {
  AttestationError,
  decodeDocument,
  documentBytesFromFile,
  equalBytes,
  isDebugDocument,
  toHex,
  validateChain,
  verifyAttestation,
  verifyCoseSign1,
  type AttestationDocument,
  type CoseSign1,
} from '../attestation/index.ts';
import { UiInputError } from './errors.ts';

/** Documents are a few KiB (AWS's are about 4.5 KiB); anything past this is refused unread. */
export const MAX_DOCUMENT_BYTES = 64 * 1024;
/** attestation/verify.ts's default allowance for a timestamp ahead of the verifier's clock. */
const CLOCK_SKEW_MS = 60_000;

export interface Anchor {
  /** Shown on the root certificate when it is this anchor, e.g. "AWS Nitro Enclaves Root-G1". */
  readonly name: string;
  readonly der: Uint8Array;
}

export interface InspectOptions {
  readonly anchors: readonly Anchor[];
  /** Verification time, epoch ms. */
  readonly at: number;
  readonly expectedPcrs?: ReadonlyMap<number, Uint8Array>;
  readonly expectedNonce?: Uint8Array;
  readonly maxAgeMs?: number;
  readonly allowDebug?: boolean;
}

export const STEP_IDS = ['syntax', 'chain', 'validity', 'signature', 'debug', 'pcrs', 'nonce', 'age'] as const;
export type StepId = (typeof STEP_IDS)[number];

/** pass/fail; `skip` when the step was not asked for or cannot be judged (it says why). */
export type Verdict = 'pass' | 'fail' | 'skip';

export interface Step {
  readonly id: StepId;
  readonly title: string;
  readonly verdict: Verdict;
  /** The verifier's error code for this step's failure. */
  readonly code?: string;
  readonly detail: string;
}

export interface CertificateView {
  /** root, regional, zonal, instance, leaf (AWS's hierarchy), or intermediate N. */
  readonly role: string;
  readonly commonName: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore?: number;
  readonly notAfter?: number;
  readonly validAt: boolean;
  /** Names its issuer and verifies with its key (the root with its own); undefined when unparseable. */
  readonly signedByIssuer?: boolean;
  /** The trust anchor the root is, by DER; undefined when it is none (or for other certificates). */
  readonly anchor?: string;
  readonly sha256: string;
  readonly parsed: boolean;
}

export interface PcrComparison {
  readonly index: number;
  readonly expected: Uint8Array;
  readonly actual?: Uint8Array;
  /** Byte offsets where expected and actual differ (every offset past the shorter one counts). */
  readonly differing: readonly number[];
}

export type VerifierVerdict = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string; readonly detail?: string };

export interface Inspection {
  readonly size: number;
  readonly at: number;
  readonly document?: AttestationDocument;
  readonly debug?: boolean;
  /** Root first, leaf last: the order a trust decision flows. */
  readonly certificates: readonly CertificateView[];
  readonly steps: readonly Step[];
  readonly pcrs: readonly PcrComparison[];
  readonly verifier: VerifierVerdict;
  /** The certificates' common validity period, when every one parses. */
  readonly window?: { readonly notBefore: number; readonly notAfter: number; readonly latestStart: string; readonly earliestEnd: string };
  /** Set when the document fails only for its age: verified at its own timestamp, it passes. */
  readonly validAtItsTime?: boolean;
}

const TITLES: Record<StepId, string> = {
  syntax: 'Syntax: COSE_Sign1 with a CBOR payload of the nine fields',
  chain: 'Certificate chain ends at a trusted root',
  validity: 'Every certificate valid at the verification time',
  signature: 'COSE signature verifies with the leaf certificate key',
  debug: 'Not a debug-mode document (unless allowed)',
  pcrs: 'Expected PCRs present and equal',
  nonce: 'Nonce equals the expected one',
  age: 'Timestamp recent enough',
};

function step(id: StepId, verdict: Verdict, detail: string, code?: string): Step {
  return { id, title: TITLES[id], verdict, detail, ...(code !== undefined ? { code } : {}) };
}

function roles(count: number): string[] {
  // AWS's chain (and the sandbox PKI's): root, regional, zonal, instance, then the enclave's leaf.
  if (count === 5) return ['root', 'regional', 'zonal', 'instance', 'leaf'];
  return Array.from({ length: count }, (_, i) => (i === 0 ? 'root' : i === count - 1 ? 'leaf' : `intermediate ${i}`));
}

function commonName(subject: string): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1] ?? subject.split('\n')[0] ?? '';
}

interface Parsed {
  readonly der: Uint8Array;
  readonly cert?: X509Certificate;
}

function parseAll(ders: readonly Uint8Array[]): Parsed[] {
  return ders.map((der) => {
    try {
      return { der, cert: new X509Certificate(der) };
    } catch {
      return { der };
    }
  });
}

function certificateViews(parsed: readonly Parsed[], anchors: readonly Anchor[], at: number): CertificateView[] {
  const names = roles(parsed.length);
  return parsed.map(({ der, cert }, i) => {
    const sha256 = createHash('sha256').update(der).digest('hex');
    const role = names[i] ?? '';
    const anchor = i === 0 ? anchors.find((a) => equalBytes(a.der, der))?.name : undefined;
    if (!cert) return { role, commonName: '(not a certificate)', subject: '', issuer: '', validAt: false, sha256, parsed: false, ...(anchor ? { anchor } : {}) };
    const issuer = i === 0 ? cert : parsed[i - 1]?.cert;
    let signedByIssuer = false;
    try {
      signedByIssuer = issuer !== undefined && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
    } catch {
      signedByIssuer = false;
    }
    const notBefore = cert.validFromDate.getTime();
    const notAfter = cert.validToDate.getTime();
    return {
      role,
      commonName: commonName(cert.subject),
      subject: cert.subject.replace(/\n/g, ', '),
      issuer: cert.issuer.replace(/\n/g, ', '),
      notBefore,
      notAfter,
      validAt: notBefore <= at && at <= notAfter,
      signedByIssuer,
      sha256,
      parsed: true,
      ...(anchor ? { anchor } : {}),
    };
  });
}

function codeOf(e: unknown): { code: string; message: string; detail?: string } {
  if (e instanceof AttestationError) return { code: e.code, message: e.message, ...(e.detail !== undefined ? { detail: e.detail } : {}) };
  throw e;
}

function describeFailure(e: { message: string; detail?: string }): string {
  return e.detail === undefined ? e.message : `${e.message}: ${e.detail}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function differingBytes(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

/** Decodes, checks step by step, and asks the verifier for its verdict. Never throws for bad bytes. */
export function inspectDocument(bytes: Uint8Array, options: InspectOptions): Inspection {
  const trustAnchors = options.anchors.map((a) => a.der);
  const at = options.at;
  const policy = {
    trustAnchors,
    at,
    ...(options.expectedPcrs ? { expectedPcrs: options.expectedPcrs } : {}),
    ...(options.expectedNonce ? { expectedNonce: options.expectedNonce } : {}),
    ...(options.maxAgeMs !== undefined ? { maxAgeMs: options.maxAgeMs } : {}),
    allowDebug: options.allowDebug === true,
  };
  let verifier: VerifierVerdict;
  try {
    verifyAttestation(bytes, policy);
    verifier = { ok: true };
  } catch (e) {
    verifier = { ok: false, ...codeOf(e) };
  }

  // 1. syntax
  let decoded: { cose: CoseSign1; document: AttestationDocument };
  try {
    decoded = decodeDocument(bytes);
  } catch (e) {
    const f = codeOf(e);
    const notReached = STEP_IDS.slice(1).map((id) => step(id, 'skip', 'not reached: the bytes are not a document'));
    return { size: bytes.length, at, certificates: [], steps: [step('syntax', 'fail', describeFailure(f), f.code), ...notReached], pcrs: [], verifier };
  }
  const { cose, document } = decoded;
  const steps: Step[] = [step('syntax', 'pass', `${bytes.length} bytes: ${bytes[0] === 0xd2 ? 'tagged' : 'untagged'} COSE_Sign1, ES384, payload of ${document.pcrs.size} PCRs, ${document.cabundle.length} CA certificates`)];

  // Root first, leaf last.
  const parsed = parseAll([...document.cabundle, document.certificate]);
  const certificates = certificateViews(parsed, options.anchors, at);
  let window: Inspection['window'];
  if (parsed.every((p) => p.cert)) {
    let notBefore = -Infinity;
    let notAfter = Infinity;
    let latestStart = '';
    let earliestEnd = '';
    for (const c of certificates) {
      if ((c.notBefore ?? -Infinity) > notBefore) [notBefore, latestStart] = [c.notBefore ?? notBefore, `${c.role} (${c.commonName})`];
      if ((c.notAfter ?? Infinity) < notAfter) [notAfter, earliestEnd] = [c.notAfter ?? notAfter, `${c.role} (${c.commonName})`];
    }
    window = { notBefore, notAfter, latestStart, earliestEnd };
  }

  // 2. chain, and 4. signature: judged at a time inside the common validity period, so that a
  // document's age does not hide whether its chain and signature hold.
  let chain: Step;
  let signature: Step | undefined;
  if (window && window.notBefore <= window.notAfter) {
    try {
      verifyAttestation(bytes, { trustAnchors, at: window.notBefore, allowDebug: true });
      chain = step('chain', 'pass', `${certificates.length} certificates, each issued and signed by the one before it, from a trusted root (${certificates[0]?.anchor ?? ''})`);
      signature = step('signature', 'pass', 'ECDSA P-384 over SHA-384 of the COSE Sig_structure, with the leaf certificate key');
    } catch (e) {
      const f = codeOf(e);
      if (f.code === 'ERR_ATTESTATION_SIGNATURE') {
        chain = step('chain', 'pass', `${certificates.length} certificates, each issued and signed by the one before it, from a trusted root (${certificates[0]?.anchor ?? ''})`);
        signature = step('signature', 'fail', 'the signature does not verify with the leaf certificate key: the signed bytes were changed after signing', f.code);
      } else chain = step('chain', 'fail', describeFailure(f), f.code);
    }
  } else if (window) {
    // No common validity period. The verifier judges the chain before any time (its links, CA
    // flags and root do not depend on it), so it is judged here the same way; the signature is
    // then checked with the leaf's key below, and validity fails at any time.
    try {
      validateChain(document.certificate, document.cabundle, trustAnchors);
      chain = step('chain', 'pass', `${certificates.length} certificates, each issued and signed by the one before it, from a trusted root (${certificates[0]?.anchor ?? ''}); they have no common validity period (${window.latestStart} starts after ${window.earliestEnd} ends)`);
    } catch (e) {
      const f = codeOf(e);
      chain = step('chain', 'fail', describeFailure(f), f.code);
    }
  } else {
    // Some certificate does not parse: the verifier refuses the chain for that alone.
    try {
      verifyAttestation(bytes, { trustAnchors, at, allowDebug: true });
      chain = step('chain', 'pass', 'trusted');
    } catch (e) {
      const f = codeOf(e);
      chain = step('chain', 'fail', describeFailure(f), f.code);
    }
  }
  steps.push(chain);

  // 3. validity at `at`
  if (!window) steps.push(step('validity', 'skip', 'not judged: a certificate does not parse'));
  else if (at < window.notBefore) steps.push(step('validity', 'fail', `at ${iso(at)} the ${window.latestStart} certificate is not valid yet (valid from ${iso(window.notBefore)})`, 'ERR_ATTESTATION_NOT_YET_VALID'));
  else if (at > window.notAfter) steps.push(step('validity', 'fail', `at ${iso(at)} the ${window.earliestEnd} certificate has expired (valid until ${iso(window.notAfter)})`, 'ERR_ATTESTATION_EXPIRED'));
  else steps.push(step('validity', 'pass', `${iso(at)} lies within every certificate's validity (${iso(window.notBefore)} – ${iso(window.notAfter)})`));

  // 4. signature, when the chain could not vouch for the leaf: checked with the leaf's key anyway.
  if (!signature) {
    const leaf = parsed.at(-1)?.cert;
    let ok: boolean | undefined;
    try {
      ok = leaf ? verifyCoseSign1(cose, leaf.publicKey) : undefined;
    } catch {
      ok = undefined;
    }
    signature =
      ok === undefined
        ? step('signature', 'skip', 'not judged: the leaf certificate has no usable P-384 key')
        : ok
          ? step('signature', 'pass', "verifies with the leaf certificate's key (which the chain does not vouch for)")
          : step('signature', 'fail', "does not verify with the leaf certificate's key", 'ERR_ATTESTATION_SIGNATURE');
  }
  steps.push(signature);

  // 5.–8. the caller's policy, failing closed, in the verifier's order.
  const debug = isDebugDocument(document);
  if (!debug) steps.push(step('debug', 'pass', 'production enclave: PCR0–2 are not all zero'));
  else if (options.allowDebug === true) steps.push(step('debug', 'pass', 'debug-mode enclave (PCR0–2 all zero), accepted as asked'));
  else steps.push(step('debug', 'fail', 'debug-mode enclave: PCR0–2 are all zero and its console is readable; a key pinned to PCRs is never released to it', 'ERR_DEBUG_MODE_NOT_ALLOWED'));

  const pcrs: PcrComparison[] = [];
  for (const [index, expected] of [...(options.expectedPcrs ?? new Map<number, Uint8Array>())].sort(([a], [b]) => a - b)) {
    const actual = document.pcrs.get(index);
    pcrs.push({ index, expected, ...(actual ? { actual } : {}), differing: actual ? differingBytes(expected, actual) : Array.from(expected, (_, i) => i) });
  }
  if (pcrs.length === 0) steps.push(step('pcrs', 'skip', 'no expected PCRs given'));
  else {
    const bad = pcrs.filter((p) => p.differing.length > 0);
    if (bad.length === 0) steps.push(step('pcrs', 'pass', `${pcrs.map((p) => `PCR${p.index}`).join(', ')} equal`));
    else {
      const text = bad.map((p) => (p.actual ? `PCR${p.index}: ${p.differing.length} of ${Math.max(p.expected.length, p.actual.length)} bytes differ` : `PCR${p.index} is missing from the document`));
      steps.push(step('pcrs', 'fail', text.join('; '), 'ERR_PCR_MISMATCH'));
    }
  }

  if (!options.expectedNonce) steps.push(step('nonce', 'skip', 'no expected nonce given'));
  else if (document.nonce !== null && equalBytes(document.nonce, options.expectedNonce)) steps.push(step('nonce', 'pass', `nonce ${toHex(document.nonce)}`));
  else steps.push(step('nonce', 'fail', document.nonce === null ? 'the document carries no nonce' : `the document's nonce is ${toHex(document.nonce)}`, 'ERR_NONCE_MISMATCH'));

  if (options.maxAgeMs === undefined) steps.push(step('age', 'skip', 'no maximum age given'));
  else {
    const age = at - document.timestamp;
    if (age > options.maxAgeMs) steps.push(step('age', 'fail', `the document is ${Math.round(age / 1000)} s old; at most ${Math.round(options.maxAgeMs / 1000)} s allowed`, 'ERR_ATTESTATION_TOO_OLD'));
    else if (age < -CLOCK_SKEW_MS) steps.push(step('age', 'fail', `the document is timestamped ${Math.round(-age / 1000)} s in the future`, 'ERR_ATTESTATION_TOO_OLD'));
    else steps.push(step('age', 'pass', `${Math.round(age / 1000)} s old`));
  }

  // Fails for its age alone: only the validity step (and the age limit, measured from the same
  // time) fails, and the document's own timestamp lies inside every certificate's validity.
  const validAtItsTime =
    window !== undefined &&
    window.notBefore <= document.timestamp &&
    document.timestamp <= window.notAfter &&
    steps.some((s) => s.id === 'validity' && s.verdict === 'fail') &&
    steps.every((s) => s.verdict !== 'fail' || s.id === 'validity' || s.id === 'age');
  return { size: bytes.length, at, document, debug, certificates, steps, pcrs, verifier, ...(window ? { window } : {}), ...(validAtItsTime ? { validAtItsTime } : {}) };
}

/**
 * A document as people paste it: hex (as `verify-attestation` and many tools print it; it starts
 * with 84 or d2, the COSE_Sign1 array or tag), else base64 or base64url (documentBytesFromFile).
 */
export function documentFromText(text: string): Uint8Array {
  const t = text.replace(/\s+/g, '');
  if (t.length > 2 * MAX_DOCUMENT_BYTES) throw new UiInputError(`the document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  let bytes: Uint8Array;
  if (/^(84|d2)([0-9a-f]{2})*$/i.test(t)) bytes = new Uint8Array(Buffer.from(t, 'hex'));
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) bytes = documentBytesFromFile(new TextEncoder().encode(t));
  else throw new UiInputError('the document must be base64, base64url or hex');
  if (bytes.length === 0) throw new UiInputError('the document is empty');
  if (bytes.length > MAX_DOCUMENT_BYTES) throw new UiInputError(`the document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  return bytes;
}
