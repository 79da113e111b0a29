// Server-sent events for the live parts of the pages: a fragment re-rendered on the server and
// sent whole whenever it changes (the enclave list, the demo's steps, the audit trail), and a text
// stream appended to (an enclave's console). The client code swaps or appends; it renders nothing.
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';

/** Streams that are open, so the console's close can end them (an open stream keeps a server up). */
export class StreamRegistry {
  readonly #open = new Set<SSEStreamingApi>();

  add(s: SSEStreamingApi): () => void {
    this.#open.add(s);
    return () => this.#open.delete(s);
  }

  closeAll(): void {
    for (const s of this.#open) s.abort();
    this.#open.clear();
  }
}

function aborted(stream: SSEStreamingApi): Promise<void> {
  return new Promise((resolve) => stream.onAbort(resolve));
}

/**
 * Sends `render()` as an `html` event at once and again after each `subscribe` notification when
 * it changed. Renders are serialized, so a slow client sees the latest state, never a jumble.
 */
export function liveFragment(c: Context, registry: StreamRegistry, render: () => Promise<string>, subscribe: (notify: () => void) => () => void): Response {
  return streamSSE(c, async (stream) => {
    const unregister = registry.add(stream);
    let last: string | undefined;
    let queue = Promise.resolve();
    const push = (): void => {
      queue = queue
        .then(async () => {
          if (stream.aborted || stream.closed) return;
          const text = await render();
          if (text === last) return;
          last = text;
          await stream.writeSSE({ event: 'html', data: text });
        })
        .catch(() => stream.abort());
    };
    const unsubscribe = subscribe(push);
    push();
    await aborted(stream);
    unsubscribe();
    unregister();
  });
}

/** Calls `notify` every `ms` (for state that has no change events of its own). */
export function every(ms: number): (notify: () => void) => () => void {
  return (notify) => {
    const t = setInterval(notify, ms);
    return () => clearInterval(t);
  };
}

/** How far a console reader may fall behind before its stream is ended (the enclave writes on). */
export const MAX_CONSOLE_BACKLOG = 1024 * 1024;

/**
 * Streams text chunks as `text` events and ends with an `end` event. `start` subscribes with a
 * sink and returns the unsubscribe function; it runs before the response starts, so its typed
 * errors (not found, not in debug mode) answer as errors rather than as an empty stream.
 */
export function textStream(c: Context, registry: StreamRegistry, start: (sink: (chunk: Buffer | null) => void) => () => void): Response {
  const early: (Buffer | null)[] = [];
  let sink: ((chunk: Buffer | null) => void) | undefined;
  const unsubscribe = start((chunk) => (sink ? sink(chunk) : early.push(chunk)));
  return streamSSE(c, async (stream) => {
    const unregister = registry.add(stream);
    const decoder = new TextDecoder();
    let backlog = 0;
    let queue = Promise.resolve();
    const send = (event: string, data: string, bytes: number): void => {
      backlog += bytes;
      queue = queue
        .then(() => stream.writeSSE({ event, data }))
        .then(() => {
          backlog -= bytes;
        })
        .catch(() => stream.abort());
    };
    const end = (why: string): void => {
      queue = queue.then(() => stream.writeSSE({ event: 'end', data: why })).then(() => stream.abort(), () => stream.abort());
    };
    sink = (chunk) => {
      if (stream.aborted) return;
      if (chunk === null) {
        const rest = decoder.decode();
        if (rest) send('text', rest, 0);
        end('the enclave has ended');
        return;
      }
      if (backlog + chunk.length > MAX_CONSOLE_BACKLOG) {
        end('this page fell too far behind the enclave; reload to read on');
        sink = () => undefined;
        return;
      }
      send('text', decoder.decode(chunk, { stream: true }), chunk.length);
    };
    for (const chunk of early.splice(0)) sink(chunk);
    await aborted(stream);
    unsubscribe();
    unregister();
  });
}
