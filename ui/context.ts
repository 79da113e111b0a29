// What the console's routes work with: the host's enclaves, the KMS, the demo runner, the trust
// anchors the inspector offers, the open event streams, the clock, and the page frame.
import type { MiddlewareHandler } from 'hono';
import type { DemoRunner } from './demo.ts';
import type { EnclaveDesk } from './enclaves.ts';
import type { Anchor } from './inspect.ts';
import type { KmsDesk } from './kms.ts';
import type { StreamRegistry } from './sse.ts';
import type { Html } from './views/layout.ts';

export interface AnchorChoice extends Anchor {
  /** Form value: aws, console, home. */
  readonly id: string;
}

export interface UiContext {
  readonly enclaves: EnclaveDesk;
  readonly kms: KmsDesk;
  readonly kmsEndpoint: string;
  readonly demo: DemoRunner;
  readonly anchors: readonly AnchorChoice[];
  readonly streams: StreamRegistry;
  /** How often live views look for changes that have no events of their own (ms). */
  readonly pollMs: number;
  readonly clock: () => number;
  /** The body limit every form route applies first. */
  readonly formLimit: MiddlewareHandler;
  /** A whole page: the frame with navigation and the CSRF token around `body`. */
  page(path: string, title: string, body: Html): Html;
}
