// Seed files (YAML or JSON) for deterministic tests: keys with fixed ids, material, specs, aliases,
// policies, tags and rotation state. Applying a seed twice changes nothing the second time: an
// existing key is left as it is (its material is never regenerated) and aliases are upserted.
//
//   keys:
//     - id: 0b6a5a3e-2b8e-4a0e-9f55-2f1a4c1f7e01
//       keySpec: SYMMETRIC_DEFAULT        # default
//       keyUsage: ENCRYPT_DECRYPT         # default for SYMMETRIC_DEFAULT
//       description: test key
//       material: <base64>                # raw key bytes; PKCS#8 PEM for RSA/ECC; generated if absent
//       state: Enabled                    # or Disabled
//       policy: { Version: "2012-10-17", Statement: [...] }   # object or JSON string
//       aliases: [alias/test]
//       tags: { team: blue }
//       rotation: { enabled: true, periodInDays: 365 }
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { KmsError, kmsError } from './errors.ts';
import { SPECS } from './keyspec.ts';
import { KEY_SPECS, type KeyRecord, type KeySpec, type KeyUsage } from './model.ts';
import { defaultKeyPolicy, parsePolicy } from './policy/document.ts';
import { DAY_MS, type Service } from './service.ts';

export interface SeedKey {
  readonly id: string;
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

function materialBytes(spec: KeySpec, text: string): Uint8Array {
  if (spec.startsWith('RSA_') || spec.startsWith('ECC_')) {
    const key = text.includes('-----BEGIN') ? createPrivateKey(text) : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
    return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
  }
  const b = Buffer.from(text, 'base64');
  const want = SPECS[spec]?.bytes;
  if (want !== undefined && b.length !== want) bad(`material for ${spec} must be ${want} bytes, got ${b.length}`);
  return new Uint8Array(b);
}

/** Applies a parsed seed document. Returns the ids of keys it created. */
export async function applySeed(svc: Service, doc: unknown): Promise<string[]> {
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) bad('expected an object with a "keys" list');
  const created: string[] = [];
  for (const raw of (doc as { keys: unknown[] }).keys) {
    if (raw === null || typeof raw !== 'object') bad('each key must be an object');
    const k = raw as SeedKey;
    if (typeof k.id !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(k.id)) bad(`key id must be a UUID, got ${String(k.id)}`);
    const keySpec = (k.keySpec ?? 'SYMMETRIC_DEFAULT') as KeySpec;
    if (!(KEY_SPECS as readonly string[]).includes(keySpec) || !SPECS[keySpec]) bad(`unsupported keySpec ${keySpec}`);
    const keyUsage = (k.keyUsage ?? SPECS[keySpec]?.usages[0]) as KeyUsage;
    if (!SPECS[keySpec]?.usages.includes(keyUsage)) bad(`keyUsage ${keyUsage} does not fit ${keySpec}`);
    const policy = k.policy === undefined ? defaultKeyPolicy(svc.account) : typeof k.policy === 'string' ? k.policy : JSON.stringify(k.policy);
    parsePolicy(policy);
    const existing = await svc.store.getKey(k.id);
    if (!existing) {
      const now = svc.clock();
      const period = k.rotation?.periodInDays ?? 365;
      const key: KeyRecord = {
        keyId: k.id,
        arn: svc.keyArn(k.id),
        account: svc.account,
        region: svc.region,
        creationDate: now,
        description: k.description ?? '',
        keySpec,
        keyUsage,
        origin: 'AWS_KMS',
        state: k.state ?? 'Enabled',
        policy,
        rotationEnabled: k.rotation?.enabled === true,
        ...(k.rotation?.enabled ? { rotationPeriodInDays: period, nextRotationDate: now + period * DAY_MS } : {}),
        tags: Object.entries(k.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue: String(TagValue) })),
      };
      const secret = k.material === undefined ? undefined : materialBytes(keySpec, k.material);
      await svc.store.createKey(key, await svc.newMaterial(key, 0, undefined, secret));
      created.push(k.id);
    }
    for (const name of k.aliases ?? []) {
      if (typeof name !== 'string' || !/^alias\/[a-zA-Z0-9:/_-]+$/.test(name) || name.startsWith('alias/aws/')) bad(`invalid alias ${String(name)}`);
      const a = await svc.store.getAlias(name);
      if (!a || a.keyId !== k.id) {
        const now = svc.clock();
        await svc.store.putAlias({ name, keyId: k.id, creationDate: a?.creationDate ?? now, lastUpdatedDate: now });
      }
    }
  }
  return created;
}

export async function applySeedFile(svc: Service, path: string): Promise<string[]> {
  const text = readFileSync(path, 'utf8');
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new KmsError('ValidationException', `seed: ${path} does not parse`, { cause });
  }
  return applySeed(svc, doc);
}
