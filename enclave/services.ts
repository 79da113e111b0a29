// What the bootstrap hands an app's `main(ctx)` besides its image info: the raw device interfaces.
// The SDK (`enclave/sdk/`) wraps them in friendlier APIs; apps bundle the SDK, as Nitro apps link
// the NSM library, so it is measured in PCR2 with the app.
import type { VsockConnection, VsockListener } from './vsock/index.ts';

export interface EnclaveServices {
  readonly vsock: {
    /** Accept connections from the parent to this enclave's `port`. */
    listen(port: number, handler: (conn: VsockConnection) => void): VsockListener;
    /** Connect to a port on the parent (CID 3), e.g. a vsock-proxy. Rejects with ECONNREFUSED. */
    connect(port: number): Promise<VsockConnection>;
  };
  /** The NSM device: one CBOR request in, one CBOR response out (nsm-api protocol). */
  readonly nsm: { request(bytes: Uint8Array): Promise<Uint8Array> };
  /** Reaches the enclave console, which the host shows in debug mode only. */
  readonly log: { info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void };
  /** True when the enclave runs in debug mode (then PCR0–2 read as zero in documents). */
  readonly debug: boolean;
  /** Tell the host the enclave is ready before `main` returns (for apps whose main never returns). */
  ready(): void;
}
