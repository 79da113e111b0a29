// What the console shows of a KMS (kms-proxy/index.ts): keys with their aliases, policies, grants
// and rotations, `kms explain`, and the audit trail with its verification. Only descriptions
// leave this file: key material, grant tokens and credentials are never read into a view.
import { auditLogVersion, explain, recentAuditRecords, verifyAuditLog, type AuditVerification, type ExplainRequest, type Explanation, type KeyRecord, type Page, type PageRequest, type Service } from '../kms-proxy/index.ts';
import { UiNotFoundError } from './errors.ts';

/** The audit trail shows the last records of at most this much of the log's end. */
const AUDIT_TAIL_BYTES = 1024 * 1024;

export interface KeyView {
  readonly keyId: string;
  readonly arn: string;
  readonly aliases: readonly string[];
  readonly description: string;
  readonly keySpec: string;
  readonly keyUsage: string;
  readonly origin: string;
  readonly state: string;
  readonly creationDate: number;
  readonly deletionDate?: number;
  readonly rotationEnabled: boolean;
  readonly rotationPeriodInDays?: number;
  readonly nextRotationDate?: number;
}

export interface GrantView {
  readonly grantId: string;
  readonly name?: string;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string;
  readonly operations: readonly string[];
  readonly constraints?: unknown;
  readonly creationDate: number;
}

export interface RotationView {
  readonly version: number;
  readonly keyMaterialId: string;
  readonly createdAt: number;
  readonly rotationType?: string;
}

export interface KeyDetail extends KeyView {
  /** The key policy, pretty-printed. */
  readonly policy: string;
  readonly grants: readonly GrantView[];
  readonly rotations: readonly RotationView[];
}

/** One audit record as written (CloudTrail-shaped JSON), or a line that is not one. */
export type AuditEntry = { readonly record: Readonly<Record<string, unknown>> } | { readonly unreadable: string };

export class KmsDesk {
  readonly service: Service;
  readonly dataDir: string;

  constructor(service: Service, dataDir: string) {
    this.service = service;
    this.dataDir = dataDir;
  }

  #view(k: KeyRecord, aliases: readonly string[]): KeyView {
    return {
      keyId: k.keyId,
      arn: k.arn,
      aliases,
      description: k.description,
      keySpec: k.keySpec,
      keyUsage: k.keyUsage,
      origin: k.origin,
      state: k.state,
      creationDate: k.creationDate,
      ...(k.deletionDate !== undefined ? { deletionDate: k.deletionDate } : {}),
      rotationEnabled: k.rotationEnabled,
      ...(k.rotationPeriodInDays !== undefined ? { rotationPeriodInDays: k.rotationPeriodInDays } : {}),
      ...(k.nextRotationDate !== undefined ? { nextRotationDate: k.nextRotationDate } : {}),
    };
  }

  // The console shows the KMS's own account (--account) in its default Region: keys and aliases
  // belong to an account and Region.
  get #scope() {
    return { account: this.service.account, region: this.service.region };
  }

  async keys(): Promise<KeyView[]> {
    const store = this.service.store;
    const [refs, aliases] = await Promise.all([everyItem((p) => store.listKeys(this.#scope, p)), everyItem((p) => store.listAliases(this.#scope, p))]);
    const keys: KeyRecord[] = [];
    for (const r of refs) {
      const k = await store.getKey({ keyId: r.keyId, region: this.#scope.region });
      if (k) keys.push(k);
    }
    return keys
      .sort((a, b) => a.creationDate - b.creationDate || a.keyId.localeCompare(b.keyId))
      .map((k) => this.#view(k, aliases.filter((a) => a.keyId === k.keyId).map((a) => a.name)));
  }

  async key(keyId: string): Promise<KeyDetail> {
    const store = this.service.store;
    const k = await store.getKey({ keyId, region: this.#scope.region });
    if (!k) throw new UiNotFoundError(`no key ${keyId}`);
    const [aliases, grants, materials] = await Promise.all([everyItem((p) => store.listAliases({ account: k.account, region: k.region }, p, k.keyId)), store.listGrants(k), store.listMaterials(k)]);
    let policy = k.policy;
    try {
      policy = JSON.stringify(JSON.parse(k.policy), null, 2);
    } catch {
      // stored as given; the KMS parsed it when it was put
    }
    return {
      ...this.#view(k, aliases.filter((a) => a.keyId === k.keyId).map((a) => a.name)),
      policy,
      // Grant tokens are bearer secrets: never part of a view.
      grants: grants.map((g) => ({
        grantId: g.grantId,
        ...(g.name !== undefined ? { name: g.name } : {}),
        granteePrincipal: g.granteePrincipal,
        ...(g.retiringPrincipal !== undefined ? { retiringPrincipal: g.retiringPrincipal } : {}),
        operations: g.operations,
        ...(g.constraints !== undefined ? { constraints: g.constraints } : {}),
        creationDate: g.creationDate,
      })),
      // Only what ListKeyRotations tells; the material itself stays here.
      rotations: materials.map((m) => ({ version: m.version, keyMaterialId: m.id, createdAt: m.createdAt, ...(m.rotationType ? { rotationType: m.rotationType } : {}) })),
    };
  }

  explain(req: ExplainRequest): Promise<Explanation> {
    return explain(this.service, req);
  }

  /** The last `limit` call records of the audit trail (kms-proxy's default replica), newest last. */
  audit(limit: number): AuditEntry[] {
    return recentAuditRecords(this.dataDir, { limit, types: ['AwsApiCall'], maxBytes: AUDIT_TAIL_BYTES }).map((e) => ({ record: e.record }));
  }

  /** Changes whenever the audit log is written to. */
  auditVersion(): string {
    return auditLogVersion(this.dataDir);
  }

  verifyAudit(): Promise<AuditVerification> {
    return verifyAuditLog(this.dataDir);
  }
}

/** Every item of a paged store listing. */
async function everyItem<T>(read: (p: PageRequest) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let marker: string | undefined;
  do {
    const p = await read({ limit: 1000, ...(marker !== undefined ? { marker } : {}) });
    items.push(...p.items);
    marker = p.nextMarker;
  } while (marker !== undefined);
  return items;
}
