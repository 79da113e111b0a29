// One JSON request per connection on a vsock port, the exchange the example apps speak with the
// host's `Host.request`: the client sends a JSON document and half-closes, the app answers one JSON
// document and ends the stream. Every failure is answered as data (`{ ok: false, name, code,
// message }`), never thrown: a peer must not be able to crash the app or leave a rejection unhandled.
import type { EnclaveServices } from '../services.ts';
import type { VsockConnection, VsockListener } from '../vsock/index.ts';
import { readAll } from '../vsock/read-all.ts';
import { VsockError } from '../vsock/errors.ts';
import { EnclaveInvalidArgumentError, JsonRequestError } from '../errors.ts';

/** Default bound on one request: ample for JSON requests, small next to an enclave's memory. */
export const DEFAULT_JSON_REQUEST_MAX_BYTES = 1 << 20;

/** The answer to a request that failed; `code` is always a string (see serveJsonRequests). */
export interface JsonErrorAnswer {
  readonly ok: false;
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

/** Receives the parsed request; returns (or resolves to) the JSON-serializable answer. */
export type JsonRequestHandler = (request: unknown) => unknown;

export interface ServeJsonRequestsOptions {
  /** Refuse a request longer than this many bytes (ERR_VSOCK_READ_TOO_LARGE); default 1 MiB. */
  readonly maxBytes?: number;
  /**
   * Builds the answer sent for a failed request from the default one and what was thrown, e.g.
   * `(a) => ({ ...a, app: 'my-app/1' })`. If it throws, the default answer is sent.
   */
  readonly decorateError?: (answer: JsonErrorAnswer, error: unknown) => object;
}

/**
 * Listens on vsock `port` and serves one JSON request per connection: reads until the client
 * half-closes (at most `maxBytes`), parses the bytes as UTF-8 JSON, calls `handler` with the value
 * and writes `JSON.stringify` of what it returns or resolves to, then ends the stream. The answer
 * is the handler's own (add `ok: true` yourself if your clients expect it).
 *
 * A request that fails is answered `{ ok: false, name, code, message }`, and the stream ended:
 * - more than `maxBytes`: `VsockError` / `ERR_VSOCK_READ_TOO_LARGE` (the rest of the request is
 *   read and discarded, so the client still gets the answer);
 * - not UTF-8 or not JSON (an empty request included): `JsonRequestError` / `ERR_JSON_REQUEST_INVALID`;
 * - the handler throws or rejects: the error's own `name`, `code` and `message`; an error without
 *   a string `code` gets `ERR_JSON_REQUEST_HANDLER_FAILED`, and so does a non-Error value or an
 *   answer `JSON.stringify` cannot encode (then `name` is `JsonRequestError`).
 * A connection that errors or is reset before its request is complete is dropped (logged with
 * `ctx.log.warn`). Returns the listener: `close()` stops accepting new connections.
 */
export function serveJsonRequests(
  ctx: Pick<EnclaveServices, 'vsock' | 'log'>,
  port: number,
  handler: JsonRequestHandler,
  options: ServeJsonRequestsOptions = {},
): VsockListener {
  if (typeof handler !== 'function') throw new EnclaveInvalidArgumentError('serveJsonRequests: handler must be a function');
  const maxBytes = options.maxBytes ?? DEFAULT_JSON_REQUEST_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new EnclaveInvalidArgumentError(`serveJsonRequests: maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
  }
  const decorate = options.decorateError;
  if (decorate !== undefined && typeof decorate !== 'function') throw new EnclaveInvalidArgumentError('serveJsonRequests: decorateError must be a function');
  return ctx.vsock.listen(port, (conn) => {
    // Before anything else: a reset after the read settles must not be an uncaught 'error'.
    conn.on('error', () => undefined);
    serve(conn, handler, maxBytes, decorate).catch((e: unknown) => {
      // Only the read gets here (everything after it is caught in serve): drop the connection.
      conn.destroy();
      try {
        ctx.log.warn(`vsock port ${port}: request dropped:`, e instanceof Error ? e.message : describeValue(e));
      } catch {
        // A failing logger must not turn a dropped connection into an unhandled rejection.
      }
    });
  });
}

async function serve(conn: VsockConnection, handler: JsonRequestHandler, maxBytes: number, decorate: ServeJsonRequestsOptions['decorateError']): Promise<void> {
  let body: Buffer | undefined;
  let failure: unknown;
  try {
    // 'discard': past the bound the stream stays open so the refusal can still be written.
    body = await readAll(conn, { maxBytes, onOverflow: 'discard' });
  } catch (e) {
    if (!(e instanceof VsockError && e.code === 'ERR_VSOCK_READ_TOO_LARGE')) throw e;
    failure = e;
  }
  let out: string | undefined;
  if (body !== undefined) {
    try {
      const answer: unknown = await handler(parse(body));
      out = JSON.stringify(answer) as string | undefined;
      // undefined, a function or a symbol: JSON has no encoding for them (ECMA-262 JSON.stringify).
      if (typeof out !== 'string') throw new JsonRequestError('ERR_JSON_REQUEST_HANDLER_FAILED', `the handler's answer is not JSON-serializable (${typeof answer})`);
    } catch (e) {
      out = undefined;
      failure = e;
    }
  }
  out ??= encodeFailure(failure, decorate);
  if (!conn.destroyed) conn.end(out);
}

/** RFC 8259 §8.1: JSON exchanged between systems is UTF-8; invalid bytes are refused, not replaced. */
function parse(body: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (cause) {
    throw new JsonRequestError('ERR_JSON_REQUEST_INVALID', 'the request is not valid UTF-8', { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new JsonRequestError('ERR_JSON_REQUEST_INVALID', `the request is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

function encodeFailure(error: unknown, decorate: ServeJsonRequestsOptions['decorateError']): string {
  const answer = errorAnswer(error);
  if (decorate) {
    try {
      const out = JSON.stringify(decorate(answer, error)) as string | undefined;
      if (typeof out === 'string') return out;
    } catch {
      // The documented fallback: the undecorated answer.
    }
  }
  return JSON.stringify(answer);
}

/** Never throws, whatever was thrown (a getter that throws, a Proxy, an object without toString). */
function errorAnswer(error: unknown): JsonErrorAnswer {
  try {
    const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; code?: unknown; message?: unknown };
    const message = e.message;
    // Error-like: anything with a string message (an Error, an AWS SDK ServiceException, …).
    if (typeof message !== 'string') return errorAnswer(new JsonRequestError('ERR_JSON_REQUEST_HANDLER_FAILED', `the handler threw a non-Error value: ${describeValue(error)}`, { cause: error }));
    return {
      ok: false,
      name: typeof e.name === 'string' ? e.name : 'Error',
      code: typeof e.code === 'string' ? e.code : 'ERR_JSON_REQUEST_HANDLER_FAILED',
      message,
    };
  } catch {
    return { ok: false, name: 'JsonRequestError', code: 'ERR_JSON_REQUEST_HANDLER_FAILED', message: 'the handler threw a value that cannot be described' };
  }
}

function describeValue(v: unknown): string {
  try {
    return typeof v === 'string' ? v : String(v);
  } catch {
    return typeof v;
  }
}
