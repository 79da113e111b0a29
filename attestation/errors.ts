// One error hierarchy for the attestation domain, after panva/jose: a stable string `code` per
// class, fixed and uninformative messages for security failures, detail in `cause` / `detail`.

export class AttestationError extends Error {
  static readonly code: string = 'ERR_ATTESTATION';
  readonly code: string;
  /** Machine-readable detail for logs and `--verbose` output; never needed to decide anything. */
  readonly detail: string | undefined;
  constructor(message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof AttestationError).code;
    this.detail = options?.detail;
  }
}

/** The bytes are not a well-formed attestation document (CBOR, COSE or payload syntax). */
export class MalformedDocumentError extends AttestationError {
  static override readonly code = 'ERR_ATTESTATION_MALFORMED';
}

/** The COSE_Sign1 signature does not verify with the leaf certificate's key. */
export class SignatureVerificationError extends AttestationError {
  static override readonly code = 'ERR_ATTESTATION_SIGNATURE';
  constructor(options?: { cause?: unknown; detail?: string }) {
    super('signature verification failed', options);
  }
}

/** The chain does not end at any of the caller's trust anchors. */
export class UntrustedRootError extends AttestationError {
  static override readonly code = 'ERR_ATTESTATION_UNTRUSTED_ROOT';
}

/** A certificate of the chain is broken: wrong issuer, bad signature, constraints or key usage. */
export class InvalidChainError extends AttestationError {
  static override readonly code = 'ERR_ATTESTATION_CHAIN';
}

/** A certificate of the chain has expired at the verification time. */
export class ExpiredError extends AttestationError {
  static override readonly code = 'ERR_ATTESTATION_EXPIRED';
}

/** A certificate of the chain is not yet valid at the verification time. */
export class NotYetValidError extends AttestationError {
  static override readonly code = 'ERR_ATTESTATION_NOT_YET_VALID';
}

/** A PCR named by the caller's policy is missing or differs. */
export class PcrMismatchError extends AttestationError {
  static override readonly code = 'ERR_PCR_MISMATCH';
}

/** The document's nonce is not the one the caller expects. */
export class NonceMismatchError extends AttestationError {
  static override readonly code = 'ERR_NONCE_MISMATCH';
}

/** The document's timestamp is older than the caller's maximum age, or lies in the future. */
export class StaleDocumentError extends AttestationError {
  static override readonly code = 'ERR_ATTESTATION_TOO_OLD';
}

/** A debug-mode document (PCR0–2 all zero) where the caller did not allow debug mode. */
export class DebugModeError extends AttestationError {
  static override readonly code = 'ERR_DEBUG_MODE_NOT_ALLOWED';
}

/** A caller passed an argument the API cannot use (wrong type, size or range). */
export class InvalidArgumentError extends AttestationError {
  static override readonly code = 'ERR_INVALID_ARGUMENT';
}

/** The local PKI's data directory is unreadable, damaged or inconsistent. */
export class PkiError extends AttestationError {
  static override readonly code = 'ERR_PKI';
}
