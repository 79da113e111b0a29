// One error hierarchy for the web console, with a stable `code` per class and the HTTP status it
// answers. Errors of the other domains (attestation, enclave, host, KMS) keep their own codes;
// `httpError` (used only by the app's onError) maps every one of them to a status in one place.
import { AttestationError } from '../attestation/index.ts';
import { EnclaveError } from '../enclave/index.ts';
import { HostError } from '../host/index.ts';
import { KmsError } from '../kms-proxy/index.ts';

export class UiError extends Error {
  static readonly code: string = 'ERR_UI';
  static readonly status: number = 400;
  readonly code: string;
  readonly status: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as typeof UiError).code;
    this.status = (new.target as typeof UiError).status;
  }
}

/** A form field or request body the console cannot use; the message names the field. */
export class UiInputError extends UiError {
  static override readonly code = 'ERR_UI_INPUT';
}

/** No token, or a wrong one (every page, API and asset). */
export class UiUnauthorizedError extends UiError {
  static override readonly code = 'ERR_UI_UNAUTHORIZED';
  static override readonly status = 401;
}

/** A state-changing request without the CSRF token, from another origin, or for another Host. */
export class UiForbiddenError extends UiError {
  static override readonly code = 'ERR_UI_FORBIDDEN';
  static override readonly status = 403;
}

/** No such page, enclave or key. */
export class UiNotFoundError extends UiError {
  static override readonly code = 'ERR_UI_NOT_FOUND';
  static override readonly status = 404;
}

/** The demo is already playing. */
export class UiBusyError extends UiError {
  static override readonly code = 'ERR_UI_BUSY';
  static override readonly status = 409;
}

/** A request body over its route's limit (refused before it is read whole). */
export class UiTooLargeError extends UiError {
  static override readonly code = 'ERR_UI_TOO_LARGE';
  static override readonly status = 413;
}

/** An enclave did not answer on the port in time. */
export class UiEnclaveTimeoutError extends UiError {
  static override readonly code = 'ERR_UI_ENCLAVE_TIMEOUT';
  static override readonly status = 504;
}

export interface HttpError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const HOST_STATUS: Readonly<Record<string, number>> = {
  ERR_ENCLAVE_NOT_FOUND: 404,
  ERR_ENCLAVE_CONFLICT: 409,
  ERR_HOST_DAEMON: 502,
};

/** The status, code and message a failure answers with; undefined for a bug (answered 500). */
export function httpError(e: unknown): HttpError | undefined {
  if (e instanceof UiError) return { status: e.status, code: e.code, message: e.message };
  if (e instanceof KmsError) return { status: e.status >= 500 ? 502 : e.status, code: e.awsName, message: e.message };
  if (e instanceof AttestationError) return { status: 400, code: e.code, message: e.detail === undefined ? e.message : `${e.message}: ${e.detail}` };
  if (e instanceof HostError) return { status: HOST_STATUS[e.code] ?? 400, code: e.code, message: e.message };
  // Image, build and channel errors; ECONNREFUSED when nobody listens on an enclave port.
  if (e instanceof EnclaveError) return { status: e.code === 'ECONNREFUSED' ? 502 : 400, code: e.code, message: e.message };
  return undefined;
}

/** The console cannot listen on the address asked for (in use, not local, …). */
export class UiListenError extends UiError {
  static override readonly code = 'ERR_UI_LISTEN';
}
