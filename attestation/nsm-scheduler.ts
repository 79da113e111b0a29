// Fair execution of NSM requests across the enclaves of one host. Each request's work (bounded
// decoding, one P-384 signature: about a millisecond) runs on the host's event loop, one request
// at a time; between two requests the scheduler yields to the loop (setImmediate), so frames from
// other enclaves are read and their requests queued; and the next request is taken round-robin
// from the devices with work waiting. An enclave that keeps its 16 requests in flight (the
// channel's limit) therefore delays another enclave's request by at most one request per busy
// enclave, never by its whole burst, and the loop is never held longer than one request.
// Measured in bench/bounded-decoding.bench.ts: signing on the loop stays well under the few
// milliseconds this allows, so no worker thread is needed.

interface Job {
  readonly run: () => Promise<void>;
}

export class NsmScheduler {
  /** Waiting jobs per device, in the order devices take their turns (Map keeps insertion order). */
  readonly #queues = new Map<object, Job[]>();
  #pumping = false;

  /** Runs `work` for `owner` (a device) in its turn; resolves or rejects with its result. */
  run<T>(owner: object, work: () => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        run: async () => {
          try {
            resolve(await work());
          } catch (e) {
            reject(e);
          }
        },
      };
      const queue = this.#queues.get(owner);
      if (queue) queue.push(job);
      else this.#queues.set(owner, [job]);
      if (!this.#pumping) {
        this.#pumping = true;
        setImmediate(() => void this.#pump());
      }
    });
  }

  /** Requests waiting, over all devices. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  async #pump(): Promise<void> {
    for (;;) {
      const next = this.#queues.entries().next();
      if (next.done) break;
      const [owner, queue] = next.value;
      const job = queue.shift() as Job;
      // The device goes to the back of the line, with its remaining jobs, or leaves it.
      this.#queues.delete(owner);
      if (queue.length > 0) this.#queues.set(owner, queue);
      await job.run();
      await new Promise<void>((r) => setImmediate(r));
    }
    this.#pumping = false;
  }
}
