// A gate in front of one enclave's NSM device: a token bucket that refills at the budget's rate
// (budget.ts). Every request takes a token before it reaches the device; an Attestation, which
// signs a document, is charged its full cost once its response shows what it was (the device's
// own canonical encoding, so the charge cannot be dodged by how the request is spelled), and the
// debt is paid before the next request passes. A request that finds the bucket empty is answered
// {"Error":"InternalError"} at once, without touching the device: the NSM API's code for a
// request the device could not serve (aws-nitro-enclaves-nsm-api ErrorCode), so the SDK raises
// NsmError('InternalError') and the app may retry. Each enclave has its own gate: one that floods
// is refused while the others are served.
import { encodeCbor } from '../attestation/index.ts';
import type { NsmHandler } from '../enclave/index.ts';
import type { EnclaveBudget } from './budget.ts';

/** `{"Attestation": …}` as the device encodes it: a one-entry map whose key is the 11-byte text. */
const ATTESTATION_RESPONSE = Buffer.from([0xa1, 0x6b, ...Buffer.from('Attestation')]);
const REFUSED = encodeCbor({ Error: 'InternalError' });

export class NsmGate {
  readonly #rate: number;
  readonly #burst: number;
  readonly #attestationCost: number;
  readonly #clock: () => number;
  #tokens: number;
  #at: number;
  /** Requests refused so far (for describe and tests). */
  refused = 0;

  constructor(budget: Pick<EnclaveBudget, 'nsmPerSecond' | 'nsmBurst' | 'attestationCost'>, clock: () => number = Date.now) {
    this.#rate = budget.nsmPerSecond;
    this.#burst = budget.nsmBurst;
    this.#attestationCost = budget.attestationCost;
    this.#clock = clock;
    this.#tokens = this.#burst;
    this.#at = clock();
  }

  #refill(): void {
    const now = this.#clock();
    if (now > this.#at) this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
    this.#at = now;
  }

  /** `device` behind the gate. */
  wrap(device: (request: Uint8Array) => Promise<Uint8Array>): NsmHandler {
    return async (request) => {
      this.#refill();
      if (this.#tokens < 1) {
        this.refused++;
        return REFUSED;
      }
      this.#tokens -= 1;
      const response = await device(request);
      if (response.length > ATTESTATION_RESPONSE.length && ATTESTATION_RESPONSE.equals(response.subarray(0, ATTESTATION_RESPONSE.length))) {
        this.#tokens -= this.#attestationCost - 1;
      }
      return response;
    };
  }
}
