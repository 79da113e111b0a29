// The stored form of each record and which of its columns are authenticated (record-mac.ts): the
// same for every KeyStore implementation, so a row means the same thing in SQLite and PostgreSQL.
// Columns that are only positions in a listing (`seq`) are not authenticated: changing one only
// reorders a listing.
import { createHash } from 'node:crypto';
import { maintenanceDue } from '../due.ts';
import type { AliasRecord, GrantRecord, ImportParameters, KeyRecord } from '../model.ts';
import type { Field } from './record-mac.ts';

/**
 * A key row. Its MAC covers the record through `digest` (SHA-256 of the record), so ListKeys can
 * check a row's id, ARN and account without reading its record; reading the record checks the
 * digest too.
 */
export interface KeyRow {
  readonly key_id: string;
  readonly arn: string;
  readonly account: string;
  readonly region: string;
  readonly due: number | null;
  readonly digest: Uint8Array;
  readonly record?: string;
  readonly mac?: Uint8Array;
}

export function recordDigest(record: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(record, 'utf8').digest());
}

export function keyRow(key: KeyRecord): KeyRow & { readonly record: string } {
  const record = JSON.stringify(key);
  return { key_id: key.keyId, arn: key.arn, account: key.account, region: key.region, due: maintenanceDue(key) ?? null, digest: recordDigest(record), record };
}

export const keyFields = (r: KeyRow): Field[] => [r.key_id, r.arn, r.account, r.region, r.due, r.digest];

/** The record of a key row whose MAC has been checked; undefined when it disagrees with its columns. */
export function keyOf(r: KeyRow): KeyRecord | undefined {
  if (r.record === undefined || !Buffer.from(recordDigest(r.record)).equals(r.digest)) return undefined;
  const k = JSON.parse(r.record) as KeyRecord;
  return k.keyId === r.key_id && k.arn === r.arn && k.account === r.account && k.region === r.region && (maintenanceDue(k) ?? null) === r.due ? k : undefined;
}

export interface MaterialRow {
  readonly key_id: string;
  readonly region: string;
  readonly version: number;
  readonly id: string;
  readonly created_at: number;
  readonly rotation_type: string | null;
  readonly sealed: Uint8Array;
  readonly mac?: Uint8Array;
}

export const materialFields = (r: MaterialRow): Field[] => [r.key_id, r.region, r.version, r.id, r.created_at, r.rotation_type, r.sealed];

export interface AliasRow {
  readonly account: string;
  readonly region: string;
  readonly name: string;
  readonly key_id: string;
  readonly created: number;
  readonly updated: number;
  readonly mac?: Uint8Array;
}

export function aliasRow(a: AliasRecord): AliasRow {
  return { account: a.account, region: a.region, name: a.name, key_id: a.keyId, created: a.creationDate, updated: a.lastUpdatedDate };
}

export const aliasFields = (r: AliasRow): Field[] => [r.account, r.region, r.name, r.key_id, r.created, r.updated];

export function aliasOf(r: AliasRow): AliasRecord {
  return { account: r.account, region: r.region, name: r.name, keyId: r.key_id, creationDate: r.created, lastUpdatedDate: r.updated };
}

export interface GrantRow {
  readonly grant_id: string;
  readonly key_id: string;
  readonly region: string;
  readonly token: string;
  readonly grantee: string;
  readonly retiring: string | null;
  readonly record: string;
  readonly mac?: Uint8Array;
}

export function grantRow(g: GrantRecord): GrantRow {
  return { grant_id: g.grantId, key_id: g.keyId, region: g.region, token: g.grantToken, grantee: g.granteePrincipal, retiring: g.retiringPrincipal ?? null, record: JSON.stringify(g) };
}

export const grantFields = (r: GrantRow): Field[] => [r.grant_id, r.key_id, r.region, r.token, r.grantee, r.retiring, r.record];

export function grantOf(r: GrantRow): GrantRecord | undefined {
  const g = JSON.parse(r.record) as GrantRecord;
  return g.grantId === r.grant_id && g.keyId === r.key_id && g.region === r.region && g.grantToken === r.token && g.granteePrincipal === r.grantee && (g.retiringPrincipal ?? null) === r.retiring ? g : undefined;
}

export interface ImportRow {
  readonly token: string;
  readonly key_id: string;
  readonly region: string;
  readonly record: string;
  readonly sealed: Uint8Array;
  readonly mac?: Uint8Array;
}

export function importRecord(p: ImportParameters): string {
  const { privateKey: _p, ...rec } = p;
  return JSON.stringify(rec);
}

export const importFields = (r: ImportRow): Field[] => [r.token, r.key_id, r.region, r.record, r.sealed];
