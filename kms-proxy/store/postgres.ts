// The PostgreSQL key store, shared by several KMS replicas (kms-proxy/README.md, "Replicas on
// PostgreSQL"). Rows, MACs and seals are the SQLite store's (rows.ts, checked-rows.ts); the schema
// is versioned (pg-migrations.ts). What sharing adds:
//
// Transactions. Every write is one transaction at READ COMMITTED. What must hold under
// concurrency is decided by the database, not by a read before the write: alias names and grant
// ids and tokens by unique indexes (CreateAlias inserts with ON CONFLICT DO NOTHING, so of many
// concurrent creators of a name exactly one succeeds), and each resource quota by a
// transaction-level advisory lock on what it counts (keys of one account and region, aliases or
// grants of one key) taken before counting, so two writers cannot both pass the check. A
// conditional write (WriteCondition) locks the key's row (SELECT … FOR UPDATE) and compares its
// record digest before writing.
//
// Caches. Keys, materials, grants and aliases are cached per replica (Decrypt reads no row), and
// every write transaction sends `NOTIFY kms_changes` naming what it changed, delivered to every
// replica's listener connection at commit. `sync()` (the read barrier the server runs before each
// call) is a round trip on that same connection: PostgreSQL delivers a session's pending
// notifications before the answer to its next query, so once the barrier returns, every change
// committed before it was sent has been applied to the caches. A call needs a barrier sent after
// it was received (`sync(receivedAt)`): it joins the one in flight, or is answered at once by the
// last one that returned, when that one was sent after the call arrived; only a call received
// after the barrier in flight was sent waits for the next, which is sent at the end of the turn
// (#scheduleBarrier) so that it covers every request read meanwhile. A cache fill that raced with an
// invalidation is not kept (an epoch counts invalidations). A replica whose listener is down, or
// whose barrier does not return within SYNC_TIMEOUT_MS, fails the barrier: it answers
// KMSInternalException (which the SDKs retry) and serves nothing from its caches until the
// listener is back, when the caches are emptied (notifications may have been missed).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { KmsError } from '../errors.ts';
import type { AliasRecord, GrantRecord, ImportParameters, KeyAddress, KeyRecord, Material } from '../model.ts';
import type { Quota } from '../throttle.ts';
import { CheckedRows } from './checked-rows.ts';
import type { Coordination } from './coordination.ts';
import { createMasterKey, loadMasterKey, MASTER_KEY_FILE } from './master-key.ts';
import { decodeMarker, encodeMarker, pageOf, type Page, type PageRequest } from './page.ts';
import { migratePg, pgSchemaVersion } from './pg-migrations.ts';
import { recordDigest, type AliasRow, type GrantRow, type ImportRow, type KeyRow, type MaterialRow } from './rows.ts';
import { aliasExists, keyQuotaExceeded, limitExceeded, newKeysPerScope, StoreConflictError, type KeyRef, type KeyStore, type KeysWrite, type Scope, type WriteCondition } from './types.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq URL; `?sslmode=…` as pg reads it). */
  readonly url: string;
  /**
   * Where `master.key` is (read only). Created there only for a database that holds no store yet,
   * like the SQLite store's; a database with a store and no master key is refused.
   */
  readonly dataDir: string;
  /** Connections to the database, besides the listener (default 10). */
  readonly poolSize?: number;
  /** Told about listener losses and reconnections (default: a line on stderr). */
  readonly onEvent?: (message: string) => void;
}

/** How long the read barrier may take before a call is refused (the staleness bound, README). */
export const SYNC_TIMEOUT_MS = 2000;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}
const CHANNEL = 'kms_changes';
/** The listener connection's application_name (pg_stat_activity), for operators and tests. */
export const LISTENER_NAME = 'nitro-sandbox-kms-listener';
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;
const CACHE_MAX = 10_000;

type KeyRowSeq = KeyRow & { readonly seq: number };
type GrantRowSeq = GrantRow & { readonly seq: number };

/** bigint columns (epoch ms, sequence numbers) as numbers: all are far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** A database failure as the client sees it: KMSInternalException (retried by the SDKs); the reason for the operator. */
function unavailable(cause: unknown): KmsError {
  if (cause instanceof KmsError) return cause;
  const m = cause instanceof Error ? cause.message : String(cause);
  return new KmsError('KMSInternalException', 'An internal error occurred.', { cause, code: 'ERR_KMS_STORE_UNAVAILABLE', detail: `the PostgreSQL store failed: ${m}` });
}

const aliasId = (account: string, region: string, name: string) => `${account}\t${region}\t${name}`;
/** Cache key of a key (its Region and id), also what a change notification names after `k:`. */
const at = (k: KeyAddress) => `${k.region}\t${k.keyId}`;
/** The notification of a change to the key `k` addresses (its record, materials or grants). */
const keyChange = (k: KeyAddress) => `k:${at(k)}`;

export class PostgresKeyStore implements KeyStore {
  readonly coordination: Coordination;
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #rows: CheckedRows;
  readonly #report: (message: string) => void;
  readonly #keys = new Map<string, KeyRecord | null>();
  readonly #materials = new Map<string, Material>();
  readonly #grants = new Map<string, readonly GrantRecord[]>();
  readonly #aliases = new Map<string, AliasRecord | null>();
  /** Invalidations so far: a cache fill that saw another one start is not kept. */
  #epoch = 0;
  #listener: pg.Client | undefined;
  #reconnectMs = RECONNECT_MIN_MS;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Calls waiting for the next barrier: received after the one in flight was sent. */
  #barrierWaiting: Waiter[] = [];
  /** The barrier in flight: when it was sent (performance.now()) and the calls it answers. */
  #inFlight: { readonly sentAt: number; readonly waiting: Waiter[] } | undefined;
  /**
   * When the last barrier that returned was sent: every change committed before then is in the
   * caches, so a call received before then needs no other. -Infinity before the first and once the
   * listener was lost (the caches were emptied; notifications may have been missed).
   */
  #coveredUntil = Number.NEGATIVE_INFINITY;
  /** A barrier is to be sent at the end of this turn (#scheduleBarrier). */
  #barrierScheduled = false;
  /** Audit replicas this process writes: claimed again on every listener connection. */
  readonly #claims = new Set<string>();
  /** Set when a claim could not be renewed: another process may write the chain; calls are refused. */
  #claimLost: KmsError | undefined;
  #closed = false;

  private constructor(pool: pg.Pool, url: string, rows: CheckedRows, report: (message: string) => void) {
    this.#pool = pool;
    this.#url = url;
    this.#rows = rows;
    this.#report = report;
    this.coordination = {
      sync: (receivedAt) => this.#sync(receivedAt ?? performance.now()),
      exclusive: (name, fn) => this.#exclusive(name, fn),
      leaseTokens: (account, group, want, quota) => this.#leaseTokens(account, group, want, quota),
      claimAuditReplica: (replica) => this.#claimAuditReplica(replica),
      putAuditHead: async (replica, head) => {
        await this.#q('UPDATE audit_replicas SET head = $2 WHERE replica = $1', [replica, head]);
      },
      auditReplicas: async () => (await this.#q<{ replica: string; head: string | null }>('SELECT replica, head FROM audit_replicas ORDER BY replica')).map((r) => (r.head === null ? { replica: r.replica } : { replica: r.replica, head: r.head })),
    };
  }

  /** Connects, checks or creates the master key, migrates, and starts listening for changes. */
  static async open(options: PostgresStoreOptions): Promise<PostgresKeyStore> {
    const report = options.onEvent ?? ((m: string) => process.stderr.write(`kms: store: ${m}\n`));
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10, connectionTimeoutMillis: 5000, keepAlive: true, types: TYPES, statement_timeout: 15_000, idle_in_transaction_session_timeout: 30_000 } as pg.PoolConfig);
    // An idle connection the server closes (a restart) is an 'error' on the pool, not a crash.
    pool.on('error', (e) => report(`an idle database connection failed: ${e.message}`));
    let store: PostgresKeyStore | undefined;
    try {
      const c = await pool.connect();
      let rows: CheckedRows;
      try {
        const master = masterKeyFor(options.dataDir, (await pgSchemaVersion(c)) === 0);
        rows = new CheckedRows(master);
        await migratePg(c, rows.mac);
        const check = await c.query<{ value: Buffer }>("SELECT value FROM store_meta WHERE name = 'master-key-check'");
        try {
          rows.mac.verify('store', ['nitro-sandbox/kms/store'], check.rows[0]?.value, 'the store');
        } catch (cause) {
          throw new KmsError('KMSInternalException', `${MASTER_KEY_FILE} in ${options.dataDir} is not the master key of the key store in this database: use the master key that belongs to it.`, { cause, code: 'ERR_KMS_MASTER_KEY_MISMATCH' });
        }
      } finally {
        c.release();
      }
      store = new PostgresKeyStore(pool, options.url, rows, report);
      await store.#listen();
      return store;
    } catch (e) {
      await store?.close();
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  // The listener: notifications, the read barrier, the audit replica claims.

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, keepAlive: true, types: TYPES, connectionTimeoutMillis: 5000, application_name: LISTENER_NAME } as pg.ClientConfig);
    client.on('notification', (n) => this.#invalidate(n.payload ?? '*'));
    const lost = (e?: Error) => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      this.#coveredUntil = Number.NEGATIVE_INFINITY;
      // Changes made while it was away were never announced here: nothing cached can be trusted.
      this.#invalidate('*');
      this.#failBarriers(unavailable(e ?? new Error('the listener connection closed')));
      client.end().catch(() => undefined);
      if (!this.#closed) {
        this.#report(`lost the database listener (${e?.message ?? 'closed'}); calls are refused until it is back`);
        this.#scheduleReconnect();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    try {
      await client.query(`LISTEN ${CHANNEL}`);
      for (const r of this.#claims) await this.#claimOn(client, r);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    this.#invalidate('*');
    this.#listener = client;
    this.#reconnectMs = RECONNECT_MIN_MS;
    if (this.#barrierWaiting.length > 0 && !this.#inFlight) this.#sendBarrier();
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer !== undefined || this.#closed) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#listen().then(
        () => this.#report('database listener back; serving again'),
        () => {
          this.#reconnectMs = Math.min(RECONNECT_MAX_MS, this.#reconnectMs * 2);
          this.#scheduleReconnect();
        },
      );
    }, this.#reconnectMs);
    this.#reconnectTimer.unref();
  }

  #invalidate(what: string): void {
    this.#epoch++;
    if (what === '*') {
      this.#keys.clear();
      this.#materials.clear();
      this.#grants.clear();
      this.#aliases.clear();
    } else if (what.startsWith('k:')) {
      const id = what.slice(2);
      this.#keys.delete(id);
      this.#grants.delete(id);
      for (const k of this.#materials.keys()) if (k.startsWith(`${id}\t`)) this.#materials.delete(k);
    } else if (what.startsWith('a:')) {
      this.#aliases.delete(what.slice(2));
    } else {
      this.#invalidate('*');
    }
  }

  #sync(receivedAt: number): Promise<void> {
    if (this.#claimLost) return Promise.reject(this.#claimLost);
    if (!this.#listener) return Promise.reject(unavailable(new Error('no connection to the database (listener down)')));
    // A barrier sent after the call was received has returned, the listener up since.
    if (receivedAt <= this.#coveredUntil) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const inFlight = this.#inFlight;
      if (inFlight && receivedAt <= inFlight.sentAt) {
        inFlight.waiting.push({ resolve, reject });
        return;
      }
      this.#barrierWaiting.push({ resolve, reject });
      if (!inFlight) this.#scheduleBarrier();
    });
  }

  /**
   * Sends the next barrier at the end of this turn of the event loop (setImmediate), not at once.
   * The server serves a turn's requests together (server.ts) after the poll phase that read them.
   * So a barrier sent at the end of the next turn's poll phase also covers the requests read in
   * it. A barrier is one round trip to the database and a `write(2)` that wakes its backend. Under
   * the benchmark's load that cost a replica about 10 µs a Decrypt: 80–89 µs against 71–76 µs,
   * with 10–11 calls a barrier against about 15. When idle, the next turn comes at once: a pending
   * immediate keeps the poll phase from waiting.
   */
  #scheduleBarrier(): void {
    if (this.#barrierScheduled) return;
    this.#barrierScheduled = true;
    setImmediate(() => {
      this.#barrierScheduled = false;
      if (!this.#inFlight && this.#barrierWaiting.length > 0) this.#sendBarrier();
    });
  }

  /** One round trip on the listener for every call waiting now and every call received before it is sent; later calls wait for the next. */
  #sendBarrier(): void {
    const client = this.#listener;
    // No listener: the waiting calls are refused, never left waiting (when it was lost, #listen's
    // `lost` refused those waiting then).
    if (!client) {
      this.#failBarriers(unavailable(new Error('no connection to the database (listener down)')));
      return;
    }
    const barrier = { sentAt: performance.now(), waiting: this.#barrierWaiting };
    this.#barrierWaiting = [];
    this.#inFlight = barrier;
    let settled = false;
    const done = (e?: KmsError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#inFlight = undefined;
      // Only while the listener that answered is still the one: a lost listener emptied the caches.
      if (!e && this.#listener === client) this.#coveredUntil = Math.max(this.#coveredUntil, barrier.sentAt);
      for (const w of barrier.waiting) {
        if (e) w.reject(e);
        else w.resolve();
      }
      if (this.#barrierWaiting.length > 0) this.#sendBarrier();
    };
    const timer = setTimeout(() => {
      done(unavailable(new Error(`the database did not answer the read barrier within ${SYNC_TIMEOUT_MS} ms`)));
      // A listener that does not answer may have missed notifications: start over.
      client.emit('error', new Error('read barrier timed out'));
    }, SYNC_TIMEOUT_MS);
    client.query('SELECT 1').then(
      () => done(),
      (e: unknown) => done(unavailable(e)),
    );
  }

  #failBarriers(e: KmsError): void {
    const waiting = this.#barrierWaiting;
    this.#barrierWaiting = [];
    for (const w of waiting) w.reject(e);
  }

  // Queries and transactions.

  async #q<R extends pg.QueryResultRow>(text: string, values: readonly unknown[] = []): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(text, values as unknown[])).rows;
    } catch (e) {
      throw unavailable(e);
    }
  }

  /**
   * A pooled connection for several statements. A connection lost between two of them (a restart)
   * emits 'error' on the client, which must have a listener or the process dies: the next
   * statement fails instead, and the connection is discarded at release.
   */
  async #connect(): Promise<{ c: pg.PoolClient; release: (broken: boolean) => void }> {
    let c: pg.PoolClient;
    try {
      c = await this.#pool.connect();
    } catch (e) {
      throw unavailable(e);
    }
    let lost = false;
    const onError = () => {
      lost = true;
    };
    c.on('error', onError);
    return {
      c,
      release: (broken) => {
        c.off('error', onError);
        c.release(broken || lost);
      },
    };
  }

  /** `fn` in one transaction; the notifications it returns are sent at commit and applied here at once. */
  async #tx<T>(fn: (c: pg.PoolClient) => Promise<T>, changes: readonly string[]): Promise<T> {
    const { c, release } = await this.#connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      for (const what of changes) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, what]);
      await c.query('COMMIT');
      for (const what of changes) this.#invalidate(what);
      return r;
    } catch (e) {
      try {
        await c.query('ROLLBACK');
      } catch {
        broken = true;
      }
      // Local caches may hold what the failed transaction was about to change: drop it here too.
      for (const what of changes) this.#invalidate(what);
      throw e instanceof KmsError ? e : unavailable(e);
    } finally {
      release(broken);
    }
  }

  /** A cached read: `load` runs on a miss, its result kept unless an invalidation happened meanwhile. */
  async #cached<K, V>(cache: Map<K, V>, id: K, load: () => Promise<V>): Promise<V> {
    if (cache.has(id)) return cache.get(id) as V;
    const epoch = this.#epoch;
    const v = await load();
    if (epoch === this.#epoch) {
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(id, v);
    }
    return v;
  }

  async #lock(c: pg.ClientBase, what: string): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nitro-sandbox/kms/${what}`]);
  }

  async #check(c: pg.ClientBase, condition: WriteCondition | undefined): Promise<void> {
    const k = condition?.ifUnchanged;
    if (k === undefined) return;
    const r = await c.query<{ digest: Buffer }>('SELECT digest FROM keys WHERE key_id = $1 AND region = $2 FOR UPDATE', [k.keyId, k.region]);
    const d = r.rows[0]?.digest;
    if (!d || !d.equals(recordDigest(JSON.stringify(k)))) throw new StoreConflictError(k.keyId);
  }

  async #writeKey(c: pg.ClientBase, key: KeyRecord): Promise<void> {
    const r = this.#rows.keyRow(key);
    await c.query(
      'INSERT INTO keys (key_id, arn, account, region, due, digest, record, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ' +
        'ON CONFLICT (key_id, region) DO UPDATE SET arn = excluded.arn, account = excluded.account, due = excluded.due, digest = excluded.digest, record = excluded.record, mac = excluded.mac',
      [r.key_id, r.arn, r.account, r.region, r.due, Buffer.from(r.digest), r.record, Buffer.from(r.mac)],
    );
  }

  /** Adds a material to the key `key` addresses (the material's key id must be its id). */
  async #insertMaterial(c: pg.ClientBase, key: KeyAddress, m: Material): Promise<void> {
    const r = this.#rows.materialRow(key, m);
    await c.query('INSERT INTO materials (key_id, region, version, id, created_at, rotation_type, sealed, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [r.key_id, r.region, r.version, r.id, r.created_at, r.rotation_type, Buffer.from(r.sealed), Buffer.from(r.mac)]);
  }

  /** Refuses (LimitExceededException) new keys that would take a scope past `max` keys; in the write's transaction. */
  async #checkKeyQuota(c: pg.ClientBase, keys: readonly KeyRecord[], max: number | undefined): Promise<void> {
    if (max === undefined) return;
    // In a fixed order, so two batches spanning the same scopes cannot deadlock.
    for (const scope of newKeysPerScope(keys)) {
      await this.#lock(c, `keys/${scope.account}/${scope.region}`);
      const r = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT 1 FROM keys WHERE account = $1 AND region = $2 LIMIT $3) s', [scope.account, scope.region, max]);
      if ((r.rows[0]?.n ?? 0) + scope.n > max) throw keyQuotaExceeded(max, scope);
    }
  }

  async #deleteKeyRows(c: pg.ClientBase, key: KeyAddress): Promise<void> {
    for (const t of ['materials', 'aliases', 'grants', 'import_parameters', 'keys']) await c.query(`DELETE FROM ${t} WHERE key_id = $1 AND region = $2`, [key.keyId, key.region]);
  }

  /** The notifications for keys removed: each key's, and each of its aliases'. */
  async #removals(keys: readonly KeyAddress[]): Promise<string[]> {
    const out: string[] = [];
    for (const k of keys) {
      out.push(keyChange(k));
      const aliases = await this.#q<{ account: string; region: string; name: string }>('SELECT account, region, name FROM aliases WHERE key_id = $1 AND region = $2', [k.keyId, k.region]);
      for (const a of aliases) out.push(`a:${aliasId(a.account, a.region, a.name)}`);
    }
    return out;
  }

  // Keys.

  async getKey(key: KeyAddress): Promise<KeyRecord | undefined> {
    const k = await this.#cached(this.#keys, at(key), async () => {
      const rows = await this.#q<KeyRow>('SELECT key_id, arn, account, region, due, digest, record, mac FROM keys WHERE key_id = $1 AND region = $2', [key.keyId, key.region]);
      return rows[0] ? this.#rows.key(rows[0]) : null;
    });
    return k ?? undefined;
  }

  async relatedKeys(keyId: string): Promise<readonly KeyRecord[]> {
    // COLLATE "C": Regions ordered by bytes, as SQLite orders them.
    const rows = await this.#q<KeyRow>('SELECT key_id, arn, account, region, due, digest, record, mac FROM keys WHERE key_id = $1 ORDER BY region COLLATE "C"', [keyId]);
    return rows.map((r) => this.#rows.key(r));
  }

  async listKeys(scope: Scope, page: PageRequest): Promise<Page<KeyRef>> {
    const after = page.marker === undefined ? 0 : decodeMarker('keys', page.marker, 'number');
    const rows = await this.#q<KeyRowSeq>('SELECT seq, key_id, arn, account, region, due, digest, mac FROM keys WHERE account = $1 AND region = $2 AND seq > $3 ORDER BY seq LIMIT $4', [scope.account, scope.region, after, page.limit + 1]);
    return pageOf(rows, page.limit, (r) => this.#rows.keyRef(r), (last) => encodeMarker('keys', last.seq));
  }

  async listDueKeys(now: number, page: PageRequest): Promise<Page<KeyRecord>> {
    let due = Number.MIN_SAFE_INTEGER;
    let seq = 0;
    if (page.marker !== undefined) {
      const [d, s] = decodeMarker('due', page.marker, 'string').split(':').map(Number);
      if (!Number.isSafeInteger(d) || !Number.isSafeInteger(s)) throw new KmsError('InvalidMarkerException', 'Could not deserialize marker');
      due = d as number;
      seq = s as number;
    }
    const rows = await this.#q<KeyRowSeq>(
      'SELECT seq, key_id, arn, account, region, due, digest, record, mac FROM keys WHERE due IS NOT NULL AND due <= $1 AND (due > $2 OR (due = $2 AND seq > $3)) ORDER BY due, seq LIMIT $4',
      [now, due, seq, page.limit + 1],
    );
    return pageOf(rows, page.limit, (r) => this.#rows.key(r), (last) => encodeMarker('due', `${last.due}:${last.seq}`));
  }

  async nextDue(after: number): Promise<number | undefined> {
    const rows = await this.#q<{ due: number | null }>('SELECT min(due) AS due FROM keys WHERE due > $1', [after]);
    return rows[0]?.due ?? undefined;
  }

  async putKey(key: KeyRecord): Promise<void> {
    await this.#tx((c) => this.#writeKey(c, key), [keyChange(key)]);
  }

  async createKey(key: KeyRecord, material?: Material, limits: { readonly maxKeys?: number } = {}): Promise<void> {
    await this.createKeys([material ? { key, material } : { key }], limits);
  }

  async createKeys(keys: readonly { readonly key: KeyRecord; readonly material?: Material }[], limits: { readonly maxKeys?: number } = {}): Promise<void> {
    if (keys.length === 0) return;
    await this.#tx(
      async (c) => {
        await this.#checkKeyQuota(c, keys.map((k) => k.key), limits.maxKeys);
        for (const { key, material } of keys) {
          await this.#writeKey(c, key);
          if (material) await this.#insertMaterial(c, key, material);
        }
      },
      keys.length > 100 ? ['*'] : keys.map(({ key }) => keyChange(key)),
    );
  }

  async deleteKey(key: KeyAddress, condition?: WriteCondition): Promise<void> {
    const changes = await this.#removals([key]);
    await this.#tx(
      async (c) => {
        await this.#check(c, condition);
        await this.#deleteKeyRows(c, key);
      },
      changes.length > 100 ? ['*'] : changes,
    );
  }

  async writeKeys(w: KeysWrite, limits: { readonly maxKeys?: number } = {}, condition?: WriteCondition): Promise<void> {
    const touched = [...(w.create ?? []), ...(w.put ?? []), ...(w.materials ?? []).map((m) => m.key)].map(keyChange);
    const changes = [...(await this.#removals(w.remove ?? [])), ...touched];
    await this.#tx(
      async (c) => {
        await this.#check(c, condition);
        for (const k of w.remove ?? []) await this.#deleteKeyRows(c, k);
        await this.#checkKeyQuota(c, w.create ?? [], limits.maxKeys);
        for (const k of [...(w.create ?? []), ...(w.put ?? [])]) await this.#writeKey(c, k);
        for (const { key, material } of w.materials ?? []) await this.#insertMaterial(c, key, material);
      },
      changes.length > 100 ? ['*'] : changes,
    );
  }

  // Materials.

  #material(r: MaterialRow | undefined): Material | undefined {
    if (!r) return undefined;
    const id = `${at({ keyId: r.key_id, region: r.region })}\t${r.version}`;
    const hit = this.#materials.get(id);
    if (hit) return hit;
    return this.#rows.material(r);
  }

  async getMaterial(key: KeyAddress, version: number): Promise<Material | undefined> {
    const id = `${at(key)}\t${version}`;
    const hit = this.#materials.get(id);
    if (hit) return hit;
    const epoch = this.#epoch;
    const rows = await this.#q<MaterialRow>('SELECT * FROM materials WHERE key_id = $1 AND region = $2 AND version = $3', [key.keyId, key.region, version]);
    const m = this.#material(rows[0]);
    // Only found materials are kept: a version may be added (import) after a miss.
    if (m && epoch === this.#epoch) {
      if (this.#materials.size >= CACHE_MAX) this.#materials.clear();
      this.#materials.set(id, m);
    }
    return m;
  }

  async currentMaterial(key: KeyAddress): Promise<Material | undefined> {
    const rows = await this.#q<MaterialRow>('SELECT * FROM materials WHERE key_id = $1 AND region = $2 ORDER BY version DESC LIMIT 1', [key.keyId, key.region]);
    return this.#material(rows[0]);
  }

  async listMaterials(key: KeyAddress): Promise<readonly Material[]> {
    const rows = await this.#q<MaterialRow>('SELECT * FROM materials WHERE key_id = $1 AND region = $2 ORDER BY version', [key.keyId, key.region]);
    return rows.map((r) => this.#material(r) as Material);
  }

  async addMaterial(key: KeyRecord, material: Material, condition?: WriteCondition): Promise<void> {
    await this.#tx(
      async (c) => {
        await this.#check(c, condition);
        await this.#insertMaterial(c, key, material);
        await this.#writeKey(c, key);
      },
      [keyChange(key)],
    );
  }

  async deleteMaterials(key: KeyRecord, versions?: readonly number[], condition?: WriteCondition): Promise<void> {
    await this.#tx(
      async (c) => {
        await this.#check(c, condition);
        if (versions === undefined) await c.query('DELETE FROM materials WHERE key_id = $1 AND region = $2', [key.keyId, key.region]);
        else await c.query('DELETE FROM materials WHERE key_id = $1 AND region = $2 AND version = ANY($3::int[])', [key.keyId, key.region, [...versions]]);
        await this.#writeKey(c, key);
      },
      [keyChange(key)],
    );
  }

  // Aliases.

  async getAlias(scope: Scope, name: string): Promise<AliasRecord | undefined> {
    const a = await this.#cached(this.#aliases, aliasId(scope.account, scope.region, name), async () => {
      const rows = await this.#q<AliasRow>('SELECT * FROM aliases WHERE account = $1 AND region = $2 AND name = $3', [scope.account, scope.region, name]);
      return rows[0] ? this.#rows.alias(rows[0]) : null;
    });
    return a ?? undefined;
  }

  async listAliases(scope: Scope, page: PageRequest, keyId?: string): Promise<Page<AliasRecord>> {
    const after = page.marker === undefined ? '' : decodeMarker('aliases', page.marker, 'string');
    // COLLATE "C": names ordered by bytes, as SQLite orders them, whatever the database's locale.
    const rows =
      keyId === undefined
        ? await this.#q<AliasRow>('SELECT * FROM aliases WHERE account = $1 AND region = $2 AND name COLLATE "C" > $3 ORDER BY name COLLATE "C" LIMIT $4', [scope.account, scope.region, after, page.limit + 1])
        : await this.#q<AliasRow>('SELECT * FROM aliases WHERE key_id = $1 AND account = $2 AND region = $3 AND name COLLATE "C" > $4 ORDER BY name COLLATE "C" LIMIT $5', [keyId, scope.account, scope.region, after, page.limit + 1]);
    return pageOf(rows, page.limit, (r) => this.#rows.alias(r), (last) => encodeMarker('aliases', last.name));
  }

  async putAlias(a: AliasRecord, limits: { readonly maxPerKey?: number; readonly create?: boolean } = {}): Promise<void> {
    const r = this.#rows.aliasRow(a);
    await this.#tx(
      async (c) => {
        // An existing name is AlreadyExistsException before any quota is counted (as SQLite answers).
        if (limits.create && (await c.query('SELECT 1 FROM aliases WHERE account = $1 AND region = $2 AND name = $3', [r.account, r.region, r.name])).rowCount) throw aliasExists(a);
        const max = limits.maxPerKey;
        if (max !== undefined) {
          await this.#lock(c, `aliases/${r.key_id}`);
          const cnt = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM aliases WHERE key_id = $1 AND NOT (account = $2 AND region = $3 AND name = $4)', [r.key_id, r.account, r.region, r.name]);
          const n = cnt.rows[0]?.n ?? 0;
          if (n >= max) throw limitExceeded(`The request was rejected because key ${r.key_id} already has ${n} aliases, the quota of aliases per KMS key.`);
        }
        const values = [r.account, r.region, r.name, r.key_id, r.created, r.updated, Buffer.from(r.mac)];
        const insert = 'INSERT INTO aliases (account, region, name, key_id, created, updated, mac) VALUES ($1, $2, $3, $4, $5, $6, $7) ';
        if (limits.create) {
          // The primary key decides between concurrent creators: exactly one inserts.
          const done = await c.query(`${insert}ON CONFLICT (account, region, name) DO NOTHING`, values);
          if (done.rowCount !== 1) throw aliasExists(a);
        } else {
          await c.query(`${insert}ON CONFLICT (account, region, name) DO UPDATE SET key_id = excluded.key_id, created = excluded.created, updated = excluded.updated, mac = excluded.mac`, values);
        }
      },
      [`a:${aliasId(a.account, a.region, a.name)}`],
    );
  }

  async deleteAlias(scope: Scope, name: string): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('DELETE FROM aliases WHERE account = $1 AND region = $2 AND name = $3', [scope.account, scope.region, name]);
    }, [`a:${aliasId(scope.account, scope.region, name)}`]);
  }

  // Grants.

  async getGrant(grantId: string): Promise<GrantRecord | undefined> {
    const rows = await this.#q<GrantRow>('SELECT * FROM grants WHERE grant_id = $1', [grantId]);
    return rows[0] ? this.#rows.grant(rows[0]) : undefined;
  }

  async getGrantByToken(grantToken: string): Promise<GrantRecord | undefined> {
    const rows = await this.#q<GrantRow>('SELECT * FROM grants WHERE token = $1', [grantToken]);
    return rows[0] ? this.#rows.grant(rows[0]) : undefined;
  }

  async listGrants(key: KeyAddress): Promise<readonly GrantRecord[]> {
    return this.#cached(this.#grants, at(key), async () => (await this.#q<GrantRow>('SELECT * FROM grants WHERE key_id = $1 AND region = $2 ORDER BY seq', [key.keyId, key.region])).map((r) => this.#rows.grant(r)));
  }

  async listGrantPage(key: KeyAddress, page: PageRequest, filter: { readonly grantId?: string; readonly granteePrincipal?: string } = {}): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? 0 : decodeMarker('grants', page.marker, 'number');
    let rows: GrantRowSeq[];
    if (filter.grantId !== undefined) {
      const r = (await this.#q<GrantRowSeq>('SELECT * FROM grants WHERE grant_id = $1', [filter.grantId]))[0];
      rows = r && r.key_id === key.keyId && r.region === key.region && r.seq > after && (filter.granteePrincipal === undefined || r.grantee === filter.granteePrincipal) ? [r] : [];
    } else if (filter.granteePrincipal !== undefined) {
      rows = await this.#q<GrantRowSeq>('SELECT * FROM grants WHERE key_id = $1 AND region = $2 AND grantee = $3 AND seq > $4 ORDER BY seq LIMIT $5', [key.keyId, key.region, filter.granteePrincipal, after, page.limit + 1]);
    } else {
      rows = await this.#q<GrantRowSeq>('SELECT * FROM grants WHERE key_id = $1 AND region = $2 AND seq > $3 ORDER BY seq LIMIT $4', [key.keyId, key.region, after, page.limit + 1]);
    }
    return pageOf(rows, page.limit, (r) => this.#rows.grant(r), (last) => encodeMarker('grants', last.seq));
  }

  async listRetirableGrants(principal: string, region: string, page: PageRequest): Promise<Page<GrantRecord>> {
    const after = page.marker === undefined ? 0 : decodeMarker('retirable', page.marker, 'number');
    const rows = await this.#q<GrantRowSeq>('SELECT * FROM grants WHERE retiring = $1 AND region = $2 AND seq > $3 ORDER BY seq LIMIT $4', [principal, region, after, page.limit + 1]);
    return pageOf(rows, page.limit, (r) => this.#rows.grant(r), (last) => encodeMarker('retirable', last.seq));
  }

  async putGrant(g: GrantRecord, limits: { readonly maxPerKey?: number } = {}): Promise<void> {
    const r = this.#rows.grantRow(g);
    // A grant moved to another key leaves the old key's cached list too.
    const old = (await this.#q<{ key_id: string; region: string }>('SELECT key_id, region FROM grants WHERE grant_id = $1', [g.grantId]))[0];
    const changes = [keyChange(g), ...(old && (old.key_id !== g.keyId || old.region !== g.region) ? [keyChange({ keyId: old.key_id, region: old.region })] : [])];
    await this.#tx(
      async (c) => {
        const max = limits.maxPerKey;
        if (max !== undefined) {
          await this.#lock(c, `grants/${r.region}/${r.key_id}`);
          const cnt = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM grants WHERE key_id = $1 AND region = $2 AND grant_id <> $3', [r.key_id, r.region, r.grant_id]);
          const n = cnt.rows[0]?.n ?? 0;
          if (n >= max) throw limitExceeded(`The request was rejected because key ${r.key_id} already has ${n} grants, the quota of grants per KMS key.`);
        }
        await c.query(
          'INSERT INTO grants (grant_id, key_id, region, token, grantee, retiring, record, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ' +
            'ON CONFLICT (grant_id) DO UPDATE SET key_id = excluded.key_id, region = excluded.region, token = excluded.token, grantee = excluded.grantee, retiring = excluded.retiring, record = excluded.record, mac = excluded.mac',
          [r.grant_id, r.key_id, r.region, r.token, r.grantee, r.retiring, r.record, Buffer.from(r.mac)],
        );
      },
      changes,
    );
  }

  async deleteGrant(grantId: string): Promise<void> {
    const old = (await this.#q<{ key_id: string; region: string }>('SELECT key_id, region FROM grants WHERE grant_id = $1', [grantId]))[0];
    await this.#tx(async (c) => {
      await c.query('DELETE FROM grants WHERE grant_id = $1', [grantId]);
    }, old === undefined ? [] : [keyChange({ keyId: old.key_id, region: old.region })]);
  }

  // Import parameters.

  async getImportParameters(token: string): Promise<ImportParameters | undefined> {
    const rows = await this.#q<ImportRow>('SELECT * FROM import_parameters WHERE token = $1', [token]);
    return rows[0] ? this.#rows.importParameters(rows[0]) : undefined;
  }

  async putImportParameters(p: ImportParameters): Promise<void> {
    const r = this.#rows.importRow(p);
    await this.#q('INSERT INTO import_parameters (token, key_id, region, record, sealed, mac) VALUES ($1, $2, $3, $4, $5, $6)', [r.token, r.key_id, r.region, r.record, Buffer.from(r.sealed), Buffer.from(r.mac)]);
  }

  // Coordination (coordination.ts).

  async #exclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    const { c, release } = await this.#connect();
    const id = `nitro-sandbox/kms/exclusive/${name}`;
    let held = false;
    let broken = false;
    try {
      held = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [id])).rows[0]?.ok === true;
      if (!held) return undefined;
      return await fn();
    } catch (e) {
      throw unavailable(e);
    } finally {
      // A session lock ends with its session: if the unlock fails, the connection is dropped.
      if (held) await c.query('SELECT pg_advisory_unlock(hashtext($1))', [id]).catch(() => (broken = true));
      release(broken);
    }
  }

  async #leaseTokens(account: string, group: string, want: number, quota: Quota): Promise<number> {
    const burst = quota.burst ?? quota.rate;
    await this.#q('INSERT INTO quota_buckets (account, grp, tokens, at) VALUES ($1, $2, $3::float8, clock_timestamp()) ON CONFLICT (account, grp) DO NOTHING', [account, group, burst]);
    // Refilled on the database's clock (replicas' clocks need not agree), under the row's lock:
    // what one replica takes, no other can.
    const rows = await this.#q<{ granted: number }>(
      `WITH cur AS (
         SELECT least($3::float8, tokens + extract(epoch FROM clock_timestamp() - at)::float8 * $4::float8) AS t
         FROM quota_buckets WHERE account = $1 AND grp = $2 FOR UPDATE)
       UPDATE quota_buckets q SET tokens = cur.t - least($5::float8, floor(cur.t)), at = clock_timestamp()
       FROM cur WHERE q.account = $1 AND q.grp = $2
       RETURNING least($5::float8, floor(cur.t)) AS granted`,
      [account, group, burst, quota.rate, want],
    );
    return Math.max(0, Number(rows[0]?.granted ?? 0));
  }

  async #claimOn(c: pg.ClientBase, replica: string): Promise<boolean> {
    const ok = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [`nitro-sandbox/kms/audit-replica/${replica}`])).rows[0]?.ok === true;
    if (!ok) {
      this.#claimLost = new KmsError('KMSInternalException', 'An internal error occurred.', { code: 'ERR_KMS_REPLICA_TAKEN', detail: `another KMS process now writes audit replica '${replica}'` });
      this.#report(`audit replica '${replica}' is written by another KMS process; this one refuses calls`);
    }
    return ok;
  }

  async #claimAuditReplica(replica: string): Promise<void> {
    const c = this.#listener;
    if (!c) throw unavailable(new Error('no connection to the database'));
    let ok: boolean;
    try {
      ok = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [`nitro-sandbox/kms/audit-replica/${replica}`])).rows[0]?.ok === true;
    } catch (e) {
      throw unavailable(e);
    }
    if (!ok) throw new KmsError('KMSInternalException', `Audit replica '${replica}' is being written by another KMS process on this database: give every replica its own --replica id.`, { code: 'ERR_KMS_REPLICA_TAKEN' });
    this.#claims.add(replica);
    await this.#q('INSERT INTO audit_replicas (replica) VALUES ($1) ON CONFLICT (replica) DO NOTHING', [replica]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const l = this.#listener;
    this.#listener = undefined;
    this.#failBarriers(unavailable(new Error('the store is closed')));
    await l?.end().catch(() => undefined);
    await this.#pool.end().catch(() => undefined);
  }
}

/** The master key beside a PostgreSQL store: created only for a database that holds no store. */
function masterKeyFor(dataDir: string, freshDatabase: boolean): Uint8Array {
  const path = join(dataDir, MASTER_KEY_FILE);
  if (existsSync(path) || !freshDatabase) {
    if (!existsSync(path)) {
      throw new KmsError(
        'KMSInternalException',
        `The PostgreSQL database holds a key store but its master key ${path} is missing. Mount or restore the ${MASTER_KEY_FILE} that belongs to it; a new master key is never generated for an existing store.`,
        { code: 'ERR_KMS_MASTER_KEY_MISSING' },
      );
    }
    return loadMasterKey(path);
  }
  // Another replica may have created it first: then theirs is used.
  return createMasterKey(path) ?? loadMasterKey(path);
}

/**
 * The audit replicas a PostgreSQL store knows of, with their last recorded heads, read without
 * opening the store (no master key, no migration): what `kms audit verify --store` checks the
 * audit directory against.
 */
export async function auditRegistry(url: string): Promise<{ replica: string; head?: string }[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    c.on('error', () => undefined);
    await c.connect();
    if ((await pgSchemaVersion(c)) === 0) return [];
    const r = await c.query<{ replica: string; head: string | null }>('SELECT replica, head FROM audit_replicas ORDER BY replica');
    return r.rows.map((x) => (x.head === null ? { replica: x.replica } : { replica: x.replica, head: x.head }));
  } catch (e) {
    throw unavailable(e);
  } finally {
    await c.end().catch(() => undefined);
  }
}
