// The daemon's wire protocol (see PROTOCOL.md): one JSON request line per Unix-socket connection,
// one JSON response line, and for `connect`, `accept` and `console` raw bytes after it. This file
// holds the message types, the strict request validator (every field checked, unknown fields
// refused) and the line reader shared by the daemon and its client.
import type { Duplex } from 'node:stream';
import type { RunOptions } from '../host.ts';
import { MAX_IMAGE_SIZE } from '../../enclave/index.ts';
import { DaemonBadRequestError, DaemonError, DaemonVersionError } from './errors.ts';

export const PROTOCOL_VERSION = 1;
/** Longest request or response line; a describe of 32+ enclaves stays well below it. */
export const MAX_LINE = 1 << 20;
const MAX_STRING = 256;

export type Target = { readonly id: string } | { readonly name: string };

export type Request =
  | { readonly v: 1; readonly op: 'ping' }
  | { readonly v: 1; readonly op: 'run-enclave'; readonly imageSize: number; readonly options: RunOptions }
  | { readonly v: 1; readonly op: 'describe-enclaves'; readonly metadata?: boolean; readonly ended?: boolean }
  | { readonly v: 1; readonly op: 'terminate-enclave'; readonly target: Target | { readonly all: true } }
  | { readonly v: 1; readonly op: 'console'; readonly target: Target }
  | { readonly v: 1; readonly op: 'connect'; readonly cid: number; readonly port: number }
  | { readonly v: 1; readonly op: 'listen'; readonly port: number }
  | { readonly v: 1; readonly op: 'accept'; readonly listener: string; readonly connection: number }
  | { readonly v: 1; readonly op: 'shutdown' };

export type Op = Request['op'];

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
}

export type Response = { readonly v: 1; readonly ok: true; readonly result: unknown } | { readonly v: 1; readonly ok: false; readonly error: ErrorBody };

/** Sent on a LISTEN connection after its response, once per enclave connection to the port. */
export interface ConnectionEvent {
  readonly event: 'connection';
  readonly connection: number;
  readonly cid: number;
  readonly port: number;
}

export interface PingResult {
  readonly pid: number;
  readonly protocol: number;
  readonly runtimeDir: string;
  readonly dataDir: string | null;
  readonly instanceId: string;
}

function bad(message: string): never {
  throw new DaemonBadRequestError(message);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`${what}: unknown field '${k}'`);
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`${what}.${key} must be an integer in ${min}–${max}`);
  return v;
}

function optInt(o: Record<string, unknown>, key: string, min: number, max: number, what: string): number | undefined {
  return o[key] === undefined ? undefined : int(o, key, min, max, what);
}

function str(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_STRING) bad(`${what}.${key} must be a string of 1–${MAX_STRING} characters`);
  return v;
}

function optBool(o: Record<string, unknown>, key: string, what: string): boolean | undefined {
  const v = o[key];
  if (v !== undefined && typeof v !== 'boolean') bad(`${what}.${key} must be a boolean`);
  return v;
}

function target(x: unknown, allowAll: boolean): Target | { all: true } {
  if (!isRecord(x)) bad('target must be an object');
  const keys = Object.keys(x);
  if (keys.length !== 1) bad(`target must have exactly one of id, name${allowAll ? ', all' : ''}`);
  if (x.id !== undefined) return { id: str(x, 'id', 'target') };
  if (x.name !== undefined) return { name: str(x, 'name', 'target') };
  if (allowAll && x.all === true) return { all: true };
  return bad(`target must have exactly one of id, name${allowAll ? ', all' : ''}`);
}

function runOptions(x: unknown): RunOptions {
  const w = 'options';
  if (!isRecord(x)) bad('options must be an object');
  onlyKeys(x, ['memoryMiB', 'cpuCount', 'cpuIds', 'cid', 'debugMode', 'name', 'allowWeakerIsolation'], w);
  const cpuIds = x.cpuIds;
  if (cpuIds !== undefined) {
    if (!Array.isArray(cpuIds) || cpuIds.length === 0 || cpuIds.length > 1024) bad('options.cpuIds must be a non-empty array');
    for (const c of cpuIds) if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0xffff) bad('options.cpuIds entries must be integers in 0–65535');
  }
  const cpuCount = optInt(x, 'cpuCount', 1, 0xffff, w);
  const cid = optInt(x, 'cid', 0, 2 ** 32, w);
  const debugMode = optBool(x, 'debugMode', w);
  const allowWeakerIsolation = optBool(x, 'allowWeakerIsolation', w);
  return {
    memoryMiB: int(x, 'memoryMiB', 1, 2 ** 40, w),
    ...(cpuCount !== undefined ? { cpuCount } : {}),
    ...(cpuIds !== undefined ? { cpuIds: cpuIds as number[] } : {}),
    ...(cid !== undefined ? { cid } : {}),
    ...(debugMode !== undefined ? { debugMode } : {}),
    ...(x.name !== undefined ? { name: str(x, 'name', w) } : {}),
    ...(allowWeakerIsolation !== undefined ? { allowWeakerIsolation } : {}),
  };
}

/** Parses and validates one request line; throws DaemonBadRequestError / DaemonVersionError. */
export function parseRequest(line: string): Request {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    bad('request is not valid JSON');
  }
  if (!isRecord(x)) bad('request must be a JSON object');
  if (x.v !== PROTOCOL_VERSION) throw new DaemonVersionError(`unsupported protocol version ${JSON.stringify(x.v) ?? 'undefined'}; this daemon speaks v${PROTOCOL_VERSION}`);
  const op = x.op;
  const w = typeof op === 'string' ? op : 'request';
  switch (op) {
    case 'ping':
    case 'shutdown':
      onlyKeys(x, ['v', 'op'], w);
      return { v: 1, op };
    case 'describe-enclaves': {
      onlyKeys(x, ['v', 'op', 'metadata', 'ended'], w);
      const metadata = optBool(x, 'metadata', w);
      const ended = optBool(x, 'ended', w);
      return { v: 1, op, ...(metadata !== undefined ? { metadata } : {}), ...(ended !== undefined ? { ended } : {}) };
    }
    case 'run-enclave':
      onlyKeys(x, ['v', 'op', 'imageSize', 'options'], w);
      return { v: 1, op, imageSize: int(x, 'imageSize', 1, MAX_IMAGE_SIZE, w), options: runOptions(x.options) };
    case 'terminate-enclave':
      onlyKeys(x, ['v', 'op', 'target'], w);
      return { v: 1, op, target: target(x.target, true) };
    case 'console': {
      onlyKeys(x, ['v', 'op', 'target'], w);
      const t = target(x.target, false) as Target;
      return { v: 1, op, target: t };
    }
    case 'connect':
      onlyKeys(x, ['v', 'op', 'cid', 'port'], w);
      return { v: 1, op, cid: int(x, 'cid', 0, 2 ** 32, w), port: int(x, 'port', 0, 2 ** 32 - 1, w) };
    case 'listen':
      onlyKeys(x, ['v', 'op', 'port'], w);
      return { v: 1, op, port: int(x, 'port', 0, 2 ** 32 - 1, w) };
    case 'accept':
      onlyKeys(x, ['v', 'op', 'listener', 'connection'], w);
      return { v: 1, op, listener: str(x, 'listener', w), connection: int(x, 'connection', 1, Number.MAX_SAFE_INTEGER, w) };
    default:
      return bad(`unknown op ${JSON.stringify(op) ?? 'undefined'}`);
  }
}

export function encodeLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

export function okLine(result: unknown): string {
  return encodeLine({ v: PROTOCOL_VERSION, ok: true, result } satisfies Response);
}

export function errorLine(e: unknown): string {
  const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : 'ERR_UNEXPECTED';
  const message = e instanceof Error ? e.message : String(e);
  return encodeLine({ v: PROTOCOL_VERSION, ok: false, error: { code, message } } satisfies Response);
}

export class LineTooLongError extends DaemonBadRequestError {}

/**
 * Feeds the stream's chunks to `take` until it returns a value, then leaves the stream paused with
 * the bytes `take` did not use pushed back (unshift), so the caller can read a body or splice raw
 * bytes next. `take` throws to refuse what arrived; `ended` answers a stream that ends first.
 */
function readUntil<T>(stream: Duplex, take: (chunk: Buffer) => { value: T; rest: Buffer } | undefined, ended: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const settle = (then: () => void): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      then();
    };
    const onData = (chunk: Buffer): void => {
      let got: { value: T; rest: Buffer } | undefined;
      try {
        got = take(chunk);
      } catch (e) {
        settle(() => reject(e));
        stream.pause();
        return;
      }
      if (!got) return;
      const { value, rest } = got;
      settle(() => {
        stream.pause();
        if (rest.length > 0) stream.unshift(rest);
        resolve(value);
      });
    };
    const onEnd = (): void =>
      settle(() => {
        try {
          resolve(ended());
        } catch (e) {
          reject(e);
        }
      });
    const onError = (e: Error): void => settle(() => reject(e));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    stream.resume();
  });
}

/** Reads one '\n'-terminated line (at most `maxLength` bytes); undefined when the stream ends first. */
export function readLine(stream: Duplex, maxLength = MAX_LINE): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let length = 0;
  return readUntil(
    stream,
    (chunk) => {
      const nl = chunk.indexOf(0x0a);
      if (length + (nl < 0 ? chunk.length : nl) > maxLength) throw new LineTooLongError(`line longer than ${maxLength} bytes`);
      if (nl < 0) {
        parts.push(chunk);
        length += chunk.length;
        return undefined;
      }
      parts.push(chunk.subarray(0, nl));
      return { value: Buffer.concat(parts).toString('utf8'), rest: chunk.subarray(nl + 1) };
    },
    () => undefined,
  );
}

/**
 * Reads exactly `size` bytes (the run-enclave image body). Memory grows with what actually
 * arrives, not with what the request announced.
 */
export function readExact(stream: Duplex, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  return readUntil(
    stream,
    (chunk) => {
      const take = Math.min(chunk.length, size - got);
      parts.push(chunk.subarray(0, take));
      got += take;
      return got === size ? { value: Buffer.concat(parts, size), rest: chunk.subarray(take) } : undefined;
    },
    () => {
      throw new DaemonBadRequestError(`body ended after ${got} of ${size} bytes`);
    },
  );
}

/** Parses a response line from the daemon (the client side's validator); anything else is ERR_HOST_DAEMON. */
export function parseResponse(line: string): Response {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    throw new DaemonError('the daemon answered something that is not JSON');
  }
  if (!isRecord(x) || x.v !== PROTOCOL_VERSION || typeof x.ok !== 'boolean') throw new DaemonError('the daemon answered something that is not a v1 response');
  if (x.ok) return { v: 1, ok: true, result: x.result };
  const e = x.error;
  if (!isRecord(e) || typeof e.code !== 'string' || typeof e.message !== 'string') throw new DaemonError('the daemon answered an error response of the wrong shape');
  return { v: 1, ok: false, error: { code: e.code, message: e.message } };
}
