// Request-rate quotas as token buckets per (account, quota group) (KMS Developer Guide, "Request
// quotas": cryptographic operations share one per-account bucket, 10,000/s by default). An empty
// bucket answers ThrottlingException, which the AWS SDKs retry with backoff.
//
// Replicas sharing a store share each bucket (`SharedThrottle`): the bucket lives in the store
// (coordination.ts `leaseTokens`), and each replica leases tokens from it a slice at a time
// (LEASE_SHARE of a second's rate, at least one), spends them locally and leases again when they
// run out. A lease is kept at most LEASE_MS: tokens a replica leased and did not use are lost
// rather than hoarded. So the quota holds across replicas (no more calls pass than the shared
// bucket gave out) and costs one store round trip per slice, not per call.
import { kmsError, messages } from './errors.ts';
import type { QuotaGroup } from './operations/types.ts';

export interface Quota {
  /** Requests per second refilled. */
  readonly rate: number;
  /** Bucket size (burst); defaults to one second's worth. */
  readonly burst?: number;
}

export type Quotas = Readonly<Record<QuotaGroup, Quota>>;

/** AWS's default for cryptographic operations; the other groups are generous for local use. */
export const DEFAULT_QUOTAS: Quotas = Object.freeze({
  cryptographic: { rate: 10_000 },
  random: { rate: 10_000 },
  management: { rate: 2_000 },
  list: { rate: 1_000 },
  write: { rate: 500 },
});

function badQuota(message: string): never {
  throw kmsError('ValidationException', message);
}

function checkQuota(group: string, q: unknown): void {
  if (q === null || typeof q !== 'object') badQuota(`quotas.${group} must be { rate, burst? }, got ${String(q)}`);
  const { rate, burst } = q as { rate?: unknown; burst?: unknown };
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) badQuota(`quotas.${group}.rate must be a positive finite number, got ${String(rate)}`);
  if (burst !== undefined && (typeof burst !== 'number' || !Number.isFinite(burst))) badQuota(`quotas.${group}.burst must be a finite number, got ${String(burst)}`);
  // A bucket holding less than one token never lets a call through.
  const size = burst ?? rate;
  if (size < 1) badQuota(`quotas.${group}.burst must be at least 1${burst === undefined ? ` (it defaults to the rate, ${rate})` : `, got ${size}`}`);
}

/** The part of a quota a replica leases at a time, and how long it keeps a lease. */
export const LEASE_SHARE = 0.05;
export const LEASE_MS = 1000;

export class Throttle {
  readonly #quotas: Quotas;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /**
   * Refuses quotas that would make a bucket refuse every call for ever (a rate or burst of 0, a
   * negative one, NaN, a burst below one token) or that name no quota group, with
   * ValidationException (ERR_KMS_VALIDATION), as a bad seed file is refused at start-up.
   */
  constructor(quotas: Partial<Quotas> = {}, now: () => number = () => performance.now()) {
    if (quotas === null || typeof quotas !== 'object') throw badQuota(`quotas must be an object, got ${String(quotas)}`);
    for (const [group, q] of Object.entries(quotas)) {
      if (!Object.hasOwn(DEFAULT_QUOTAS, group)) throw badQuota(`quotas: unknown group '${group}' (${Object.keys(DEFAULT_QUOTAS).join(', ')})`);
      checkQuota(group, q);
    }
    this.#quotas = { ...DEFAULT_QUOTAS, ...quotas };
    this.#now = now;
  }

  quota(group: QuotaGroup): Quota {
    return this.#quotas[group];
  }

  /** Takes one token or throws ThrottlingException. */
  take(account: string, group: QuotaGroup): void {
    const q = this.#quotas[group];
    const burst = q.burst ?? q.rate;
    const id = `${account}\0${group}`;
    const now = this.#now();
    let b = this.#buckets.get(id);
    if (!b) {
      b = { tokens: burst, at: now };
      this.#buckets.set(id, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * q.rate) / 1000);
    b.at = now;
    if (b.tokens < 1) throw kmsError('ThrottlingException', messages.throttled);
    b.tokens -= 1;
  }
}

interface Lease {
  tokens: number;
  until: number;
  empty: boolean;
  pending?: Promise<void>;
}

/** Takes a token from a bucket shared through the store (see the header); the same checks as Throttle. */
export class SharedThrottle {
  readonly #throttle: Throttle;
  readonly #lease: (account: string, group: string, want: number, quota: Quota) => Promise<number>;
  readonly #now: () => number;
  readonly #leases = new Map<string, Lease>();

  constructor(quotas: Partial<Quotas>, lease: (account: string, group: string, want: number, quota: Quota) => Promise<number>, now: () => number = () => performance.now()) {
    this.#throttle = new Throttle(quotas, now);
    this.#lease = lease;
    this.#now = now;
  }

  /** Takes one token, leasing from the shared bucket when this replica has none; ThrottlingException when the bucket is empty. */
  async take(account: string, group: QuotaGroup): Promise<void> {
    const id = `${account}\0${group}`;
    for (;;) {
      let l = this.#leases.get(id);
      const now = this.#now();
      if (l && l.until > now) {
        if (l.tokens >= 1) {
          l.tokens -= 1;
          return;
        }
        // The shared bucket was empty: not asked again before a token can have come back.
        if (l.empty) throw kmsError('ThrottlingException', messages.throttled);
      }
      if (l?.pending) {
        await l.pending;
        continue;
      }
      const q = this.#throttle.quota(group);
      const want = Math.max(1, Math.floor(Math.min(q.rate * LEASE_SHARE, q.burst ?? q.rate)));
      const next: Lease = { tokens: 0, until: 0, empty: false };
      l = next;
      this.#leases.set(id, l);
      next.pending = this.#lease(account, group, want, q).then(
        (n) => {
          next.tokens = n;
          next.empty = n < 1;
          next.until = this.#now() + (n < 1 ? Math.min(LEASE_MS, 1000 / q.rate) : LEASE_MS);
          delete next.pending;
        },
        (e: unknown) => {
          this.#leases.delete(id);
          throw e;
        },
      );
      await next.pending;
      if (next.tokens < 1) throw kmsError('ThrottlingException', messages.throttled);
    }
  }
}
