// The state every operation works with (store, clock, configuration, audit) and the checks they
// share: resolving KeyId/alias/ARN in the caller's account, key states, key usage, authorization
// against the key policy, grants and the caller's identity policy, and KeyMetadata as AWS returns it.
import { randomBytes, randomUUID } from 'node:crypto';
import { AccessDeniedError, kmsError, messages } from './errors.ts';
import { accessDenied, authorizeWithIdentity, denialMessage, identityAllows, type Authorization, type Caller } from './identity.ts';
import { WorkPacer } from './gate.ts';
import { generateMaterial, SPECS } from './keyspec.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import type { GrantRecord, KeyRecord, Material } from './model.ts';
import { parsePolicy, type PolicyDocument } from './policy/document.ts';
import { evaluate, type Decision } from './policy/evaluate.ts';
import type { ChildGrant } from './policy/grants.ts';
import { identityOf } from './policy/principals.ts';
import { StoreConflictError, type KeyStore, type Scope } from './store/types.ts';
import { RecipientVerifier } from './recipient/verify.ts';

export type { Caller } from './identity.ts';

export interface ServiceConfig {
  readonly store: KeyStore;
  readonly region: string;
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
const MRK = /^mrk-[0-9a-f]{32}$/i;
export const DAY_MS = 86_400_000;
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
  readonly region: string;
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
    this.account = config.account;
    this.clock = config.clock;
    this.recipient = config.recipient ?? new RecipientVerifier({}, config.clock);
    this.limits = config.limits ?? DEFAULT_LIMITS;
    this.#onMaintenanceError = config.onMaintenanceError ?? ((e) => process.stderr.write(`kms: ${e.message}\n`));
  }

  keyArn(account: string, keyId: string): string {
    return `arn:aws:kms:${this.region}:${account}:key/${keyId}`;
  }

  aliasArn(account: string, name: string): string {
    return `arn:aws:kms:${this.region}:${account}:${name}`;
  }

  /** The account and region a caller acts in: where its keys and aliases are made and listed. */
  scopeOf(caller: Caller): Scope {
    return { account: caller.account, region: this.region };
  }

  newKeyId(): string {
    return randomUUID();
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
   * Resolves a key id, key ARN, alias name or alias ARN (where `aliases` allows) to a key record, as
   * AWS does: a key id or alias name names a key in the caller's own account and region; another
   * account's key is reachable only by its key ARN or alias ARN (whether the operation may act on
   * it there is for `authorize`). Unknown keys are NotFoundException with AWS's messages.
   */
  async resolve(id: string, caller: Caller, options: { aliases: boolean } = { aliases: true }): Promise<Resolved> {
    let keyId = id;
    let alias: string | undefined;
    let account = caller.account;
    if (id.startsWith('arn:')) {
      const m = ARN.exec(id);
      if (!m) throw kmsError('NotFoundException', `Invalid arn ${id}`);
      const [, region = '', arnAccount = '', kind, rest = ''] = m;
      if (region !== this.region) throw kmsError('NotFoundException', `Invalid arn ${region}`);
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
    if (alias !== undefined) {
      const a = await this.store.getAlias({ account, region: this.region }, alias);
      if (!a) throw kmsError('NotFoundException', messages.aliasNotFound(this.aliasArn(account, alias)));
      keyId = a.keyId;
    } else if (!UUID.test(keyId) && !MRK.test(keyId)) {
      throw kmsError('NotFoundException', `Invalid keyId '${keyId}'`);
    }
    const key = await this.getKeyOrThrow(keyId, account);
    // A key id names a key of the account it is looked up in, never one of another account.
    if (key.account !== account || key.region !== this.region) throw kmsError('NotFoundException', messages.notFound(this.keyArn(account, keyId)));
    return alias === undefined ? { key } : { key, alias };
  }

  /** The key `keyId` in any account (ciphertext names its key); NotFoundException names `account`. */
  async getKeyOrThrow(keyId: string, account: string): Promise<KeyRecord> {
    await this.maintain();
    const key = await this.store.getKey(keyId);
    if (!key) throw kmsError('NotFoundException', messages.notFound(this.keyArn(account, keyId)));
    return key;
  }

  /** Cryptographic operations need an Enabled key (KMS Developer Guide, "Key states"). */
  requireEnabled(key: KeyRecord): void {
    switch (key.state) {
      case 'Enabled':
        return;
      case 'Disabled':
        throw kmsError('DisabledException', messages.disabled(key.arn));
      case 'PendingDeletion':
        throw kmsError('KMSInvalidStateException', messages.pendingDeletion(key.arn));
      case 'PendingImport':
        throw kmsError('KMSInvalidStateException', messages.pendingImport(key.arn));
      default:
        throw kmsError('KMSInvalidStateException', `${key.arn} is ${key.state}.`);
    }
  }

  /** Administrative operations refused while a key waits to be deleted. */
  requireNotPendingDeletion(key: KeyRecord): void {
    if (key.state === 'PendingDeletion') throw kmsError('KMSInvalidStateException', messages.pendingDeletion(key.arn));
  }

  /** EnableKey/DisableKey: refused while the key waits to be deleted or for its imported material. */
  requireNotPending(key: KeyRecord): void {
    this.requireNotPendingDeletion(key);
    if (key.state === 'PendingImport') throw kmsError('KMSInvalidStateException', messages.pendingImport(key.arn));
  }

  requireUsage(key: KeyRecord, usage: KeyRecord['keyUsage'], op: string): void {
    if (key.keyUsage !== usage) {
      throw kmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for ${op}.`);
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
    set('aws:RequestedRegion', this.region);
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
    set('kms:MultiRegion', 'false');
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
    const grants: readonly GrantRecord[] = await this.store.listGrants(key.keyId);
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

  keyMetadata(key: KeyRecord, currentMaterialId?: string): Record<string, unknown> {
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
      ...(key.validTo !== undefined ? { ValidTo: sec(key.validTo) } : {}),
      Origin: key.origin,
      ...(key.expirationModel ? { ExpirationModel: key.expirationModel } : {}),
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      ...(info?.encryptionAlgorithms && key.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: info.encryptionAlgorithms } : {}),
      ...(info?.signingAlgorithms && key.keyUsage === 'SIGN_VERIFY' ? { SigningAlgorithms: info.signingAlgorithms } : {}),
      ...(info?.macAlgorithms ? { MacAlgorithms: info.macAlgorithms } : {}),
      ...(info?.keyAgreementAlgorithms && key.keyUsage === 'KEY_AGREEMENT' ? { KeyAgreementAlgorithms: info.keyAgreementAlgorithms } : {}),
      MultiRegion: false,
      ...(key.pendingWindowInDays !== undefined && key.state === 'PendingDeletion' ? { PendingDeletionWindowInDays: key.pendingWindowInDays } : {}),
      ...(currentMaterialId !== undefined ? { CurrentKeyMaterialId: currentMaterialId } : {}),
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
        const retry = this.#retryAt.get(key.keyId);
        if (retry !== undefined && retry > now) {
          later(retry);
          continue;
        }
        try {
          await this.#maintainKey(key, now, later);
          this.#retryAt.delete(key.keyId);
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
          this.#retryAt.set(key.keyId, now + MAINTENANCE_RETRY_MS);
          later(now + MAINTENANCE_RETRY_MS);
        }
      }
      marker = page.nextMarker;
      if (marker !== undefined) await new Promise((resolve) => setImmediate(resolve));
    } while (marker !== undefined);
    later(await this.store.nextDue(now));
    return true;
  }

  /** One key's due work; `later` is told the key's next due date. */
  async #maintainKey(key: KeyRecord, now: number, later: (t: number | undefined) => void): Promise<void> {
    if (key.state === 'PendingDeletion' && key.deletionDate !== undefined) {
      if (key.deletionDate <= now) {
        await this.store.deleteKey(key.keyId, { ifUnchanged: key });
        return;
      }
      later(key.deletionDate);
    }
    if (key.validTo !== undefined && key.expirationModel === 'KEY_MATERIAL_EXPIRES' && key.state !== 'PendingImport' && key.state !== 'PendingDeletion') {
      if (key.validTo <= now) {
        const { validTo: _v, expirationModel: _e, ...rest } = key;
        await this.store.deleteMaterials({ ...rest, state: 'PendingImport' }, { ifUnchanged: key });
        return;
      }
      later(key.validTo);
    }
    if (key.rotationEnabled && key.nextRotationDate !== undefined && key.state !== 'PendingDeletion') {
      if (key.nextRotationDate <= now && key.state === 'Enabled') {
        const cur = await this.store.currentMaterial(key.keyId);
        const version = cur ? cur.version + 1 : 0;
        // Next date = this one + period, skipping periods missed while the clock jumped or the
        // server was down (one rotation per run, never a burst of catch-up rotations).
        const period = (key.rotationPeriodInDays ?? 365) * DAY_MS;
        let nextRotationDate = key.nextRotationDate + period;
        while (nextRotationDate <= now) nextRotationDate += period;
        await this.store.addMaterial({ ...key, nextRotationDate }, await this.newMaterial(key, version, 'AUTOMATIC'), { ifUnchanged: key });
        later(nextRotationDate);
      } else later(key.nextRotationDate);
    }
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
