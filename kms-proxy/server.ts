// The HTTP face of the KMS: awsJson1_1 (POST /, X-Amz-Target: TrentService.<Op>,
// application/x-amz-json-1.1, base64 blobs, epoch-second timestamps), served by Node's HTTP server
// and, with the same answers, as a hono app. Order of checks per request: body size (before
// parsing) → SigV4 → method, path, content type, target → quota → JSON → input shape → operation.
// Every authenticated call is audited as a record; calls refused before authentication or by the
// quota are counted in summary records (audit/summary.ts). Errors become `{"__type","message"}` in
// exactly one place: `failed`.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Hono } from 'hono';
import { AUDIT_UNAVAILABLE, AuditLog } from './audit/log.ts';
import { auditSettings, type AuditSettings } from './audit/settings.ts';
import { auditSigningKey } from './audit/signing-key.ts';
import type { SummaryKind } from './audit/summary.ts';
import { loadOrCreateCredentials, mergeCredentials, parseCredentials, readCredentialsFile } from './credentials.ts';
import { lockDataDir } from './lock.ts';
import { AccessDeniedError, KmsError, kmsError } from './errors.ts';
import { OPERATIONS, UNSUPPORTED } from './operations/index.ts';
import { incomingView, requestView, type RequestView } from './request-view.ts';
import type { QuotaGroup, Trail } from './operations/types.ts';
import { resolveLimits, type Limits } from './limits.ts';
import { applySeedKeys, readSeedFile } from './seed.ts';
import { RecipientVerifier, type RecipientOptions } from './recipient/verify.ts';
import { Service, type Caller } from './service.ts';
import { validate } from './shapes.ts';
import { verifySigV4, type Credential } from './sigv4.ts';
import { loadOrCreateMasterKey } from './store/master-key.ts';
import { SqliteKeyStore } from './store/sqlite.ts';
import type { KeyStore } from './store/types.ts';
import { Gate } from './gate.ts';
import { servedRegions } from './regions.ts';
import { SharedThrottle, Throttle, type Quota } from './throttle.ts';
import { PostgresKeyStore } from './store/postgres.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** awsJson1_1's content type, with optional parameters (`; charset=utf-8`), case-insensitive. */
const JSON_CONTENT_TYPE = /^application\/x-amz-json-1\.1\s*(;.*)?$/i;
const TARGET = /^TrentService\.([A-Za-z]+)$/;

export interface KmsOptions {
  readonly dataDir: string;
  /** The default Region (of unsigned requests and seeded keys); default the first of `regions`, else us-east-1. */
  readonly region?: string;
  /**
   * Every Region this KMS answers for (regions.ts): a request is for the Region of its SigV4
   * credential scope, and keys, aliases and listings are per Region. Default: `[region]`.
   */
  readonly regions?: readonly string[];
  /** How long a new replica stays Creating and keys changing primary Region stay Updating (lifecycle clock); default 2000 ms. */
  readonly transientStateMs?: number;
  readonly account?: string;
  /** Epoch milliseconds for key lifecycle: deletion windows, rotation, material expiry. */
  readonly clock?: () => number;
  /** Epoch milliseconds for the SigV4 5-minute skew check; default the real time (Date.now). */
  readonly authClock?: () => number;
  /** Accepted credentials; default: `credentials.json` in the data directory, generated if absent. */
  readonly credentials?: readonly Credential[];
  /** More credential files (JSON or YAML lists, credentials.ts), accepted in addition. */
  readonly credentialFiles?: readonly string[];
  /** Resource quotas: keys per account, aliases per key, grants per key (limits.ts; AWS's defaults). */
  readonly limits?: Partial<Limits>;
  /** Accept unsigned requests as the account root. Only when the operator asks for it. */
  readonly allowAnonymous?: boolean;
  /** A seed file (YAML or JSON) applied at start-up; idempotent. Its `credentials` are accepted too. */
  readonly seed?: string;
  readonly quotas?: Partial<Record<QuotaGroup, Quota>>;
  /**
   * Attested requests (`Recipient`): trust anchors (default the sandbox root in
   * ~/.nitro-sandbox/pki), the AWS Nitro root on request, maximum document age (default 5 min).
   * Documents are checked against `clock`.
   */
  readonly recipient?: RecipientOptions;
  readonly store?: KeyStore;
  /**
   * A PostgreSQL store shared with other replicas (`postgres://user:password@host:port/db`), instead
   * of the SQLite store in the data directory. The data directory is then only read (master.key,
   * credentials.json; both created on first use of an empty database when it is writable), no lock
   * keeps other replicas out, and the audit log is written under `auditDir` (kms-proxy/README.md,
   * "Replicas on PostgreSQL").
   */
  readonly storeUrl?: string;
  /**
   * Where this KMS writes `audit/<replica>/` (default the data directory). Replicas may share one
   * (each writes its own folder: give each its own `audit.replica`).
   */
  readonly auditDir?: string;
  /** How often maintenance (deletion, rotation, expiry) runs when idle; default 1000 ms. */
  readonly maintenanceIntervalMs?: number;
  /**
   * Called with errors that are bugs (answered 500) and with failed maintenance of a key (retried
   * a minute later on `clock`); default: stack trace to stderr.
   */
  readonly onInternalError?: (error: unknown) => void;
  /** Audit log segmentation, summary interval and replica id (kms-proxy/README.md, "Audit log"). */
  readonly audit?: AuditSettings;
}

export interface KmsApp {
  /**
   * Answers one request, never rejecting: what the HTTP server (startKmsServer) calls with a view of
   * the request and a way to read its whole body when the view has no IncomingMessage.
   */
  readonly answer: (req: RequestView, whole: () => Promise<ArrayBuffer>) => Promise<KmsAnswer>;
  /** The same answers as a hono app (`app.request()`), for tests and embedding. */
  readonly app: Hono;
  readonly service: Service;
  readonly credentials: readonly Credential[];
  /** True when the credential file was generated by this start. */
  readonly credentialsCreated: boolean;
  /** The audit log's signing key as `ed25519:…`: what `kms audit verify --public-key` pins. */
  readonly auditPublicKey: string;
  /** Writes the audit records of every call answered so far, the counts so far and the head; rejects when the log cannot be written. */
  flushAudit(): Promise<void>;
  /** Writes the audit records appended so far as one batch now, as the log does at the end of each turn of the event loop. */
  writeAuditBatch(): void;
  close(): Promise<void>;
}

/** An operation's output as JSON, its bytes (Uint8Array members, at any depth) as base64. */
function toJson(value: unknown): string {
  // Bytes replaced first, copying only the objects that hold them: cheaper than a replacer, which
  // JSON.stringify calls for every member of every answer.
  return JSON.stringify(withBase64(value));
}

function withBase64(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const y = withBase64(x);
      if (y !== x) (out ??= v.slice())[i] = y;
    }
    return out ?? v;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const y = withBase64(x);
    if (y !== x) (out ??= { ...v })[k] = y;
  }
  return out ?? v;
}

/** What an error is to a client and to the audit log: itself if it is a KmsError, else an internal error. */
function asKmsError(e: unknown): KmsError {
  return e instanceof KmsError ? e : new KmsError('KMSInternalException', 'An internal error occurred.', { cause: e });
}

/**
 * What the KMS answers a request: a status, a JSON body, and the request id the HTTP layer sends as
 * x-amzn-RequestId, which is also the call's `requestID` in the audit log (as CloudTrail's is).
 */
export interface KmsAnswer {
  readonly status: number;
  readonly body: string;
  readonly requestId: string;
}

function errorAnswer(e: KmsError, requestId: string): KmsAnswer {
  // Never a `code` member: the SDK would read it before `__type` (reference/kms.md). No `message`
  // member where AWS sends none (InvalidCiphertextException, KMSInvalidSignatureException, …: the
  // recorded responses in localstack's test_kms.snapshot.json carry no `message`).
  return { status: e.status, body: JSON.stringify(e.message === '' ? { __type: e.awsName } : { __type: e.awsName, message: e.message }), requestId };
}

function toResponse(a: KmsAnswer): Response {
  return new Response(a.body, { status: a.status, headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': a.requestId } });
}

/**
 * The request body, at most 1 MiB, refused before parsing: a larger Content-Length is refused
 * before reading, and a chunked body is cut off at the first byte past the limit. It is read
 * straight from the IncomingMessage where there is one (`whole` reads a hono request that has
 * none: the WHATWG stream adapter and hono's body-limit middleware, which materializes a full
 * Request, cost more than the rest of a Decrypt). A client that goes away before the body is
 * complete is a client error, not a bug: the read settles on 'error' (Node's 'aborted'
 * ECONNRESET), on 'close' without 'end', or at once when the stream is already destroyed (its
 * events were emitted before anyone listened).
 */
async function readBody(req: RequestView, whole: () => Promise<ArrayBuffer>): Promise<Uint8Array> {
  const declared = Number(req.header('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const incoming = req.incoming;
  if (!incoming || incoming.readableEnded) {
    const b = new Uint8Array(await whole());
    if (b.length > MAX_BODY_BYTES) throw tooLarge();
    return b;
  }
  if (incoming.destroyed) throw closedEarly(incoming.errored ?? undefined);
  // The whole body already parsed and buffered (a small request arrives with its headers): read
  // it at once, without listeners and a promise per request.
  if (incoming.complete && incoming.readableLength === declared && declared > 0) {
    const b = incoming.read() as Buffer | null;
    if (b && b.length === declared) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    if (b) incoming.unshift(b);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // Listeners stay (they die with the request) but act once; 'data' is removed so nothing more
    // is buffered.
    const settle = (result: Error | Uint8Array) => {
      if (settled) return;
      settled = true;
      incoming.off('data', onData);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        settle(tooLarge());
        incoming.resume();
        return;
      }
      chunks.push(chunk);
    };
    incoming.on('data', onData);
    incoming.once('error', (e) => settle(closedEarly(e)));
    // After 'end' this is a no-op; before it, the stream was destroyed without an error.
    incoming.once('close', () => {
      // Built only when it is the outcome: an Error captures a stack, which every request paid for.
      if (!settled) settle(closedEarly());
    });
    incoming.once('end', () => {
      const b = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      settle(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    });
  });
}

/** The HTTP server's requests always carry their IncomingMessage, which readBody reads itself. */
function unreachableBody(): Promise<ArrayBuffer> {
  return Promise.reject(closedEarly());
}

/** Grant tokens are opaque, but one this KMS never issued is malformed (InvalidGrantToken). */
const GRANT_TOKEN = /^[A-Za-z0-9_-]{64}$/;
function checkGrantTokens(tokens: unknown): void {
  if (!Array.isArray(tokens)) return;
  for (const t of tokens) if (typeof t !== 'string' || !GRANT_TOKEN.test(t)) throw kmsError('InvalidGrantTokenException', 'The grant token is not valid.');
}

function closedEarly(cause?: unknown): KmsError {
  return new KmsError('ValidationException', 'The connection closed before the request body was complete.', cause === undefined ? undefined : { cause });
}

function tooLarge(): KmsError {
  return kmsError('ValidationException', `Request body exceeds the maximum size of ${MAX_BODY_BYTES} bytes.`);
}

function userAgent(req: RequestView): { userAgent?: string } {
  const ua = req.header('user-agent');
  return ua === undefined ? {} : { userAgent: ua };
}

/** Builds the hono app and its service without listening (tests use `app.request()`). */
export async function createKmsApp(options: KmsOptions): Promise<KmsApp> {
  // Options are checked before anything touches the data directory or opens the store.
  const throttle = new Throttle(options.quotas);
  const audit = auditSettings(options.audit);
  const limits = resolveLimits(options.limits);
  const served = servedRegions(options.region, options.regions);
  const transient = options.transientStateMs;
  if (transient !== undefined && (!Number.isSafeInteger(transient) || transient < 0)) throw kmsError('ValidationException', `transientStateMs must be a whole number of milliseconds, at least 0, got ${String(transient)}`);
  const interval = options.maintenanceIntervalMs;
  // Node runs a timer of 0, NaN or more than 2^31 − 1 ms every millisecond.
  if (interval !== undefined && (!Number.isSafeInteger(interval) || interval < 1 || interval > 2 ** 31 - 1)) {
    throw kmsError('ValidationException', `maintenanceIntervalMs must be a whole number of milliseconds from 1 to 2^31 − 1, got ${String(interval)}`);
  }
  if (options.storeUrl !== undefined && !/^postgres(ql)?:\/\//.test(options.storeUrl)) throw kmsError('ValidationException', `storeUrl must be a postgres:// URL, got '${options.storeUrl.replace(/\/\/[^@/]*@/, '//…@')}'`);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // A store shared by replicas keeps nothing in the data directory that one process must own.
  const shared = options.storeUrl !== undefined || options.store?.coordination !== undefined;
  const unlock = shared ? () => undefined : lockDataDir(options.dataDir);
  try {
    return await openKms({ ...options, ...served }, unlock, throttle, audit, limits);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function openKms(options: KmsOptions & { readonly region: string; readonly regions: readonly string[] }, unlock: () => void, localThrottle: Throttle, auditOptions: Required<AuditSettings>, limits: Limits): Promise<KmsApp> {
  const { region, regions } = options;
  const regionSet: ReadonlySet<string> = new Set(regions);
  const account = options.account ?? '111122223333';
  const clock = options.clock ?? Date.now;
  const authClock = options.authClock ?? Date.now;
  const reportInternal = internalReporter(options);
  const auditDir = options.auditDir ?? options.dataDir;
  // A directory whose store exists has served before, so it has an audit log (audit/log.ts).
  let served = options.store === undefined && options.storeUrl === undefined && existsSync(join(options.dataDir, 'kms.sqlite'));
  const store: KeyStore =
    options.store ??
    (options.storeUrl !== undefined
      ? await PostgresKeyStore.open({ url: options.storeUrl, dataDir: options.dataDir, onEvent: (m) => reportInternal(new KmsError('KMSInternalException', m, { code: 'ERR_KMS_STORE_UNAVAILABLE' })) })
      : new SqliteKeyStore({ dataDir: options.dataDir }));
  const coordination = store.coordination;
  const throttle = coordination ? new SharedThrottle(options.quotas ?? {}, coordination.leaseTokens) : localThrottle;
  // Everything that can refuse to start (credentials file, trust anchors, seed, an audit log that
  // fails verification) runs inside the try, so a refusal closes the store it opened.
  let opened: { credentials: Credential[]; created: boolean; service: Service; audit: AuditLog };
  let auditLog: AuditLog | undefined;
  try {
    // The audit log first, so that a directory whose store now exists has a log even when a later
    // check refuses this start (a missing log is then a deleted one). Its signing key is derived
    // from the master key (audit/signing-key.ts), which the default store has created by now.
    const key = auditSigningKey(loadOrCreateMasterKey(join(options.dataDir, 'master.key')));
    let onHead: ((head: string) => void) | undefined;
    if (coordination) {
      // One writer per chain across every replica of the database, and a chain the database
      // knows of must be found where it was (a deleted one is refused, as with SQLite).
      const replica = auditOptions.replica;
      served = (await coordination.auditReplicas()).some((r) => r.replica === replica);
      await coordination.claimAuditReplica(replica);
      onHead = (head) => {
        coordination.putAuditHead(replica, head).catch((e: unknown) => reportInternal(e));
      };
    }
    mkdirSync(auditDir, { recursive: true, mode: 0o700 });
    const audit = await AuditLog.open({ dataDir: auditDir, ...auditOptions, key, region, account, now: clock, onError: reportInternal, logExpected: served, ...(onHead ? { onHead } : {}) });
    auditLog = audit;
    // The seed and credential files are read and checked whole before anything is stored.
    const seed = options.seed === undefined ? undefined : readSeedFile(options.seed, account);
    const base = options.credentials ? { credentials: parseCredentials(options.credentials, 'credentials'), created: false } : loadOrCreateCredentials(options.dataDir, account);
    const credentials = mergeCredentials(base.credentials, seed?.credentials ?? [], ...(options.credentialFiles ?? []).map(readCredentialsFile));
    const created = base.created;
    const service = new Service({
      store,
      region,
      regions,
      ...(options.transientStateMs !== undefined ? { transientStateMs: options.transientStateMs } : {}),
      account,
      limits,
      clock,
      recipient: new RecipientVerifier(options.recipient ?? {}, clock),
      onMaintenanceError: reportInternal,
    });
    if (seed !== undefined) await applySeedKeys(service, seed);
    await service.primeSchedule();
    opened = { credentials, created, service, audit };
  } catch (e) {
    auditLog?.close();
    await store.close();
    throw e;
  }
  const { credentials, created, service, audit } = opened;
  const byId = new Map(credentials.map((c) => [c.accessKeyId, c]));
  // List calls run one at a time, server-wide (gate.ts).
  const listGate = new Gate();
  const timer = setInterval(() => {
    service.tick().catch(() => undefined);
  }, options.maintenanceIntervalMs ?? 1000);
  timer.unref();

  /** Serves one request: its answer, or throws (after auditing) what becomes an error answer. */
  const serveRequest = async (req: RequestView, whole: () => Promise<ArrayBuffer>, requestId: string): Promise<KmsAnswer> => {
    const started = clock();
    const trail: Trail = {};
    let eventName = 'Unknown';
    let caller: Caller | undefined;
    let params: unknown;
    const ip = req.sourceIp;
    try {
      // A call the log cannot record is not served (audit/log.ts).
      if (!audit.available) throw audit.unavailableError;
      const target = req.header('x-amz-target') ?? '';
      const opName = TARGET.exec(target)?.[1];
      eventName = opName ?? 'Unknown';
      const body = await readBody(req, whole);
      if (options.allowAnonymous && req.header('authorization') === undefined) {
        caller = { principalArn: `arn:aws:iam::${account}:root`, account, ...(ip ? { sourceIp: ip } : {}), ...userAgent(req) };
      } else {
        const { credential: cred, region: requestRegion } = verifySigV4(
          {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.header,
            headerNames: req.headerNames(),
            body,
            now: authClock(),
            regions: regionSet,
          },
          (id) => byId.get(id),
        );
        caller = {
          principalArn: cred.principalArn,
          account: cred.account,
          accessKeyId: cred.accessKeyId,
          ...(cred.allowedActions ? { allowedActions: cred.allowedActions } : {}),
          ...(ip ? { sourceIp: ip } : {}),
          ...userAgent(req),
          region: requestRegion,
        };
      }
      if (req.method !== 'POST' || req.path !== '/') throw kmsError('UnknownOperationException', '');
      // AWS answers a request that is not awsJson1_1 as an unknown operation.
      if (!JSON_CONTENT_TYPE.test(req.header('content-type') ?? '')) throw kmsError('UnknownOperationException', '', `Content-Type must be ${CONTENT_TYPE}`);
      const op = opName === undefined ? undefined : OPERATIONS.get(opName);
      if (!op) {
        if (opName !== undefined && UNSUPPORTED.has(opName)) throw kmsError('UnsupportedOperationException', `${opName} is not supported by this KMS.`);
        throw kmsError('UnknownOperationException', '');
      }
      // Before the body is parsed: a throttled call costs as little as possible.
      const taken = throttle.take(caller.account, op.quota);
      if (taken) await taken;
      let json: unknown = {};
      if (body.length > 0) {
        try {
          json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
        } catch (cause) {
          throw new KmsError('SerializationException', 'Unexpected character found in the request body; it is not valid JSON.', { cause });
        }
      }
      const input = validate(op.shape, json);
      params = input;
      checkGrantTokens(input.GrantTokens);
      // Replicas: every change committed anywhere before the request was read is in this
      // replica's caches (or the call is refused: coordination.ts). A change committed since is
      // concurrent with the call, which may see it or not, as with one KMS.
      if (coordination) await coordination.sync(req.receivedAt);
      const call = { svc: service, caller, input, trail };
      const output = op.quota === 'list' ? await listGate.run(() => op.run(call)) : await op.run(call);
      const recorded = audit.append({
        eventTime: started,
        eventName,
        requestId,
        region: caller.region ?? region,
        account: caller.account,
        principalArn: caller.principalArn,
        ...(caller.accessKeyId ? { accessKeyId: caller.accessKeyId } : {}),
        ...(ip ? { sourceIp: ip } : {}),
        ...userAgent(req),
        requestParameters: input,
        // CloudTrail records no response elements for cryptographic operations, nor for List calls
        // (KMS Developer Guide, "ListAliases"/"ListGrants" log examples: null); a 1000-item page
        // would otherwise be copied into the log.
        ...(op.quota === 'cryptographic' || op.quota === 'random' || op.quota === 'list' ? {} : { responseElements: output }),
        ...(trail.keyArn ? { keyArn: trail.keyArn } : {}),
        readOnly: op.readOnly,
        ...additional(trail),
      });
      const text = toJson(output);
      // Group commit (audit/log.ts): answered once its record is written. A record that could not
      // be written waits in memory for the retry; the call is answered as the log's outage.
      if (!(await recorded)) return errorAnswer(audit.unavailableError, requestId);
      return { status: 200, body: text, requestId };
    } catch (e) {
      const err = asKmsError(e);
      const counted = countedAs(err, caller);
      if (counted) {
        // Counted per interval, source and reason, not recorded one by one (audit/summary.ts).
        audit.count({
          kind: counted,
          time: started,
          ...(ip ? { sourceIp: ip } : {}),
          errorCode: err.awsName,
          ...(err.detail ? { reason: err.detail.slice(0, 120) } : {}),
          eventName: OPERATIONS.has(eventName) ? eventName : 'Unknown',
          ...(counted === 'throttled' && caller ? { principalArn: caller.principalArn } : {}),
        });
        throw e;
      }
      // A denial carries the decision that made it, so the log says which statement denied.
      if (e instanceof AccessDeniedError) trail.decision = e.decision;
      await audit.append({
        eventTime: started,
        eventName,
        requestId,
        region: caller?.region ?? region,
        account: caller?.account ?? account,
        ...(caller ? { principalArn: caller.principalArn } : {}),
        ...(caller?.accessKeyId ? { accessKeyId: caller.accessKeyId } : {}),
        ...(ip ? { sourceIp: ip } : {}),
        ...(params !== undefined ? { requestParameters: params } : {}),
        errorCode: err.awsName,
        errorMessage: err.message,
        ...(trail.keyArn ? { keyArn: trail.keyArn } : {}),
        readOnly: OPERATIONS.get(eventName)?.readOnly ?? true,
        ...additional(trail, err.detail),
      });
      throw e;
    }
  };

  const failed = (e: unknown, requestId: string): KmsAnswer => {
    // A bug, or a store that failed its integrity check: not bad input. Tell the operator (the
    // reason is theirs, not the client's), answer 500 KMSInternalException as AWS would.
    // A refusal because the audit log cannot be written was reported once, when the write failed.
    if (!(e instanceof KmsError) || (e.status === 500 && e.detail !== AUDIT_UNAVAILABLE)) reportInternal(e);
    return errorAnswer(asKmsError(e), requestId);
  };
  const answer = (req: RequestView, whole: () => Promise<ArrayBuffer>): Promise<KmsAnswer> => {
    const requestId = randomUUID();
    return serveRequest(req, whole, requestId).catch((e: unknown) => failed(e, requestId));
  };

  // The same answers through hono, for `app.request()` (tests) and embedding in another hono app.
  const app = new Hono();
  app.all('*', async (c) => toResponse(await answer(requestView(c), () => c.req.arrayBuffer())));
  app.onError((e) => toResponse(failed(e, randomUUID())));

  return {
    answer,
    app,
    service,
    credentials,
    credentialsCreated: created,
    auditPublicKey: audit.keyId,
    flushAudit: () => audit.flushed(),
    writeAuditBatch: () => void audit.flush(),
    async close() {
      clearInterval(timer);
      audit.close();
      await store.close();
      unlock();
    },
  };
}

/** Where a failure that is not the client's goes: `onInternalError`, else standard error. */
function internalReporter(options: KmsOptions): (err: unknown) => void {
  return options.onInternalError ?? ((err: unknown) => process.stderr.write(`kms: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`));
}

/** Calls the log counts instead of recording: refused before anyone is authenticated, throttled, or unrecordable. */
function countedAs(err: KmsError, caller: Caller | undefined): SummaryKind | undefined {
  if (err.detail === AUDIT_UNAVAILABLE) return 'auditUnavailable';
  if (err.awsName === 'ThrottlingException') return 'throttled';
  return caller === undefined ? 'unauthenticated' : undefined;
}

function additional(trail: Trail, detail?: string): { additionalEventData?: Record<string, unknown> } {
  const data: Record<string, unknown> = { ...(trail.additional ?? {}) };
  if (trail.decision) {
    data.authorization = { effect: trail.decision.effect, ...(trail.decision.decidedBy ? { decidedBy: trail.decision.decidedBy } : {}) };
  }
  if (detail !== undefined) data.reason = detail;
  return Object.keys(data).length > 0 ? { additionalEventData: data } : {};
}

export interface KmsServer extends KmsApp {
  readonly endpoint: string;
  /** The first accepted credential, for clients. */
  readonly credential: Credential;
}

/** Starts the KMS on `port` (0: a free port) and resolves once it listens. */
export async function startKmsServer(options: KmsOptions & { port?: number; host?: string }): Promise<KmsServer> {
  const k = await createKmsApp(options);
  const reportInternal = internalReporter(options);
  const host = options.host ?? '127.0.0.1';
  // Served by Node's HTTP server straight to `answer`: hono's adapter (a Request object, a Context
  // and a Response per call) cost 7–8 µs of a Decrypt's 115–125 (kms-proxy/README.md, "The
  // request path").
  const serveOne = (incoming: IncomingMessage, res: ServerResponse, receivedAt: number): void => {
    void k.answer(incomingView(incoming as IncomingMessage & { url: string; method: string }, receivedAt), unreachableBody)
      .then((a) => {
        res.writeHead(a.status, ['content-type', CONTENT_TYPE, 'x-amzn-requestid', a.requestId, 'content-length', String(Buffer.byteLength(a.body))]);
        res.end(a.body);
      })
      // `answer` never rejects; writing the answer cannot fail but on a socket already gone.
      .catch(() => res.destroy());
  };
  // Requests are answered in batches: those that arrive in one turn of the event loop's poll phase
  // are queued and served together once it ends (setImmediate), not each right after its socket's
  // read(2). Between two system calls the KMS's path runs on cold caches and TLB (on this project's
  // machines every system call flushes the TLB: PTI without PCID), and a Decrypt cost about 95 µs
  // of server CPU served one read at a time against about 65 µs served back to back
  // (kms-proxy/README.md, "The request path"). The queue holds no more than the requests Node has
  // already parsed in that turn; a request waits for the rest of the turn, not for a timer.
  // Microtasks run between two immediates, so every call of the batch that needs no I/O has its
  // answer and its record appended before the second one runs.
  // Each with when it was read: a PostgreSQL store's read barrier sent after that covers it.
  let batch: [IncomingMessage, ServerResponse, number][] = [];
  const serveBatch = (): void => {
    const now = batch;
    batch = [];
    for (const [incoming, res, receivedAt] of now) {
      try {
        serveOne(incoming, res, receivedAt);
      } catch (e) {
        // Not expected (`answer` reports its own failures); one request's fault ends its
        // connection, never the rest of the batch.
        reportInternal(e);
        res.destroy();
      }
    }
  };
  const server = createServer((incoming, res) => {
    if (batch.push([incoming, res, performance.now()]) === 1) {
      setImmediate(serveBatch);
      // Then, in the same turn, the records of the calls that have their answers by then (all but
      // those waiting on I/O, e.g. a PostgreSQL store's read barrier) as one batch: answered in
      // this turn, not the next (the log's own batch would be written at the end of the turn the
      // calls were served in, which is the next one).
      setImmediate(k.writeAuditBatch);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const credential = k.credentials[0];
  if (!credential) throw kmsError('KMSInternalException', 'no credentials configured');
  return {
    ...k,
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    credential,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await k.close();
    },
  };
}
