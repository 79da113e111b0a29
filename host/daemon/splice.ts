// Joins two byte streams both ways, the way a socket proxy does: pipe() in each direction carries
// backpressure (a slow reader on one side stops reading from the other, and the vsock channel's
// per-connection credit then stops the enclave), an end (FIN) on one side half-closes the other,
// and an abnormal close or error on either side destroys (resets) the other.
import type { Duplex } from 'node:stream';

/** Resolves once both streams are closed. Both need allowHalfOpen for half-close to carry over. */
export function splice(a: Duplex, b: Duplex): Promise<void> {
  const closed = (s: Duplex): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
  const abort = (from: Duplex, to: Duplex) => (): void => {
    // A close without a clean end (reset, error, destroy) is passed on as a reset.
    if ((!from.readableEnded || !from.writableFinished) && !to.destroyed) to.destroy();
  };
  a.on('error', () => undefined);
  b.on('error', () => undefined);
  a.once('close', abort(a, b));
  b.once('close', abort(b, a));
  a.pipe(b);
  b.pipe(a);
  return Promise.all([closed(a), closed(b)]).then(() => undefined);
}
