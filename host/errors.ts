// One error hierarchy for the host domain (enclave lifecycle, isolation, CLI-facing checks), with a
// stable `code` per class.

export class HostError extends Error {
  static readonly code: string = 'ERR_HOST';
  readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof HostError).code;
  }
}

/** A run/terminate/console argument nitro-cli would refuse (memory, CPUs, names, ids). */
export class InvalidEnclaveArgumentError extends HostError {
  static override readonly code = 'ERR_INVALID_ARGUMENT';
}

/** No enclave has that id or name. */
export class EnclaveNotFoundError extends HostError {
  static override readonly code = 'ERR_ENCLAVE_NOT_FOUND';
}

/** The name or CID is already used by a running enclave. */
export class EnclaveConflictError extends HostError {
  static override readonly code = 'ERR_ENCLAVE_CONFLICT';
}

/** An isolation layer the image demands is unavailable, and weaker isolation was not accepted. */
export class IsolationUnavailableError extends HostError {
  static override readonly code = 'ERR_ISOLATION_UNAVAILABLE';
}

/** The enclave process died or refused its image before it was ready. */
export class EnclaveBootError extends HostError {
  static override readonly code = 'ERR_ENCLAVE_BOOT_FAILED';
}

/** `console` on an enclave that is not in debug mode (nitro-cli refuses it too). */
export class ConsoleUnavailableError extends HostError {
  static override readonly code = 'ERR_CONSOLE_NOT_DEBUG_MODE';
}

/** The host daemon is not reachable, or answered something it should not have. */
export class DaemonError extends HostError {
  static override readonly code = 'ERR_HOST_DAEMON';
}

/**
 * A directory the host would create or use is reachable by another user (an ancestor another user
 * may write, a symlink they own, a directory they own or may enter): it is refused, never used.
 */
export class PrivatePathError extends HostError {
  static override readonly code = 'ERR_PRIVATE_PATH';
}
