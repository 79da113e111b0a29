// One error hierarchy for the enclave domain (images, builds, the bootstrap), after panva/jose: a
// stable string `code` per class, so callers and tests branch on `code`, never on the message.
// Security failures (a signature that does not verify) get a fixed message; detail goes in `cause`.

export class EnclaveError extends Error {
  static readonly code: string = 'ERR_ENCLAVE';
  readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof EnclaveError).code;
  }
}

/** Base of every "this file is not a usable image" error, so a caller can catch them as one. */
export class ImageError extends EnclaveError {
  static override readonly code: string = 'ERR_IMAGE';
}

/** The file does not start with the image magic number: not an image at all (or another format). */
export class ImageBadMagicError extends ImageError {
  static override readonly code = 'ERR_IMAGE_BAD_MAGIC';
}

/** The image's format version is not one this build reads. */
export class ImageUnsupportedVersionError extends ImageError {
  static override readonly code = 'ERR_IMAGE_UNSUPPORTED_VERSION';
}

/** The file ends before the header, a section header or a section's data does. */
export class ImageTruncatedError extends ImageError {
  static override readonly code = 'ERR_IMAGE_TRUNCATED';
}

/** The file (or its declared length) exceeds MAX_IMAGE_SIZE. */
export class ImageTooLargeError extends ImageError {
  static override readonly code = 'ERR_IMAGE_TOO_LARGE';
}

/** The CRC32 in the header does not match the bytes: the file was altered or damaged. */
export class ImageBadChecksumError extends ImageError {
  static override readonly code = 'ERR_IMAGE_BAD_CHECKSUM';
}

/** A section header carries a type this format version does not define. */
export class ImageUnknownSectionError extends ImageError {
  static override readonly code = 'ERR_IMAGE_UNKNOWN_SECTION';
}

/**
 * The checksum is right but the content is not a canonical image: sections missing, repeated or out
 * of order, reserved fields set, trailing bytes, a descriptor that is not canonical JSON or does
 * not match its schema.
 */
export class ImageMalformedError extends ImageError {
  static override readonly code = 'ERR_IMAGE_MALFORMED';
}

/** The signature section does not verify: fixed message, the reason is in `cause`. */
export class ImageBadSignatureError extends ImageError {
  static override readonly code = 'ERR_IMAGE_BAD_SIGNATURE';
  constructor(options?: { cause?: unknown }) {
    super('image signature verification failed', options);
  }
}

/**
 * The file is a real AWS EIF (a Linux kernel and ramdisks): describe-eif, pcr and sign-eif read
 * it, but only images made by `nitro-sandbox build-enclave` can run here.
 */
export class ImageEifNotRunnableError extends ImageError {
  static override readonly code = 'ERR_IMAGE_EIF_NOT_RUNNABLE';
}

/** The bundler refused the entry (syntax error, unresolved import, …); its messages are kept. */
export class BuildFailedError extends EnclaveError {
  static override readonly code = 'ERR_BUILD_FAILED';
}

/**
 * An import the build may not read: outside the project root, in a sandbox data directory, a
 * dependency the lockfile does not list, or not a file (confine.ts). Names the first import and
 * its importer; the message lists every refusal.
 */
export class BuildImportRefusedError extends EnclaveError {
  static override readonly code = 'ERR_BUILD_IMPORT_REFUSED';
  /** The import as written in the source. */
  readonly specifier: string;
  /** The importing file, relative to the project root. */
  readonly importer: string;
  readonly reason: string;
  constructor(message: string, refusal: { specifier: string; importer: string; reason: string }) {
    super(message);
    this.specifier = refusal.specifier;
    this.importer = refusal.importer;
    this.reason = refusal.reason;
  }
}

/** A build option is unusable: bad name, metadata, isolation flags, resources, ports. */
export class BuildInvalidOptionError extends EnclaveError {
  static override readonly code = 'ERR_BUILD_INVALID_OPTION';
}

/** The signing certificate or key is unreadable, not P-384, or the key does not match the certificate. */
export class SigningKeyError extends EnclaveError {
  static override readonly code = 'ERR_SIGNING_KEY';
}

/** The bootstrap runs on a Node other than the one the image's runtime section names. */
export class RuntimeMismatchError extends EnclaveError {
  static override readonly code = 'ERR_RUNTIME_MISMATCH';
}

/** The application module does not export the documented entry point. */
export class AppEntryPointError extends EnclaveError {
  static override readonly code = 'ERR_APP_ENTRY_POINT';
}

/** The application module threw while it was being evaluated (before `main` ran). */
export class AppLoadError extends EnclaveError {
  static override readonly code = 'ERR_APP_LOAD';
}

/** A caller passed an argument of the wrong type to the library API. */
export class EnclaveInvalidArgumentError extends EnclaveError {
  static override readonly code = 'ERR_INVALID_ARGUMENT';
}

// Errors of the parts an app bundles (sessions, the SDK). Their codes name a family, and the class
// carries the exact code given at the throw site (so one class serves every check of a protocol).

export type SessionErrorCode =
  | 'ERR_SESSION_CLOSED'
  | 'ERR_SESSION_TIMEOUT'
  | 'ERR_SESSION_REFUSED'
  | 'ERR_SESSION_PROTOCOL'
  | 'ERR_SESSION_BINDING'
  | 'ERR_SESSION_REPLAY'
  | 'ERR_SESSION_OUT_OF_ORDER'
  | 'ERR_SESSION_AUTH';

export type BootProtocolErrorCode = 'ERR_BOOT_TRUNCATED' | 'ERR_BOOT_NO_IMAGE' | 'ERR_BOOT_TOO_MANY_IMAGES';

/**
 * The host's boot stream (boot-protocol.ts) is not a sequence of image frames: it ended inside a
 * frame or before any, or carried more images than a launch has.
 */
export class BootProtocolError extends EnclaveError {
  static override readonly code: string = 'ERR_BOOT';
  override readonly code: BootProtocolErrorCode;
  constructor(code: BootProtocolErrorCode, message: string) {
    super(message);
    this.name = 'BootProtocolError';
    this.code = code;
  }
}

/** An attested session failed: closed, timed out, refused, unbound document, or a bad record. */
export class SessionError extends EnclaveError {
  static override readonly code: string = 'ERR_SESSION';
  override readonly code: SessionErrorCode;
  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Set explicitly: a bundler may rename the class (new.target.name would then be 'SessionError2').
    this.name = 'SessionError';
    this.code = code;
  }
}

/** A CiphertextForRecipient the enclave must not open: malformed, not for this key, or not KMS's algorithms. */
export class CmsError extends EnclaveError {
  static override readonly code = 'ERR_CMS_INVALID';
}

export type JsonRequestErrorCode = 'ERR_JSON_REQUEST_INVALID' | 'ERR_JSON_REQUEST_HANDLER_FAILED';

/**
 * A request to `serveJsonRequests` could not be served: its bytes are not UTF-8 JSON, or the app's
 * handler failed without an error code of its own (a non-Error value, an answer JSON cannot encode).
 */
export class JsonRequestError extends EnclaveError {
  static override readonly code: string = 'ERR_JSON_REQUEST';
  override readonly code: JsonRequestErrorCode;
  constructor(code: JsonRequestErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JsonRequestError';
    this.code = code;
  }
}

export type KmsClientErrorCode = 'ERR_KMS_CLIENT_TRANSPORT' | 'ERR_KMS_CLIENT_HTTP' | 'ERR_KMS_CLIENT_NOT_ATTESTED' | 'ERR_KMS_CLIENT_ARGUMENT';

/** The enclave's KMS exchange failed below the KMS API: connection, HTTP framing, or a response that is not sealed. */
export class KmsClientError extends EnclaveError {
  static override readonly code: string = 'ERR_KMS_CLIENT';
  override readonly code: KmsClientErrorCode;
  constructor(code: KmsClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KmsClientError';
    this.code = code;
  }
}

/** The KMS answered with an error: `name` is AWS's exception name (e.g. AccessDeniedException). */
export class KmsServiceError extends EnclaveError {
  static override readonly code = 'ERR_KMS_SERVICE';
  readonly status: number;
  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.status = status;
  }
}
