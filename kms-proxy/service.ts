// The state every operation works with (store, clock, configuration, audit) and the checks they
// share: resolving KeyId/alias/ARN in the caller's account, key states, key usage, authorization
// against the key policy, grants and the caller's identity policy, and KeyMetadata as AWS returns it.
import { randomBytes, randomUUID } from 'node:crypto';
import { AccessDeniedError, kmsError, messages } from './errors.ts';
import { accessDenied, authorizeWithIdentity, denialMessage, identityAllows, type Authorization, type Caller } from './identity.ts';
import { WorkPacer } from './gate.ts';
import { currentImported, materialMetadata, nextExpiry, planExpiry } from './imported.ts';
import { generateMaterial, SPECS } from './keyspec.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import type { GrantRecord, KeyRecord, Material } from './model.ts';
import { isMultiRegion, MRK_ID, multiRegionMetadata, newMultiRegionKeyId, primaryOf, replicasOf, settled } from './multi-region.ts';
import { parsePolicy, type PolicyDocument } from './policy/document.ts';
import { evaluate, type Decision } from './policy/evaluate.ts';
import type { ChildGrant } from './policy/grants.ts';
import { identityOf } from './policy/principals.ts';
import { StoreConflictError, type KeyStore, type Scope, type WriteCondition } from './store/types.ts';
import { RecipientVerifier } from './recipient/verify.ts';

export type { Caller } from './identity.ts';

export interface ServiceConfig {
  readonly store: KeyStore;
  /** The default Region: of unsigned requests, seeded keys and `kms explain` (regions.ts). */
  readonly region: string;
  /** Every Region this KMS answers for (the default among them); default: the default Region alone. */
  readonly regions?: readonly string[];
  /**
   * How long (lifecycle clock) a new replica stays Creating and keys changing their primary Region
   * stay Updating, as AWS's transient states last "a few seconds"; default 2000 ms, 0: none.
   */
  readonly transientStateMs?: number;
  /** The default account: of the generated credential, anonymous callers and seeded keys. */
  readonly account: string;
  /** Resource quotas (limits.ts); default AWS's. */
  readonly limits?: Limits;
  /** Epoch milliseconds; injectable so deletion windows, rotation and expiry are testable. */
  readonly clock: () => number;
  /** Verifies Recipient attestation documents (trust anchors, maximum age, chain cache). */
  readonly recipient?: RecipientVerifier;
  /** Told when maintenance of one key fails (that key is retried later); default: a line on stderr. */
  readonly onMaintenanceError?: (error: Error) => void;
}

export interface Resolved {
  readonly key: KeyRecord;
  /** The alias name when the caller named the key by alias (for `kms:RequestAlias`). */
  readonly alias?: string;
}

export interface DecideOptions {
  /** CreateGrant: the grant it would create, which a grant allowing CreateGrant must bound. */
  readonly childGrant?: ChildGrant;
  /** Build the request context even when no statement has a condition (`kms explain`). */
  readonly fullContext?: boolean;
}

/** Extra condition-key values an operation contributes (encryption context, algorithms, …). */
export type ContextValues = Readonly<Record<string, string | readonly string[] | undefined>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const DAY_MS = 86_400_000;
export const DEFAULT_TRANSIENT_STATE_MS = 2000;
/** How long (on the lifecycle clock) a key whose maintenance failed waits before it is retried. */
export const MAINTENANCE_RETRY_MS = 60_000;
/** With a shared store: how long (lifecycle clock) a replica waits while another one runs maintenance. */
export const MAINTENANCE_BUSY_MS = 1000;
/** Keys a maintenance run reads at a time; it yields to other requests between pages. */
const MAINTENANCE_PAGE = 100;
const EMPTY_CONTEXT: ReadonlyMap<string, readonly string[]> = new Map();
const ARN = /^arn:aws[a-z-]*:kms:([^:]*):([^:]*):(key|alias)\/(.+)$/;

export class Service {
  readonly store: KeyStore;
  /** The default Region (ServiceConfig.region). */
  readonly region: string;
  readonly regions: ReadonlySet<string>;
  readonly transientStateMs: number;
  readonly account: string;
  readonly clock: () => number;
  readonly recipient: RecipientVerifier;
  readonly limits: Limits;
  /** Paces the List operations' reads (gate.ts): at most a quarter of the server's time. */
  readonly listPacer = new WorkPacer();
  readonly #onMaintenanceError: (error: Error) => void;
  readonly #policies = new Map<string, PolicyDocument>();
  /** Keys whose maintenance failed, and when they are tried again. */
  readonly #retryAt = new Map<string, number>();
  /** Earliest time at which maintenance (deletion, rotation, expiry) has something to do. */
  #nextDue = 0;
  #maintaining: Promise<void> | undefined;
  /** Dates scheduled while a maintenance run was in progress, so the run cannot forget them. */
  #scheduledDuringRun = 0;

  constructor(config: ServiceConfig) {
    this.store = config.store;
    this.region = config.region;
    this.regions = new Set([config.region, ...(config.regions ?? [])]);
    this.transientStateMs = config.transientStateMs ?? DEFAULT_TRANSIENT_STATE_MS;
    this.account = config.account;
    this.clock = config.clock;
    this.recipient = config.recipient ?? new RecipientVerifier({}, config.clock);
    this.limits = config.limits ?? DEFAULT_LIMITS;
    this.#onMaintenanceError = config.onMaintenanceError ?? ((e) => process.stderr.write(`kms: ${e.message}\n`));
  }

  keyArn(scope: Scope, keyId: string): string {
    return `arn:aws:kms:${scope.region}:${scope.account}:key/${keyId}`;
  }

  aliasArn(scope: Scope, name: string): string {
    return `arn:aws:kms:${scope.region}:${scope.account}:${name}`;
  }

  /** The Region a request is for (its SigV4 scope; regions.ts). */
  regionOf(caller: Caller): string {
    return caller.region ?? this.region;
  }

  /** The account and region a caller acts in: where its keys and aliases are made and listed. */
  scopeOf(caller: Caller): Scope {
    return { account: caller.account, region: this.regionOf(caller) };
  }

  newKeyId(multiRegion = false): string {
    return multiRegion ? newMultiRegionKeyId() : randomUUID();
  }

  async newMaterial(key: Pick<KeyRecord, 'keyId' | 'keySpec'>, version: number, rotationType?: 'AUTOMATIC' | 'ON_DEMAND', secret?: Uint8Array): Promise<Material> {
    return {
      keyId: key.keyId,
      version,
      id: randomBytes(32).toString('hex'),
      createdAt: this.clock(),
      ...(rotationType ? { rotationType } : {}),
      secret: secret ?? (await generateMaterial(key.keySpec)),
    };
  }

  /**
   * The material encryption uses: the newest, or for imported material the CURRENT one when it is
   * imported (a material imported for an on-demand rotation is newer but not in use yet).
   */
  async currentMaterial(key: KeyRecord): Promise<Material | undefined> {
    if (key.importedMaterials === undefined) return this.store.currentMaterial(key);
    const cur = currentImported(key);
    return cur?.imported ? this.store.getMaterial(key, cur.version) : undefined;
  }

  /**
   * Resolves a key id, key ARN, alias name or alias ARN (where `aliases` allows) to a key record, as
   * AWS does: a key id or alias name names a key in the caller's own account and region; another
   * account's key is reachable only by its key ARN or alias ARN (whether the operation may act on
   * it there is for `authorize`). Unknown keys are NotFoundException with AWS's messages.
   */
  async resolve(id: string, caller: Caller, options: { aliases: boolean } = { aliases: true }): Promise<Resolved> {
    let keyId = id;
    let alias: string | undefined;
    let account = caller.account;
    const region = this.regionOf(caller);
    if (id.startsWith('arn:')) {
      const m = ARN.exec(id);
      if (!m) throw kmsError('NotFoundException', `Invalid arn ${id}`);
      const [, arnRegion = '', arnAccount = '', kind, rest = ''] = m;
      // An ARN of another Region names no key of this request's Region (as AWS answers).
      if (arnRegion !== region) throw kmsError('NotFoundException', `Invalid arn ${arnRegion}`);
      if (!/^\d{12}$/.test(arnAccount)) throw kmsError('NotFoundException', kind === 'key' ? messages.notFound(id) : messages.aliasNotFound(id));
      account = arnAccount;
      if (kind === 'alias') {
        if (!options.aliases) throw kmsError('NotFoundException', `Invalid keyId '${id}'`);
        alias = `alias/${rest}`;
      } else keyId = rest;
    } else if (id.startsWith('alias/')) {
      if (!options.aliases) throw kmsError('NotFoundException', `Invalid keyId '${id}'`);
      alias = id;
    }
    const scope = { account, region };
    if (alias !== undefined) {
      const a = await this.store.getAlias(scope, alias);
      if (!a) throw kmsError('NotFoundException', messages.aliasNotFound(this.aliasArn(scope, alias)));
      keyId = a.keyId;
    } else if (!UUID.test(keyId) && !MRK_ID.test(keyId)) {
      throw kmsError('NotFoundException', `Invalid keyId '${keyId}'`);
    }
    const key = await this.getKeyOrThrow(keyId, scope);
    // A key id names a key of the account it is looked up in, never one of another account.
    if (key.account !== account) throw kmsError('NotFoundException', messages.notFound(this.keyArn(scope, keyId)));
    return alias === undefined ? { key } : { key, alias };
  }

  /**
   * The key `keyId` of `scope`'s Region, in any account (a ciphertext names its key); never a key of
   * another Region. NotFoundException names the key's ARN in `scope`.
   */
  async getKeyOrThrow(keyId: string, scope: Scope): Promise<KeyRecord> {
    await this.maintain();
    const key = await this.store.getKey({ keyId, region: scope.region });
    if (!key) throw kmsError('NotFoundException', messages.notFound(this.keyArn(scope, keyId)));
    return key;
  }

  /** Every key related to a multi-Region key (itself included), one per Region; `[key]` for others. */
  async relatedKeys(key: KeyRecord): Promise<readonly KeyRecord[]> {
    return isMultiRegion(key) ? this.store.relatedKeys(key.keyId) : [key];
  }

  /**
   * Cryptographic operations need an Enabled key (KMS Developer Guide, "Key states of KMS keys"). A
   * key Updating its primary Region is used as the state it returns to ("While the key state is
   * Updating, you can use the keys in cryptographic operations").
   */
  requireEnabled(key: KeyRecord): void {
    const k = key.state === 'Updating' ? settled(key) : key;
    switch (k.state) {
      case 'Enabled':
        return;
      case 'Disabled':
        throw kmsError('DisabledException', messages.disabled(key.arn));
      case 'PendingDeletion':
        throw kmsError('KMSInvalidStateException', messages.pendingDeletion(key.arn));
      case 'PendingReplicaDeletion':
        throw kmsError('KMSInvalidStateException', messages.pendingReplicaDeletion(key.arn));
      case 'PendingImport':
        throw kmsError('KMSInvalidStateException', messages.pendingImport(key.arn));
      case 'Creating':
        throw kmsError('KMSInvalidStateException', messages.creating(key.arn));
      default:
        throw kmsError('KMSInvalidStateException', `${key.arn} is ${k.state}.`);
    }
  }

  /** Administrative operations refused while a key waits to be deleted. */
  requireNotPendingDeletion(key: KeyRecord): void {
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', messages.pendingDeletion(key.arn));
    if (key.state === 'PendingReplicaDeletion') throw kmsError('KMSInvalidStateException', messages.pendingReplicaDeletion(key.arn));
  }

  /** Refused while a replica is being created (and, unless `updating` is allowed, while Updating). */
  requireSettled(key: KeyRecord, updating: 'allowed' | 'refused' = 'refused'): void {
    if (key.state === 'Creating') throw kmsError('KMSInvalidStateException', messages.creating(key.arn));
    if (key.state === 'Updating' && updating === 'refused') throw kmsError('KMSInvalidStateException', messages.updating(key.arn));
  }

  /** EnableKey/DisableKey: refused while the key waits to be deleted, for its imported material, or in a transient state. */
  requireNotPending(key: KeyRecord): void {
    this.requireNotPendingDeletion(key);
    if (key.state === 'PendingImport') throw kmsError('KMSInvalidStateException', messages.pendingImport(key.arn));
    this.requireSettled(key);
  }

  requireUsage(key: KeyRecord, usage: KeyRecord['keyUsage'], op: string): void {
    if (key.keyUsage !== usage) {
      throw kmsError('InvalidKeyUsageException', messages.keyUsageNotValid(key.arn, key.keyUsage, op));
    }
  }

  policyOf(key: KeyRecord): PolicyDocument {
    let p = this.#policies.get(key.policy);
    if (!p) {
      p = parsePolicy(key.policy);
      if (this.#policies.size > 1000) this.#policies.clear();
      this.#policies.set(key.policy, p);
    }
    return p;
  }

  /** The request context the policy evaluator sees (IAM and KMS global/service condition keys). */
  requestContext(key: KeyRecord, caller: Caller, extra: ContextValues, alias?: string): Map<string, readonly string[]> {
    const ctx = new Map<string, readonly string[]>();
    const set = (k: string, v: string | readonly string[] | undefined) => {
      if (v === undefined) return;
      ctx.set(k.toLowerCase(), typeof v === 'string' ? [v] : v);
    };
    // Global keys (IAM User Guide, "AWS global condition context keys"; policy/catalogue.ts lists
    // every key with the operations it is supplied on).
    const id = identityOf(caller.principalArn, caller.account);
    set('aws:PrincipalArn', id.principalArn);
    set('aws:PrincipalAccount', caller.account);
    set('aws:PrincipalType', id.type);
    set('aws:username', id.userName);
    if (id.type === 'Account') set('aws:userid', caller.account);
    set('aws:PrincipalIsAWSService', 'false');
    set('aws:ViaAWSService', 'false');
    set('aws:RequestedRegion', this.regionOf(caller));
    set('aws:UserAgent', caller.userAgent);
    set('kms:CallerAccount', caller.account);
    set('aws:CurrentTime', new Date(this.clock()).toISOString());
    set('aws:EpochTime', String(Math.floor(this.clock() / 1000)));
    set('aws:SecureTransport', 'false');
    set('aws:SourceIp', caller.sourceIp);
    set('aws:ResourceAccount', key.account);
    set('kms:KeySpec', key.keySpec);
    set('kms:CustomerMasterKeySpec', key.keySpec);
    set('kms:KeyUsage', key.keyUsage);
    set('kms:CustomerMasterKeyUsage', key.keyUsage);
    set('kms:KeyOrigin', key.origin);
    set('kms:MultiRegion', isMultiRegion(key) ? 'true' : 'false');
    set('kms:MultiRegionKeyType', key.multiRegionKeyType);
    set('kms:RequestAlias', alias);
    for (const t of key.tags) set(`aws:ResourceTag/${t.TagKey}`, t.TagValue);
    for (const [k, v] of Object.entries(extra)) set(k, v);
    return ctx;
  }

  /** Context-key values for an encryption context (`kms:EncryptionContext:…`, `…Keys`). */
  static encryptionContextValues(ec: Readonly<Record<string, string>> | undefined, prefix = ''): Record<string, string | readonly string[]> {
    const out: Record<string, string | readonly string[]> = {};
    if (!ec) return out;
    for (const [k, v] of Object.entries(ec)) out[`kms:${prefix}EncryptionContext:${k}`] = v;
    const keys = Object.keys(ec);
    if (keys.length > 0) out[`kms:${prefix}EncryptionContextKeys`] = keys;
    return out;
  }

  /** The key policy's and grants' decision with the account rules and identity policy applied (identity.ts). */
  async authorization(key: KeyRecord, caller: Caller, action: string, extra: ContextValues = {}, alias?: string, encryptionContext?: Readonly<Record<string, string>>, more: DecideOptions = {}): Promise<Authorization> {
    const grants: readonly GrantRecord[] = await this.store.listGrants(key);
    const policy = this.policyOf(key);
    // Condition values are only needed when some statement has conditions; skipping the context
    // keeps the common (unconditioned) policy cheap on the hot path.
    const needsContext = more.fullContext === true || policy.statements.some((st) => st.conditions.length > 0);
    const decision = evaluate(policy, grants, {
      principalArn: caller.principalArn,
      principalAccount: caller.account,
      action,
      resourceArn: key.arn,
      context: needsContext ? this.requestContext(key, caller, extra, alias) : EMPTY_CONTEXT,
      ...(encryptionContext ? { encryptionContext } : {}),
      ...(more.childGrant ? { childGrant: more.childGrant } : {}),
    });
    return authorizeWithIdentity({ decision, policy, grants, caller, resourceAccount: key.account, action });
  }

  async decide(key: KeyRecord, caller: Caller, action: string, extra: ContextValues = {}, alias?: string, encryptionContext?: Readonly<Record<string, string>>, more: DecideOptions = {}): Promise<Decision> {
    return (await this.authorization(key, caller, action, extra, alias, encryptionContext, more)).decision;
  }

  /** Throws AccessDeniedException unless the key policy or a grant, and the identity policy, allow `action`. */
  async authorize(resolved: Resolved, caller: Caller, action: string, extra: ContextValues = {}, encryptionContext?: Readonly<Record<string, string>>, more: DecideOptions = {}): Promise<Decision> {
    const a = await this.authorization(resolved.key, caller, action, extra, resolved.alias, encryptionContext, more);
    if (!a.decision.allowed) throw new AccessDeniedError(denialMessage(caller, action, resolved.key.arn, a.denial ?? 'no-resource-policy'), a.decision, a.detail);
    return a.decision;
  }

  /**
   * Operations on no key (CreateKey, ListKeys, ListAliases, GenerateRandom, ListRetirableGrants)
   * are IAM-only on AWS: the caller's identity policy alone decides. AccessDeniedException otherwise.
   */
  authorizeIdentity(caller: Caller, action: string, resource = '*'): void {
    if (!identityAllows(caller, action)) throw accessDenied(caller, action, resource, 'no-identity-policy');
  }

  /**
   * KeyMetadata; `currentMaterialId` is the id of the key's newest stored material, if any;
   * `related` (relatedKeys) fills a multi-Region key's MultiRegionConfiguration.
   */
  keyMetadata(key: KeyRecord, currentMaterialId?: string, related?: readonly KeyRecord[]): Record<string, unknown> {
    const info = SPECS[key.keySpec];
    const sec = (ms: number) => ms / 1000;
    return {
      AWSAccountId: key.account,
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: sec(key.creationDate),
      Enabled: key.state === 'Enabled',
      Description: key.description,
      KeyUsage: key.keyUsage,
      KeyState: key.state,
      ...(key.deletionDate !== undefined ? { DeletionDate: sec(key.deletionDate) } : {}),
      Origin: key.origin,
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      ...(info?.encryptionAlgorithms && key.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: info.encryptionAlgorithms } : {}),
      ...(info?.signingAlgorithms && key.keyUsage === 'SIGN_VERIFY' ? { SigningAlgorithms: info.signingAlgorithms } : {}),
      ...(info?.macAlgorithms ? { MacAlgorithms: info.macAlgorithms } : {}),
      ...(info?.keyAgreementAlgorithms && key.keyUsage === 'KEY_AGREEMENT' ? { KeyAgreementAlgorithms: info.keyAgreementAlgorithms } : {}),
      ...multiRegionMetadata(key, related),
      ...(key.pendingWindowInDays !== undefined && (key.state === 'PendingDeletion' || key.state === 'PendingReplicaDeletion') ? { PendingDeletionWindowInDays: key.pendingWindowInDays } : {}),
      ...materialMetadata(key, currentMaterialId),
    };
  }

  /** Tells maintenance that something becomes due at `when` (deletion date, rotation, expiry). */
  schedule(when: number): void {
    if (this.#nextDue === 0 || when < this.#nextDue) this.#nextDue = when;
    if (this.#maintaining && (this.#scheduledDuringRun === 0 || when < this.#scheduledDuringRun)) this.#scheduledDuringRun = when;
  }

  /**
   * Runs what the clock says is due: keys whose deletion window ended are deleted, keys due for
   * automatic rotation get new material, imported material past ValidTo is removed. Called before
   * every key lookup and from a timer, so deletion happens when the window ends even when idle.
   */
  async maintain(): Promise<void> {
    const now = this.clock();
    if (this.#nextDue === 0 || now < this.#nextDue) return;
    if (this.#maintaining) return this.#maintaining;
    this.#maintaining = this.#runMaintenance(now).finally(() => {
      this.#maintaining = undefined;
    });
    return this.#maintaining;
  }

  async #runMaintenance(now: number): Promise<void> {
    let next = 0;
    const later = (t: number | undefined) => {
      if (t !== undefined && t > now && (next === 0 || t < next)) next = t;
    };
    const coordination = this.store.coordination;
    try {
      // Replicas sharing a store run maintenance one at a time (coordination.ts): the one that
      // holds the lock reads what is due now, after every earlier run committed, and each write is
      // conditional on the key being the record it read, so a rotation or a deletion happens once,
      // and never over a change another replica made meanwhile (a cancelled deletion stays cancelled).
      const ran = coordination ? await coordination.exclusive('maintenance', () => this.#maintenancePass(now, later)) : await this.#maintenancePass(now, later);
      if (ran === undefined) later(now + MAINTENANCE_BUSY_MS);
    } catch (e) {
      // The store could not list the keys: this run's caller gets the error, later ones wait.
      later(now + MAINTENANCE_RETRY_MS);
      throw e;
    } finally {
      const during = this.#scheduledDuringRun;
      this.#scheduledDuringRun = 0;
      this.#nextDue = during !== 0 && (next === 0 || during < next) ? during : next;
    }
  }

  /** One pass over the due keys; true when it ran. */
  async #maintenancePass(now: number, later: (t: number | undefined) => void): Promise<true> {
    // Only the keys that are due, from the store's index, a page at a time with a turn of the
    // event loop between pages: a thousand keys due at once do not stall other requests.
    let marker: string | undefined;
    do {
      const page = await this.store.listDueKeys(now, { limit: MAINTENANCE_PAGE, ...(marker !== undefined ? { marker } : {}) });
      for (const key of page.items) {
        const id = `${key.region}\0${key.keyId}`;
        const retry = this.#retryAt.get(id);
        if (retry !== undefined && retry > now) {
          later(retry);
          continue;
        }
        try {
          await this.#maintainKey(key, now, later);
          this.#retryAt.delete(id);
        } catch (cause) {
          if (cause instanceof StoreConflictError) {
            // Changed since it was listed (by a call, or another replica): looked at again at once.
            later(now + 1);
            continue;
          }
          // One key's failure (a store error, material that fails its integrity check) must not
          // stop the other keys, nor leave the due date in the past: every key lookup awaits a
          // due run, so each would repeat the failure and answer KMSInternalException. It is
          // reported and that key is retried later.
          const reason = cause instanceof Error ? cause.message : String(cause);
          this.#onMaintenanceError(new Error(`maintenance of ${key.arn} failed (retried in ${MAINTENANCE_RETRY_MS / 1000} s): ${reason}`, { cause }));
          this.#retryAt.set(id, now + MAINTENANCE_RETRY_MS);
          later(now + MAINTENANCE_RETRY_MS);
        }
      }
      marker = page.nextMarker;
      if (marker !== undefined) await new Promise((resolve) => setImmediate(resolve));
    } while (marker !== undefined);
    later(await this.store.nextDue(now));
    return true;
  }

  /**
   * One key's due work; `later` is told the key's next due date. Every write is conditional on the
   * key's stored record being the one read (WriteCondition): a replica's maintenance never
   * overwrites what a call, or another replica, changed meanwhile.
   */
  async #maintainKey(due: KeyRecord, now: number, later: (t: number | undefined) => void): Promise<void> {
    let key = due;
    // A transient state (a replica Creating, keys Updating) ends first; the rest applies to the key
    // as it is then.
    if (key.settles !== undefined) {
      if (key.settles.at > now) later(key.settles.at);
      else {
        key = settled(key);
        await this.store.writeKeys({ put: [key] }, {}, { ifUnchanged: due });
      }
    }
    const unchanged: WriteCondition = { ifUnchanged: key };
    if (key.state === 'PendingDeletion' && key.deletionDate !== undefined) {
      if (key.deletionDate <= now) {
        await this.#deleteKey(key, now, unchanged);
        return;
      }
      later(key.deletionDate);
    }
    if (key.validTo !== undefined && key.expirationModel === 'KEY_MATERIAL_EXPIRES' && key.state !== 'PendingImport' && key.state !== 'PendingDeletion') {
      if (key.validTo <= now) {
        const { validTo: _v, expirationModel: _e, ...rest } = key;
        await this.store.deleteMaterials({ ...rest, state: 'PendingImport' }, undefined, unchanged);
        return;
      }
      later(key.validTo);
    }
    if (key.state !== 'PendingDeletion') {
      const expiry = planExpiry(key, key.importedMaterials ?? [], now);
      if (expiry) {
        await this.store.deleteMaterials(expiry.key, expiry.versions, unchanged);
        later(nextExpiry(expiry.key));
        return;
      }
      later(nextExpiry(key));
    }
    if (key.rotationEnabled && key.nextRotationDate !== undefined && key.state !== 'PendingDeletion') {
      if (key.nextRotationDate <= now && key.state === 'Enabled') {
        // Next date = this one + period, skipping periods missed while the clock jumped or the
        // server was down (one rotation per run, never a burst of catch-up rotations).
        const period = (key.rotationPeriodInDays ?? 365) * DAY_MS;
        let nextRotationDate = key.nextRotationDate + period;
        while (nextRotationDate <= now) nextRotationDate += period;
        await this.rotate(key, 'AUTOMATIC', { nextRotationDate }, unchanged);
        later(nextRotationDate);
      } else later(key.nextRotationDate);
    }
  }

  /**
   * Deletes a key whose deletion window ended. A multi-Region primary waits for its replicas
   * (PendingReplicaDeletion, never due); when the last replica goes, in the same transaction, the
   * primary's own window starts (ScheduleKeyDeletion: "When the last of its replica keys is deleted
   * (not just scheduled), the key state of the primary key changes to PendingDeletion").
   */
  async #deleteKey(key: KeyRecord, now: number, condition: WriteCondition): Promise<void> {
    if (key.multiRegionKeyType !== 'REPLICA') return this.store.deleteKey(key, condition);
    const related = await this.store.relatedKeys(key.keyId);
    const primary = primaryOf(related);
    const others = replicasOf(related).filter((k) => k.region !== key.region);
    if (primary?.state !== 'PendingReplicaDeletion' || others.length > 0) return this.store.deleteKey(key, condition);
    const deletionDate = now + (primary.pendingWindowInDays ?? 30) * DAY_MS;
    await this.store.writeKeys({ remove: [key], put: [{ ...primary, state: 'PendingDeletion', deletionDate }] }, {}, condition);
    this.schedule(deletionDate);
  }

  /**
   * Writes `change` of a property multi-Region keys share (automatic rotation): to the key, and for
   * a multi-Region primary to every related key in the same transaction ("KMS automatically
   * synchronizes these shared properties among related multi-Region keys").
   */
  async writeShared(key: KeyRecord, change: (k: KeyRecord) => KeyRecord): Promise<void> {
    if (key.multiRegionKeyType !== 'PRIMARY') return this.store.putKey(change(key));
    const related = await this.store.relatedKeys(key.keyId);
    await this.store.writeKeys({ put: related.map((k) => change(k.region === key.region ? key : k)) });
  }

  /**
   * Adds a new material version to a key (rotation) and writes its record with `changes` (shared
   * properties only: the next rotation date). A multi-Region primary's new material goes to every
   * related key in the same transaction (shared key material, and rotation status with it), so
   * ciphertext made with it decrypts in every Region. With `condition`, only while `key` is as read.
   */
  async rotate(key: KeyRecord, rotationType: 'AUTOMATIC' | 'ON_DEMAND', changes: Partial<KeyRecord> = {}, condition?: WriteCondition): Promise<void> {
    const cur = await this.store.currentMaterial(key);
    const material = await this.newMaterial(key, cur ? cur.version + 1 : 0, rotationType);
    if (key.multiRegionKeyType !== 'PRIMARY') return this.store.addMaterial({ ...key, ...changes }, material, condition);
    const related = (await this.store.relatedKeys(key.keyId)).map((k) => (k.region === key.region ? { ...key, ...changes } : { ...k, ...changes }));
    await this.store.writeKeys({ put: related, materials: related.map((k) => ({ key: k, material })) }, {}, condition);
  }

  /** Primes the maintenance schedule from the store (at start-up). */
  async primeSchedule(): Promise<void> {
    this.#nextDue = 1;
    await this.maintain();
  }

  /**
   * The idle timer's turn. With a shared store, dates scheduled by other replicas are read from
   * the store's index first, so a replica runs what another one scheduled when that one is gone.
   */
  async tick(): Promise<void> {
    if (this.store.coordination) {
      const due = await this.store.nextDue(Number.MIN_SAFE_INTEGER);
      if (due !== undefined) this.schedule(due);
    }
    await this.maintain();
  }
}
