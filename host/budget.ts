// What one enclave may make the host hold or do for it. The host is shared: without a bound per
// enclave, one enclave could make it buffer hundreds of MiB (many streams to a listener that
// reads slowly: each stream may have a whole receive window in flight) or keep its NSM device busy
// signing documents, slowing every other enclave and describe-enclaves with it. Each enclave gets
// the same budget, charged to it alone:
//   - streams: the channel's receive window times its connection cap (enclave/vsock/channel.ts)
//     bounds the bytes of its streams the host holds, whatever the readers on the host side do;
//   - pending: the bytes the host may queue for an enclave that does not read its channel before
//     the channel is torn down (the channel's hardLimit);
//   - console: the debug-mode console history kept for `console`;
//   - NSM: a token bucket in front of its NSM device (nsm-gate.ts).
// Totals follow: every enclave's share is far below the memory it was given (--memory ≥ 64 MiB),
// so what the host buffers for all of them is bounded by what the operator gave them.
import type { ChannelOptions } from '../enclave/index.ts';
import { InvalidEnclaveArgumentError } from './errors.ts';

export interface EnclaveBudget {
  /** Bytes of an enclave's streams the host buffers at most (default 32 MiB). */
  readonly streamBytes: number;
  /** Receive window per stream (default 256 KiB, Linux vsock's default buffer). */
  readonly streamWindow: number;
  /** Bytes queued for an enclave that does not read before its channel is torn down (default 8 MiB). */
  readonly pendingBytes: number;
  /** Debug-mode console history kept per enclave (default 1 MiB). */
  readonly consoleBytes: number;
  /** NSM requests per second an enclave may make, sustained (default 256). */
  readonly nsmPerSecond: number;
  /** NSM requests an enclave may make at once after being idle (default 256). */
  readonly nsmBurst: number;
  /** What an Attestation request costs in requests: signing is the expensive one (default 4). */
  readonly attestationCost: number;
}

export const DEFAULT_BUDGET: EnclaveBudget = Object.freeze({
  streamBytes: 32 << 20,
  streamWindow: 256 << 10,
  pendingBytes: 8 << 20,
  consoleBytes: 1 << 20,
  nsmPerSecond: 256,
  nsmBurst: 256,
  attestationCost: 4,
});

/** The budget with `overrides` applied; every value a whole number in range (ERR_INVALID_ARGUMENT). */
export function enclaveBudget(overrides: Partial<EnclaveBudget> = {}): EnclaveBudget {
  const b = { ...DEFAULT_BUDGET, ...overrides };
  const range = (k: keyof EnclaveBudget, min: number, max: number): void => {
    const v = b[k];
    if (!Number.isInteger(v) || v < min || v > max) throw new InvalidEnclaveArgumentError(`budget.${k} must be a whole number in ${min}–${max}`);
  };
  for (const k of Object.keys(overrides)) {
    if (!(k in DEFAULT_BUDGET)) throw new InvalidEnclaveArgumentError(`budget.${k} is not a budget setting`);
  }
  range('streamWindow', 4096, 1 << 30);
  range('streamBytes', b.streamWindow, 1 << 30);
  range('pendingBytes', 1 << 16, 1 << 30);
  range('consoleBytes', 0, 1 << 30);
  range('nsmPerSecond', 1, 1 << 20);
  range('nsmBurst', 1, 1 << 20);
  range('attestationCost', 1, b.nsmBurst);
  return Object.freeze(b);
}

/** The host end's channel options that keep an enclave's streams within its budget. */
export function channelBudget(b: EnclaveBudget): Pick<ChannelOptions, 'window' | 'maxConnections' | 'hardLimit'> {
  return { window: b.streamWindow, maxConnections: Math.floor(b.streamBytes / b.streamWindow), hardLimit: b.pendingBytes };
}
