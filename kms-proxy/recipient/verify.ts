// The Recipient of an attested request (KMS Developer Guide, "Cryptographic attestation support in
// AWS KMS"): the attestation document is verified against the configured trust anchors (the
// sandbox root by default, AWS's Nitro Root-G1 when asked), at most `maxAgeMs` old, chain cached;
// its `public_key` must be an RSA key, to which the response is enveloped. Its PCRs become the
// `kms:RecipientAttestation:*` condition keys and the CloudTrail `additionalEventData.recipient`.
import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import {
  AttestationError,
  ChainCache,
  awsNitroRoot,
  sandboxRootPath,
  toHex,
  verifyAttestation,
  type AttestationDocument,
  type TrustAnchor,
} from '../../attestation/index.ts';
import { kmsError, type KmsError } from '../errors.ts';
import { prepareRecipient, RecipientKeyError, type PreparedRecipient } from './cms.ts';

/** How old a document may be by default: AWS accepts documents for five minutes. */
export const DEFAULT_MAX_AGE_MS = 5 * 60_000;

export interface RecipientOptions {
  /** Roots accepted for attestation documents (DER or PEM). Default: the sandbox root (below). */
  readonly trustAnchors?: readonly TrustAnchor[];
  /** Where the sandbox PKI lives when `trustAnchors` is not given: `<dir>/pki/root.pem`. Default ~/.nitro-sandbox. */
  readonly sandboxDataDir?: string;
  /** Also accept documents from real Nitro Enclaves (AWS Nitro Enclaves Root-G1). Default false. */
  readonly awsNitroRoot?: boolean;
  /** Maximum document age in ms (default 5 minutes). */
  readonly maxAgeMs?: number;
}

/** What a verified Recipient contributes to a request. */
export interface AttestedRecipient {
  /** The document's `public_key` (RSA SubjectPublicKeyInfo, DER). */
  readonly spki: Uint8Array;
  readonly key: PreparedRecipient;
  readonly document: AttestationDocument;
  /** `kms:RecipientAttestation:ImageSha384` and `…:PCR<n>` (lower-case hex). */
  readonly context: Readonly<Record<string, string>>;
  /** CloudTrail's `additionalEventData.recipient`. */
  readonly audit: Readonly<Record<string, string>>;
}

/** Condition keys from a verified document: ImageSha384 = PCR0, PCR<n> for every PCR it carries. */
export function recipientContext(doc: AttestationDocument): Record<string, string> {
  const out: Record<string, string> = {};
  const pcr0 = doc.pcrs.get(0);
  if (pcr0) out['kms:RecipientAttestation:ImageSha384'] = toHex(pcr0);
  for (const [i, v] of doc.pcrs) out[`kms:RecipientAttestation:PCR${i}`] = toHex(v);
  return out;
}

/**
 * The CloudTrail record AWS writes for an attested call (KMS Developer Guide, "Logging AWS KMS API
 * calls with AWS CloudTrail", Decrypt with Recipient): module id, image digest (PCR0) and
 * PCR1, 2, 3, 4 and 8 under these names.
 */
export function recipientAudit(doc: AttestationDocument): Record<string, string> {
  const out: Record<string, string> = { attestationDocumentModuleId: doc.moduleId };
  const pcr0 = doc.pcrs.get(0);
  if (pcr0) out.attestationDocumentEnclaveImageDigest = toHex(pcr0);
  for (const i of [1, 2, 3, 4, 8]) {
    const v = doc.pcrs.get(i);
    if (v) out[`attestationDocumentEnclavePCR${i}`] = toHex(v);
  }
  return out;
}

/**
 * What the caller is told when the document is refused. AWS KMS answers an unusable Recipient
 * with a ValidationException (the Decrypt/GenerateDataKey API references list no attestation-
 * specific error; the document is request input that failed validation) and keeps the reason to
 * itself. Neither the issue trackers nor the pages searched record AWS's exact message text, so
 * this one is ours; the reason (e.g. ERR_ATTESTATION_UNTRUSTED_ROOT) goes to the audit log only.
 */
export const INVALID_DOCUMENT_MESSAGE = 'The attestation document in the Recipient is not valid.';

/** The one answer to an unusable Recipient: `code: reason` goes to the audit log (`detail`) only. */
export function invalidRecipient(code: string, reason: string): KmsError {
  return kmsError('ValidationException', INVALID_DOCUMENT_MESSAGE, `${code}: ${reason}`);
}

export class RecipientVerifier {
  readonly maxAgeMs: number;
  readonly cache = new ChainCache();
  /**
   * Recipient keys already parsed and checked, by SPKI: an enclave makes one key pair and sends it
   * in every document (the Nitro Enclaves SDKs do), so each distinct key is parsed once. LRU.
   */
  readonly #keys = new Map<string, PreparedRecipient>();
  readonly #options: RecipientOptions;
  readonly #clock: () => number;
  #anchors: readonly TrustAnchor[] | undefined;

  constructor(options: RecipientOptions = {}, clock: () => number = Date.now) {
    this.#options = options;
    this.#clock = clock;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    if (!Number.isFinite(this.maxAgeMs) || this.maxAgeMs <= 0) throw new RangeError(`maxAgeMs must be positive, got ${this.maxAgeMs}`);
    if (options.trustAnchors !== undefined) {
      // A bad anchor is a configuration error, reported at start-up rather than on the first request.
      options.trustAnchors.forEach((a, i) => {
        try {
          new X509Certificate(a);
        } catch (cause) {
          throw new TypeError(`recipient.trustAnchors[${i}] is not a certificate (DER or PEM)`, { cause });
        }
      });
      this.#anchors = this.#withAws([...options.trustAnchors]);
    }
  }

  #withAws(list: TrustAnchor[]): readonly TrustAnchor[] {
    return Object.freeze(this.#options.awsNitroRoot ? [...list, awsNitroRoot()] : list);
  }

  /**
   * The trust anchors. The sandbox root is read lazily (only its certificate, never its key), so
   * a KMS started before the first enclave host still accepts that host's documents.
   */
  anchors(): readonly TrustAnchor[] {
    if (this.#anchors) return this.#anchors;
    const file = sandboxRootPath(this.#options.sandboxDataDir);
    // Until the sandbox root exists (no host has started yet), look again on the next request.
    if (!existsSync(file)) return this.#withAws([]);
    this.#anchors = this.#withAws([readFileSync(file, 'utf8')]);
    return this.#anchors;
  }

  /** Verifies a Recipient's document; throws ValidationException (reason in `detail`). */
  verify(document: Uint8Array): AttestedRecipient {
    const anchors = this.anchors();
    if (anchors.length === 0) throw invalidRecipient('ERR_RECIPIENT_NO_TRUST_ANCHOR', 'no trust anchor is configured for attestation documents');
    let doc: AttestationDocument;
    try {
      // Debug-mode documents are accepted, as AWS accepts them: their PCR0–2 are zero, so a key
      // policy pinning measurements never matches them (Nitro Enclaves User Guide, "Debug mode").
      doc = verifyAttestation(document, { trustAnchors: anchors, at: this.#clock(), maxAgeMs: this.maxAgeMs, chainCache: this.cache, allowDebug: true }).document;
    } catch (e) {
      if (e instanceof AttestationError) throw invalidRecipient(e.code, `${e.message}${e.detail ? ` (${e.detail})` : ''}`);
      throw e;
    }
    if (doc.publicKey === null) throw invalidRecipient('ERR_RECIPIENT_KEY', 'the document carries no public_key');
    return { spki: doc.publicKey, key: this.#prepared(doc.publicKey), document: doc, context: recipientContext(doc), audit: recipientAudit(doc) };
  }

  #prepared(spki: Uint8Array): PreparedRecipient {
    const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('base64');
    let p = this.#keys.get(id);
    if (p) {
      this.#keys.delete(id);
    } else {
      try {
        p = prepareRecipient(spki);
      } catch (e) {
        if (e instanceof RecipientKeyError) throw invalidRecipient(e.code, e.message);
        throw e;
      }
      if (this.#keys.size >= 1024) this.#keys.delete(this.#keys.keys().next().value as string);
    }
    this.#keys.set(id, p);
    return p;
  }
}
