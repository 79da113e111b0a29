// A gate for work that may take a while on the event loop (the List operations): at most
// `concurrency` runs at a time, the next ones wait in order, and once `maxWaiting` are waiting a new
// one is refused at once with ThrottlingException (which the AWS SDKs retry with backoff). Together
// with listings read in small chunks with a turn of the event loop between them
// (operations/types.ts `readChunked`), a flood of List calls, from any number of accounts, keeps at
// most one chunk of listing work between two turns of everyone else's requests: it cannot starve
// the cryptographic operations, whose quota it does not share either (throttle.ts).
import { kmsError, messages } from './errors.ts';

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
