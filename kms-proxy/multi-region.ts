// Multi-Region keys (KMS Developer Guide, "Multi-Region keys in AWS KMS"): keys in several Regions
// with one `mrk-` key id, one primary and its replicas, each a full KMS key of its Region with its
// own key policy, grants, aliases, tags, description and key state. They share the key material, key
// spec, key usage, origin and automatic rotation status, which the primary decides: rotating the
// primary gives every replica the new material in the same store transaction, so a ciphertext made
// in one Region decrypts with the related key of any other (the ciphertext names the key id and the
// material version, not the Region). Imported material is not shared: each key imports its own
// ("AWS KMS does not copy or synchronize the key material from a primary key with imported key
// material to its replica keys").
//
// The store holds one record per Region; which is the primary is each record's
// `multiRegionKeyType`, and the set of related keys is read from the store (`relatedKeys`).
import { randomBytes } from 'node:crypto';
import { kmsError } from './errors.ts';
import type { KeyRecord, KeyState } from './model.ts';

/** A multi-Region key id: `mrk-` and 32 lower-case hex digits (KMS Developer Guide, "Key ID"). */
export const MRK_ID = /^mrk-[0-9a-f]{32}$/i;

export function newMultiRegionKeyId(): string {
  return `mrk-${randomBytes(16).toString('hex')}`;
}

export function isMultiRegion(key: Pick<KeyRecord, 'multiRegionKeyType'>): boolean {
  return key.multiRegionKeyType !== undefined;
}

/** The primary among related keys (undefined only in a store damaged outside the KMS). */
export function primaryOf(related: readonly KeyRecord[]): KeyRecord | undefined {
  return related.find((k) => k.multiRegionKeyType === 'PRIMARY');
}

export function replicasOf(related: readonly KeyRecord[]): KeyRecord[] {
  return related.filter((k) => k.multiRegionKeyType === 'REPLICA');
}

/**
 * `MultiRegion` and `MultiRegionConfiguration` of KeyMetadata (KMS API Reference, "KeyMetadata",
 * "MultiRegionConfiguration"): the key's type, its primary and every replica (this key too when it
 * is one), oldest replica first, as a recorded ReplicateKey answer lists them.
 */
export function multiRegionMetadata(key: KeyRecord, related: readonly KeyRecord[] = [key]): Record<string, unknown> {
  if (!isMultiRegion(key)) return { MultiRegion: false };
  const primary = primaryOf(related);
  const ref = (k: KeyRecord) => ({ Arn: k.arn, Region: k.region });
  return {
    MultiRegion: true,
    MultiRegionConfiguration: {
      MultiRegionKeyType: key.multiRegionKeyType,
      ...(primary ? { PrimaryKey: ref(primary) } : {}),
      ReplicaKeys: replicasOf(related)
        .sort((a, b) => a.creationDate - b.creationDate || (a.region < b.region ? -1 : 1))
        .map(ref),
    },
  };
}

/** ReplicateKey, UpdatePrimaryRegion: only a multi-Region primary key (UnsupportedOperationException). */
export function requirePrimary(key: KeyRecord): void {
  if (key.multiRegionKeyType !== 'PRIMARY') throw notPrimary(key);
}

/**
 * Rotation is the primary's to change ("To enable or disable automatic rotation of a set of related
 * multi-Region keys, set the property on the primary key"): a replica refuses it.
 */
export function requireNotReplica(key: KeyRecord): void {
  if (key.multiRegionKeyType === 'REPLICA') throw notPrimary(key);
}

function notPrimary(key: KeyRecord): Error {
  return kmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region primary key.`);
}

/** The key with its transient state over: `settles.state`, and no `settles`. */
export function settled(key: KeyRecord): KeyRecord {
  if (key.settles === undefined) return key;
  const { settles, ...rest } = key;
  return { ...rest, state: settles.state };
}

/** The key in a transient `state` until `at`, then back in `after` (a zero wait: `after` at once). */
export function transient(key: KeyRecord, state: KeyState, after: KeyState, at: number, now: number): KeyRecord {
  const { settles: _s, ...rest } = key;
  return at <= now ? { ...rest, state: after } : { ...rest, state, settles: { at, state: after } };
}
