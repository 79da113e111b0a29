// The vsock channel's error hierarchy. Socket-like failures a program already handles for TCP keep
// Node's errno-style codes (ECONNREFUSED, ECONNRESET, EADDRINUSE) so existing handling carries over;
// everything specific to this channel uses an `ERR_VSOCK_…` code. A branch of the enclave hierarchy
// (../errors.ts); names are set explicitly, as bundled enclave code may see its classes renamed.
import { EnclaveError } from '../errors.ts';

export type VsockErrorCode =
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'EADDRINUSE'
  | 'ERR_VSOCK_MALFORMED_FRAME'
  | 'ERR_VSOCK_PROTOCOL'
  | 'ERR_VSOCK_FLOW_CONTROL'
  | 'ERR_VSOCK_TRANSPORT_OVERFLOW'
  | 'ERR_VSOCK_CHANNEL_CLOSED'
  | 'ERR_VSOCK_INVALID_PORT'
  | 'ERR_VSOCK_INVALID_ARGUMENT'
  | 'ERR_VSOCK_READ_TOO_LARGE'
  | 'ERR_VSOCK_TOO_MANY_CONNECTIONS'
  | 'ERR_VSOCK_NSM_UNAVAILABLE'
  | 'ERR_VSOCK_NSM_FAILED'
  | 'ERR_VSOCK_NSM_TOO_LARGE'
  | 'ERR_VSOCK_INVALID_CID'
  | 'ERR_VSOCK_CID_IN_USE'
  | 'ERR_VSOCK_UNKNOWN_CID';

export class VsockError extends EnclaveError {
  static override readonly code: string = 'ERR_VSOCK';
  override readonly code: VsockErrorCode;
  constructor(code: VsockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VsockError';
    this.code = code;
  }
}

/** The other side sent bytes that do not decode to a valid frame. */
export class MalformedFrameError extends VsockError {
  constructor(message: string) {
    super('ERR_VSOCK_MALFORMED_FRAME', message);
    this.name = 'MalformedFrameError';
  }
}

/** A well-formed frame that is not allowed in the current state (unknown stream, duplicate open, …). */
export class ProtocolError extends VsockError {
  constructor(message: string, code: 'ERR_VSOCK_PROTOCOL' | 'ERR_VSOCK_FLOW_CONTROL' = 'ERR_VSOCK_PROTOCOL') {
    super(code, message);
    this.name = 'ProtocolError';
  }
}

/** Like a refused TCP connect: nobody listens on (cid, port). Mirrors Node's system error fields. */
export class ConnectionRefusedError extends VsockError {
  readonly syscall = 'connect';
  readonly port: number;
  constructor(port: number) {
    super('ECONNREFUSED', `connect ECONNREFUSED vsock port ${port}`);
    this.name = 'ConnectionRefusedError';
    this.port = port;
  }
}

export class ConnectionResetError extends VsockError {
  constructor() {
    super('ECONNRESET', 'connection reset by peer');
    this.name = 'ConnectionResetError';
  }
}
