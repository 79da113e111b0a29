// Keeping work that may take a while on the event loop (the List operations) from starving the
// rest, whatever the request quotas let through:
// - `Gate`: at most `concurrency` runs at a time, the next ones wait in order, and once `maxWaiting`
//   are waiting a new one is refused at once with ThrottlingException (which the AWS SDKs retry
//   with backoff);
// - `WorkPacer`: the work runs in chunks (operations/types.ts `readChunked`) with a turn of the
//   event loop between them, and once it has used more than its `share` of the time (a token
//   bucket of busy milliseconds) it waits for its share to refill.
// So a flood of List calls, from any number of accounts, keeps at most one chunk of listing work
// between two turns of everyone else's requests and at most a quarter of the server's time: it cannot
// starve the cryptographic operations, whose quota it does not share either (throttle.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { kmsError, messages } from './errors.ts';

export class WorkPacer {
  readonly #share: number;
  readonly #burstMs: number;
  readonly #now: () => number;
  readonly #wait: (ms: number) => Promise<unknown>;
  #tokens: number;
  #refilledAt: number;
  #chunkStart: number | undefined;

  /** `share` of the time (0 < share ≤ 1) the work may use, after a burst of `burstMs` busy ms. */
  constructor(share = 0.25, burstMs = 50, now: () => number = () => performance.now(), wait: (ms: number) => Promise<unknown> = sleep) {
    this.#share = share;
    this.#burstMs = burstMs;
    this.#now = now;
    this.#wait = wait;
    this.#tokens = burstMs;
    this.#refilledAt = now();
  }

  /** A chunk of work starts. */
  begin(): void {
    this.#chunkStart = this.#now();
  }

  /** A chunk ended: counts its time; with more chunks to come, yields (longer when over the share). */
  async end(more: boolean): Promise<void> {
    const now = this.#now();
    this.#tokens = Math.min(this.#burstMs, this.#tokens + (now - this.#refilledAt) * this.#share) - (now - (this.#chunkStart ?? now));
    this.#refilledAt = now;
    this.#chunkStart = undefined;
    if (!more) return;
    if (this.#tokens < 0) await this.#wait(Math.ceil(-this.#tokens / this.#share));
    else await new Promise((resolve) => setImmediate(resolve));
  }
}

export class Gate {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(concurrency = 1, maxWaiting = 64) {
    this.#concurrency = concurrency;
    this.#maxWaiting = maxWaiting;
  }

  /** Runs `fn` when the gate admits it; ThrottlingException when too many already wait. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#maxWaiting) throw kmsError('ThrottlingException', messages.throttled, 'too many List calls are waiting');
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#running++;
    try {
      return await fn();
    } finally {
      // Hand the slot to the next waiter, or free it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  get waiting(): number {
    return this.#waiting.length;
  }
}
