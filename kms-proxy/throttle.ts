// Request-rate quotas as token buckets per (account, quota group) (KMS Developer Guide, "Request
// quotas": cryptographic operations share one per-account bucket, 10,000/s by default). An empty
// bucket answers ThrottlingException, which the AWS SDKs retry with backoff.
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

export class Throttle {
  readonly #quotas: Quotas;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(quotas: Partial<Quotas> = {}, now: () => number = () => performance.now()) {
    this.#quotas = { ...DEFAULT_QUOTAS, ...quotas };
    this.#now = now;
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
