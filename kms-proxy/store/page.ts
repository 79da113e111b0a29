// Pages of a listing (ListKeys, ListAliases, ListGrants, ListRetirableGrants) read from an index:
// each page starts after the position its marker names, so a page costs O(page), never O(all
// records), and records added or removed between pages neither repeat nor shift the others.
// Markers are opaque to callers (as AWS's are): base64url of [kind, position]. A marker of another
// listing, or anything this store did not make, is InvalidMarkerException.
import { kmsError } from '../errors.ts';

export interface PageRequest {
  /** 1 … 1000; the operation's shape has checked it. */
  readonly limit: number;
  readonly marker?: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Present when more items follow; pass it back as `marker`. */
  readonly nextMarker?: string;
}

export type MarkerKind = 'keys' | 'aliases' | 'grants' | 'retirable' | 'due';

export function encodeMarker(kind: MarkerKind, position: string | number): string {
  return Buffer.from(JSON.stringify([kind, position]), 'utf8').toString('base64url');
}

function invalid(): never {
  throw kmsError('InvalidMarkerException', 'Could not deserialize marker');
}

/** The position a marker of `kind` names; InvalidMarkerException for anything else. */
export function decodeMarker(kind: MarkerKind, marker: string, type: 'number'): number;
export function decodeMarker(kind: MarkerKind, marker: string, type: 'string'): string;
export function decodeMarker(kind: MarkerKind, marker: string, type: 'number' | 'string'): number | string {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(marker)) invalid();
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
  } catch {
    invalid();
  }
  if (!Array.isArray(v) || v.length !== 2 || v[0] !== kind) invalid();
  const p: unknown = v[1];
  if (type === 'number' ? !Number.isSafeInteger(p) || (p as number) < 0 : typeof p !== 'string' || p.length > 512) invalid();
  return p as number | string;
}

/** Splits `limit + 1` rows into a page: the extra row only says that more follow. */
export function pageOf<R, T>(rows: readonly R[], limit: number, map: (r: R) => T, next: (last: R) => string): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), ...(more && last !== undefined ? { nextMarker: next(last) } : {}) };
}
