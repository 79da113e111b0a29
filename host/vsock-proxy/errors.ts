// Errors of the vsock-proxy: its allowlist file and its arguments. Part of the host domain's
// hierarchy (HostError), each with a stable code.
import { HostError } from '../errors.ts';

/** The allowlist file is unreadable, not YAML, or not `allowlist: [{address, port}]`. */
export class AllowlistConfigError extends HostError {
  static override readonly code = 'ERR_VSOCK_PROXY_CONFIG';
}

/** The remote endpoint is not on the allowlist (AWS's vsock-proxy: "The given address and port are not allowed"). */
export class RemoteNotAllowedError extends HostError {
  static override readonly code = 'ERR_VSOCK_PROXY_NOT_ALLOWED';
}

/** A bad local port, remote address or remote port, or a missing host/daemon. */
export class VsockProxyArgumentError extends HostError {
  static override readonly code = 'ERR_VSOCK_PROXY_INVALID_ARGUMENT';
}
