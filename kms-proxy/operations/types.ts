// What an operation is: its input shape, its quota group, and a handler from validated input to
// the response members (Uint8Array members are sent as base64, numbers as given).
import type { Decision } from '../policy/evaluate.ts';
import type { Caller, Service } from '../service.ts';
import type { Input, Shape } from '../shapes.ts';
import { kmsError } from '../errors.ts';

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

/** DryRun (KMS API): every check passes, then DryRunOperationException instead of the effect. */
export function dryRun(i: Input): void {
  if (i.DryRun === true) throw kmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

/**
 * `Recipient` (attestation-gated release) is accepted by the shapes that carry it and validated,
 * but answering CiphertextForRecipient is the next issue's work: until then it is refused
 * explicitly rather than ignored, because ignoring it would return plaintext the caller expected
 * to be sealed to an enclave.
 */
export function refuseRecipient(i: Input): void {
  if (i.Recipient !== undefined) throw kmsError('UnsupportedOperationException', 'Recipient (attested key release) is not supported by this KMS yet.');
}

/** `Limit`/`Marker` paging as KMS does it: Marker is opaque to the caller (here: an offset). */
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
