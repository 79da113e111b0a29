// The demo story played from the page: the same code as `npm start` (host/demo-story.ts), on the
// console's own host and KMS, so its enclaves appear in the enclaves view and its key, decisions
// and audit records in the KMS view. One play at a time; the page follows it by SSE.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoEvent } from '../host/demo-story.ts';
import type { Host } from '../host/index.ts';
import type { KmsServer } from '../kms-proxy/index.ts';
import { httpError, UiBusyError, type HttpError } from './errors.ts';

export type DemoState = 'idle' | 'playing' | 'done' | 'failed';

export interface DemoSnapshot {
  readonly state: DemoState;
  /** 0 before the first play, then 1, 2, … */
  readonly run: number;
  readonly events: readonly DemoEvent[];
  readonly error?: HttpError;
}

export class DemoRunner {
  readonly #host: Host;
  readonly #kms: KmsServer;
  readonly #workDir: string;
  readonly #listeners = new Set<() => void>();
  #snapshot: DemoSnapshot = { state: 'idle', run: 0, events: [] };
  #playing: Promise<void> | undefined;

  constructor(host: Host, kms: KmsServer, workDir: string) {
    this.#host = host;
    this.#kms = kms;
    this.#workDir = workDir;
  }

  snapshot(): DemoSnapshot {
    return this.#snapshot;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(s: DemoSnapshot): void {
    this.#snapshot = s;
    for (const l of this.#listeners) l();
  }

  /** Starts a play; UiBusyError while one is under way. Resolves once it has started. */
  play(): void {
    if (this.#playing) throw new UiBusyError('the demo is already playing');
    const run = this.#snapshot.run + 1;
    const events: DemoEvent[] = [];
    this.#set({ state: 'playing', run, events: [] });
    this.#playing = (async () => {
      try {
        // Loaded on first play: the AWS SDK the story uses costs ~150 ms of start-up otherwise.
        const { playDemo } = await import('../host/demo-story.ts');
        await playDemo({
          workDir: mkdtempSync(join(this.#workDir, `demo-${run}-`)),
          host: this.#host,
          kms: this.#kms,
          onEvent: (e) => {
            events.push(e);
            this.#set({ state: 'playing', run, events: [...events] });
          },
        });
        this.#set({ state: 'done', run, events: [...events] });
      } catch (e) {
        const error = httpError(e) ?? { status: 500, code: 'ERR_UI_DEMO', message: e instanceof Error ? e.message : String(e) };
        this.#set({ state: 'failed', run, events: [...events], error });
      } finally {
        this.#playing = undefined;
      }
    })();
  }

  /** Waits for a play under way (the console's close does, before stopping the host). */
  async settled(): Promise<void> {
    await this.#playing;
  }
}
