// Errors of the host daemon, its client and the CLI's run configuration. Part of the host domain's
// hierarchy (HostError, stable `code`s); errors that crossed the daemon socket keep the code the
// daemon sent, so the CLI prints the same `CODE: message` as an in-process Host would throw.
import { HostError } from '../errors.ts';

// "The daemon cannot be reached or started" (socket, lock file, runtime directory) is the host
// domain's DaemonError (ERR_HOST_DAEMON), re-exported here for the daemon's users.
export { DaemonError } from '../errors.ts';

/** A request the daemon cannot accept: not JSON, too long, unknown op or field, wrong type. */
export class DaemonBadRequestError extends HostError {
  static override readonly code = 'ERR_DAEMON_BAD_REQUEST';
}

/** The request's protocol version `v` is not one this daemon speaks. */
export class DaemonVersionError extends HostError {
  static override readonly code = 'ERR_DAEMON_VERSION';
}

/** A LISTEN on a parent port that another client already listens on (like EADDRINUSE). */
export class DaemonListenerError extends HostError {
  static override readonly code = 'ERR_DAEMON_LISTENER';
}

/** A `run-enclave --config` file that is unreadable, not JSON, or has unknown or mistyped keys. */
export class RunConfigError extends HostError {
  static override readonly code = 'ERR_RUN_CONFIG';
}

/** An error the daemon reported for a request, re-created on the client with the daemon's code. */
export class DaemonRemoteError extends HostError {
  static override readonly code: string = 'ERR_HOST_DAEMON';
  override readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
