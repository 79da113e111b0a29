// Seed files (YAML or JSON) for deterministic tests: keys with fixed ids, material, specs, aliases,
// policies, tags and rotation state, in any account; and credentials for the principals of several
// accounts. Applying a seed twice changes nothing the second time: an existing key is left as it is
// (its material is never regenerated) and aliases are upserted. The whole file is checked before
// anything is stored; unknown fields are refused.
//
//   credentials:                          # accepted while the seed is given (credentials.ts)
//     - accessKeyId: AKIAEXAMPLEOTHER0001
//       secretAccessKey: …
//       principalArn: arn:aws:iam::444455556666:user/partner
//       allowedActions: [kms:Decrypt, kms:DescribeKey]   # identity policy; default every action
//   keys:
//     - id: 0b6a5a3e-2b8e-4a0e-9f55-2f1a4c1f7e01
//       account: "111122223333"           # default: the KMS's account (--account)
//       region: eu-west-1                 # default: the KMS's default Region (the first --region)
//       keySpec: SYMMETRIC_DEFAULT        # default
//       keyUsage: ENCRYPT_DECRYPT         # default for SYMMETRIC_DEFAULT
//       description: test key
//       material: <base64>                # raw key bytes; PKCS#8 PEM for RSA/ECC; generated if absent
//       state: Enabled                    # or Disabled
//       policy: { Version: "2012-10-17", Statement: [...] }   # object or JSON string
//       aliases: [alias/test]             # in the key's account
//       tags: { team: blue }
//       rotation: { enabled: true, periodInDays: 365 }
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readConfigFile } from './config-file.ts';
import { parseCredentials } from './credentials.ts';
import { kmsError } from './errors.ts';
import { isAsymmetric, SPECS } from './keyspec.ts';
import { isRegionName } from './regions.ts';
import { KEY_SPECS, type KeyRecord, type KeySpec, type KeyUsage, type Material, type Tag } from './model.ts';
import { rotatable } from './operations/lib/rotation.ts';
import { defaultKeyPolicy, parsePolicy } from './policy/document.ts';
import { DAY_MS, type Service } from './service.ts';
import type { Credential } from './sigv4.ts';

export interface SeedKey {
  readonly id: string;
  /** 12 digits; default the KMS's account. */
  readonly account?: string;
  /** One of the served Regions; default the KMS's default Region. */
  readonly region?: string;
  readonly keySpec?: string;
  readonly keyUsage?: string;
  readonly description?: string;
  readonly material?: string;
  readonly state?: 'Enabled' | 'Disabled';
  readonly policy?: unknown;
  readonly aliases?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly rotation?: { readonly enabled?: boolean; readonly periodInDays?: number };
}

function bad(message: string): never {
  throw kmsError('ValidationException', `seed: ${message}`);
}

function materialBytes(spec: KeySpec, text: unknown): Uint8Array {
  if (typeof text !== 'string') bad(`material for ${spec} must be a string`);
  const info = SPECS[spec];
  if (isAsymmetric(spec)) {
    let key: KeyObject;
    try {
      key = text.includes('-----BEGIN') ? createPrivateKey(text) : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
    } catch {
      bad(`material for ${spec} is not a PKCS#8 private key`);
    }
    // Material of another curve or size would sign and decrypt as a different key spec.
    const d = key.asymmetricKeyDetails;
    const fits = info?.curve !== undefined ? key.asymmetricKeyType === 'ec' && d?.namedCurve === info.curve : key.asymmetricKeyType === 'rsa' && d?.modulusLength === info?.rsaBits;
    if (!fits) bad(`material is not a ${spec} private key`);
    return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
  }
  const b = Buffer.from(text, 'base64');
  if (info?.bytes !== undefined && b.length !== info.bytes) bad(`material for ${spec} must be ${info.bytes} bytes, got ${b.length}`);
  return new Uint8Array(b);
}

export interface PlannedKey {
  readonly id: string;
  readonly account: string;
  /** Undefined: the KMS's default Region. */
  readonly region: string | undefined;
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsage;
  readonly description: string;
  readonly state: 'Enabled' | 'Disabled';
  readonly policy: string;
  readonly aliases: readonly string[];
  readonly tags: readonly Tag[];
  readonly rotationPeriodInDays: number | undefined;
  readonly secret: Uint8Array | undefined;
}

const KEY_FIELDS = new Set(['id', 'account', 'region', 'keySpec', 'keyUsage', 'description', 'material', 'state', 'policy', 'aliases', 'tags', 'rotation']);

/** Checks one seed entry completely, so a bad file is refused before anything is stored. */
function planKey(raw: unknown, defaultAccount: string): PlannedKey {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('each key must be an object');
  const k = raw as SeedKey;
  for (const f of Object.keys(k)) if (!KEY_FIELDS.has(f)) bad(`unknown key field '${f}'`);
  const account = k.account ?? defaultAccount;
  if (typeof account !== 'string' || !/^\d{12}$/.test(account)) bad(`key account must be 12 digits (quote it in YAML), got ${String(k.account)}`);
  if (k.region !== undefined && (typeof k.region !== 'string' || !isRegionName(k.region))) bad(`key region must be a Region name like us-east-1, got ${String(k.region)}`);
  if (typeof k.id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(k.id)) bad(`key id must be a UUID, got ${String(k.id)}`);
  const keySpec = (k.keySpec ?? 'SYMMETRIC_DEFAULT') as KeySpec;
  if (!(KEY_SPECS as readonly string[]).includes(keySpec) || !SPECS[keySpec]) bad(`unsupported keySpec ${keySpec}`);
  const keyUsage = (k.keyUsage ?? SPECS[keySpec]?.usages[0]) as KeyUsage;
  if (!SPECS[keySpec]?.usages.includes(keyUsage)) bad(`keyUsage ${keyUsage} does not fit ${keySpec}`);
  const state = k.state ?? 'Enabled';
  if (state !== 'Enabled' && state !== 'Disabled') bad(`state must be Enabled or Disabled, got ${String(state)}`);
  if (k.description !== undefined && typeof k.description !== 'string') bad('description must be a string');
  const policy = k.policy === undefined ? defaultKeyPolicy(account) : typeof k.policy === 'string' ? k.policy : JSON.stringify(k.policy);
  parsePolicy(policy);
  const aliases = k.aliases ?? [];
  if (!Array.isArray(aliases)) bad('aliases must be a list');
  for (const name of aliases) {
    if (typeof name !== 'string' || !/^alias\/[a-zA-Z0-9:/_-]+$/.test(name) || name.startsWith('alias/aws/')) bad(`invalid alias ${String(name)}`);
  }
  let rotationPeriodInDays: number | undefined;
  if (k.rotation?.enabled === true) {
    rotationPeriodInDays = k.rotation.periodInDays ?? 365;
    // The range EnableKeyRotation accepts (RotationPeriodInDays 90–2560), for the specs it rotates.
    if (!Number.isInteger(rotationPeriodInDays) || rotationPeriodInDays < 90 || rotationPeriodInDays > 2560) bad(`rotation periodInDays must be an integer from 90 to 2560, got ${String(rotationPeriodInDays)}`);
    if (!rotatable(keySpec)) bad(`${keySpec} keys do not rotate`);
  }
  return {
    id: k.id,
    account,
    region: k.region,
    keySpec,
    keyUsage,
    description: k.description ?? '',
    state,
    policy,
    aliases,
    tags: Object.entries(k.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue: String(TagValue) })),
    rotationPeriodInDays,
    secret: k.material === undefined ? undefined : materialBytes(keySpec, k.material),
  };
}

/** A checked seed document: nothing of it has been stored yet. */
export interface Seed {
  readonly keys: readonly PlannedKey[];
  readonly credentials: readonly Credential[];
}

/** Checks a whole seed document (keys and credentials); ValidationException `seed: …` otherwise. */
export function parseSeed(doc: unknown, defaultAccount: string): Seed {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) bad('expected an object with a "keys" and/or a "credentials" list');
  const d = doc as Record<string, unknown>;
  for (const f of Object.keys(d)) if (f !== 'keys' && f !== 'credentials') bad(`unknown top-level field '${f}' (keys, credentials)`);
  if (d.keys === undefined && d.credentials === undefined) bad('expected an object with a "keys" and/or a "credentials" list');
  if (d.keys !== undefined && !Array.isArray(d.keys)) bad('"keys" must be a list');
  const keys = ((d.keys as unknown[] | undefined) ?? []).map((raw) => planKey(raw, defaultAccount));
  // One alias name for two keys of one account would leave the outcome to the order of the file.
  const aliasOwner = new Map<string, string>();
  const ids = new Set<string>();
  for (const k of keys) {
    if (ids.has(k.id.toLowerCase())) bad(`key ${k.id} is given twice`);
    ids.add(k.id.toLowerCase());
    for (const name of k.aliases) {
      const scope = `${k.account}/${k.region ?? ''}/${name}`;
      const owner = aliasOwner.get(scope);
      if (owner !== undefined && owner !== k.id) bad(`alias ${name} is given to two keys of account ${k.account} (${owner}, ${k.id})`);
      aliasOwner.set(scope, k.id);
    }
  }
  const credentials = d.credentials === undefined ? [] : parseCredentials(d.credentials, 'seed: credentials');
  return { keys, credentials };
}

/** Applies a parsed seed document. Returns the ids of keys it created. */
export async function applySeed(svc: Service, doc: unknown): Promise<string[]> {
  return applySeedKeys(svc, parseSeed(doc, svc.account));
}

/** Stores a checked seed's keys and aliases (its credentials are the server's to accept). */
export async function applySeedKeys(svc: Service, seed: Seed): Promise<string[]> {
  const created: { key: KeyRecord; material: Material }[] = [];
  for (const k of seed.keys) {
    const region = k.region ?? svc.region;
    if (!svc.regions.has(region)) bad(`key ${k.id}: region ${region} is not one this KMS serves (${[...svc.regions].join(', ')})`);
    const scope = { account: k.account, region };
    const existing = await svc.store.getKey({ keyId: k.id, region });
    if (existing && existing.account !== k.account) bad(`key ${k.id} exists in account ${existing.account} (${region}), not in ${k.account}`);
    if (!existing) {
      const now = svc.clock();
      const period = k.rotationPeriodInDays;
      const key: KeyRecord = {
        keyId: k.id,
        arn: svc.keyArn(scope, k.id),
        ...scope,
        creationDate: now,
        description: k.description,
        keySpec: k.keySpec,
        keyUsage: k.keyUsage,
        origin: 'AWS_KMS',
        state: k.state,
        policy: k.policy,
        rotationEnabled: period !== undefined,
        ...(period !== undefined ? { rotationPeriodInDays: period, nextRotationDate: now + period * DAY_MS } : {}),
        tags: k.tags,
      };
      created.push({ key, material: await svc.newMaterial(key, 0, undefined, k.secret) });
    }
  }
  // The new keys in one transaction: a seed of thousands of keys is one commit, not thousands.
  await svc.store.createKeys(created, { maxKeys: svc.limits.keysPerAccount });
  for (const k of seed.keys) {
    const scope = { account: k.account, region: k.region ?? svc.region };
    for (const name of k.aliases) {
      const a = await svc.store.getAlias(scope, name);
      if (!a || a.keyId !== k.id) {
        const now = svc.clock();
        await svc.store.putAlias({ ...scope, name, keyId: k.id, creationDate: a?.creationDate ?? now, lastUpdatedDate: now }, { maxPerKey: svc.limits.aliasesPerKey });
      }
    }
  }
  return created.map((c) => c.key.keyId);
}

/** Reads and checks a seed file (YAML, or JSON when it ends in .json). */
export function readSeedFile(path: string, defaultAccount: string): Seed {
  return parseSeed(readConfigFile(path, 'seed'), defaultAccount);
}

export async function applySeedFile(svc: Service, path: string): Promise<string[]> {
  return applySeedKeys(svc, readSeedFile(path, svc.account));
}
