// Envelope encryption's branch of the enclave error hierarchy (../errors.ts): a stable string `code`
// per class, so callers and tests branch on `code`, never on the message. Integrity failures carry a fixed,
// uninformative message ("envelope authentication failed"); what exactly failed is in `cause`
// (a plain Error with a short description), so an attacker probing with altered envelopes learns
// nothing from the text that the code does not already say.

import { EnclaveError } from '../errors.ts';

export class EnvelopeError extends EnclaveError {
  static override readonly code: string = 'ERR_ENVELOPE';
}

/**
 * The header is not one this library reads: wrong magic, unsupported version or algorithm suite,
 * frame size out of range, lengths that do not add up, a context that is not canonical.
 */
export class EnvelopeBadHeaderError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_BAD_HEADER';
}

/** The input ends before the final frame (or before the header) is complete. */
export class EnvelopeTruncatedError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_TRUNCATED';
  constructor(options?: { cause?: unknown }) {
    super('envelope is truncated', options);
  }
}

/**
 * Authentication failed: header tag, key commitment, a frame's tag, sequence number or IV, or the
 * key provider rejected the encrypted data key as not authentic (KMS InvalidCiphertextException).
 * Reordered, dropped, duplicated or foreign frames all end here.
 */
export class EnvelopeTamperedError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_TAMPERED';
  constructor(options?: { cause?: unknown }) {
    super('envelope authentication failed', options);
  }
}

/** Bytes follow the final frame: the envelope was concatenated with something. */
export class EnvelopeTrailingDataError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_TRAILING_DATA';
  constructor(options?: { cause?: unknown }) {
    super('bytes follow the final frame', options);
  }
}

/** The envelope's encryption context is not the one the caller demanded (`expectedContext`). */
export class EnvelopeContextMismatchError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_CONTEXT_MISMATCH';
}

/**
 * The key provider could not produce or decrypt a data key (access denied, unknown key, no
 * encrypted data key for this provider, network failure). The provider's own error is in `cause`.
 */
export class EnvelopeDataKeyError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_DATA_KEY';
}

/** A caller-supplied argument is unusable: context entries, frame size, limits, key lengths. */
export class EnvelopeInvalidArgumentError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_INVALID_ARGUMENT';
}

/**
 * A resource limit was reached: the decryptor's maxHeaderBytes / maxFrameSize /
 * maxEncryptedDataKeys, the 2^32 − 2 frames of one message, or more plaintext than the declared
 * `plaintextLength` (which the data-key cache has already accounted for).
 */
export class EnvelopeLimitError extends EnvelopeError {
  static override readonly code = 'ERR_ENVELOPE_LIMIT';
}
