// What an operation is: its input shape, its quota group, and a handler from validated input to
// the response members (Uint8Array members are sent as base64, numbers as given).
import type { Decision } from '../policy/evaluate.ts';
import type { Caller, ContextValues, DecideOptions, Resolved, Service } from '../service.ts';
import type { Input, Shape } from '../shapes.ts';
import { kmsError, messages } from '../errors.ts';
import { invalidRecipient, type AttestedRecipient } from '../recipient/verify.ts';
import type { WorkPacer } from '../gate.ts';
import type { Page, PageRequest } from '../store/page.ts';

/** Request-rate quota groups (KMS Developer Guide, "Request quotas"). */
export type QuotaGroup = 'cryptographic' | 'management' | 'write' | 'list' | 'random';

/** What an operation tells the audit log beyond its input and output. */
export interface Trail {
  keyArn?: string;
  decision?: Decision;
  additional?: Record<string, unknown>;
}

export interface Call {
  readonly svc: Service;
  readonly caller: Caller;
  readonly input: Input;
  readonly trail: Trail;
}

export type Output = Readonly<Record<string, unknown>>;

export interface Operation {
  readonly name: string;
  readonly shape: Shape;
  readonly quota: QuotaGroup;
  readonly readOnly: boolean;
  run(call: Call): Promise<Output>;
}

// Typed readers for validated input: the shape already guaranteed the JSON types.
export function str(i: Input, k: string): string | undefined {
  return i[k] as string | undefined;
}
export function reqStr(i: Input, k: string): string {
  return i[k] as string;
}
export function int(i: Input, k: string): number | undefined {
  return i[k] as number | undefined;
}
export function bool(i: Input, k: string): boolean | undefined {
  return i[k] as boolean | undefined;
}
export function bytes(i: Input, k: string): Uint8Array | undefined {
  return i[k] as Uint8Array | undefined;
}
export function ctx(i: Input, k: string): Record<string, string> | undefined {
  return i[k] as Record<string, string> | undefined;
}
export function list(i: Input, k: string): string[] | undefined {
  return i[k] as string[] | undefined;
}

/**
 * The key a call acts on: resolved (by alias too, unless `aliases` is false, as the management
 * operations require), named in the audit record, and authorized for `action` against its policy
 * and grants (AccessDeniedException otherwise; the decision goes to the audit record either way).
 */
export async function authorizedKey(
  call: Pick<Call, 'svc' | 'caller' | 'trail'>,
  id: string,
  action: string,
  options: { readonly aliases?: boolean; readonly extra?: ContextValues; readonly encryptionContext?: Readonly<Record<string, string>>; readonly more?: DecideOptions } = {},
): Promise<Resolved> {
  const r = await call.svc.resolve(id, call.caller, { aliases: options.aliases ?? true });
  call.trail.keyArn = r.key.arn;
  call.trail.decision = await call.svc.authorize(r, call.caller, action, options.extra, options.encryptionContext, options.more);
  return r;
}

/** DryRun (KMS API): every check passes, then DryRunOperationException instead of the effect. */
export function dryRun(i: Input): void {
  if (i.DryRun === true) throw kmsError('DryRunOperationException', messages.dryRun);
}

/**
 * `Recipient` (attestation-gated release): when the request carries one, its document is verified
 * (ValidationException otherwise, reason in the audit log only), the document's measurements go
 * to the audit record as CloudTrail's `additionalEventData.recipient`, and the caller gets the
 * `kms:RecipientAttestation:*` condition values to authorize with. Without a Recipient the keys
 * are absent, so `Null` conditions see them missing and no attestation condition is satisfied.
 */
export function attestedRecipient(call: Call): AttestedRecipient | undefined {
  const r = call.input.Recipient as { AttestationDocument?: Uint8Array; KeyEncryptionAlgorithm?: string } | undefined;
  if (r === undefined) return undefined;
  // Both members are optional in the model, but a Recipient without a document cannot be answered.
  if (r.AttestationDocument === undefined) throw invalidRecipient('ERR_RECIPIENT_NO_DOCUMENT', 'Recipient has no AttestationDocument');
  const attested = call.svc.recipient.verify(r.AttestationDocument);
  call.trail.additional = { ...call.trail.additional, recipient: attested.audit };
  return attested;
}

/** `Limit`/`Marker` of a listing the store pages from an index (store/page.ts). */
export function pageRequest(i: Input, defaultLimit = 100): PageRequest {
  const marker = str(i, 'Marker');
  return { limit: int(i, 'Limit') ?? defaultLimit, ...(marker !== undefined ? { marker } : {}) };
}

/** Items a listing reads between two turns of the event loop. */
export const LIST_CHUNK = 50;

/**
 * A page of up to `req.limit` items read `LIST_CHUNK` at a time, paced by `pacer` (gate.ts): a
 * turn of the event loop between chunks, and a wait once listing has used its share of the time,
 * so a 1000-item page never holds the loop for the whole read, nor a flood of them the server.
 */
export async function readChunked<T>(pacer: WorkPacer, req: PageRequest, read: (p: PageRequest) => Promise<Page<T>>): Promise<Page<T>> {
  const items: T[] = [];
  let marker = req.marker;
  for (;;) {
    pacer.begin();
    const p = await read({ limit: Math.min(LIST_CHUNK, req.limit - items.length), ...(marker !== undefined ? { marker } : {}) });
    items.push(...p.items);
    marker = p.nextMarker;
    const more = marker !== undefined && items.length < req.limit;
    await pacer.end(more);
    if (!more) break;
  }
  return { items, ...(marker !== undefined ? { nextMarker: marker } : {}) };
}

/** `NextMarker`/`Truncated` of a page, as KMS answers them. */
export function pageResponse(p: Page<unknown>): Record<string, unknown> {
  return p.nextMarker !== undefined ? { NextMarker: p.nextMarker, Truncated: true } : { Truncated: false };
}

/** `Limit`/`Marker` paging of a short list held in memory (tags, rotations): Marker is an offset. */
export function page<T>(items: readonly T[], i: Input, defaultLimit = 100): { items: T[]; out: Record<string, unknown> } {
  const limit = int(i, 'Limit') ?? defaultLimit;
  const marker = str(i, 'Marker');
  let start = 0;
  if (marker !== undefined) {
    const m = /^off:(\d{1,9})$/.exec(marker);
    if (!m || Number(m[1]) > items.length) throw kmsError('InvalidMarkerException', 'Could not deserialize marker');
    start = Number(m[1]);
  }
  const slice = items.slice(start, start + limit);
  const truncated = start + limit < items.length;
  return { items: slice, out: truncated ? { NextMarker: `off:${start + limit}`, Truncated: true } : { Truncated: false } };
}
