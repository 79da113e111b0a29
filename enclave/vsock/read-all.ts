// "Read everything the peer sends until it half-closes": the request shape of most enclave
// exchanges (the boot handshake's image, a nonce, a JSON request), on either end of the channel.
// One helper, bounded, so no reader of peer-controlled bytes forgets the bound.
import type { Readable } from 'node:stream';
import { ConnectionResetError, VsockError } from './errors.ts';

export interface ReadAllOptions {
  /** Refuse (and destroy the stream) once more than this many bytes arrive; default no bound. */
  readonly maxBytes?: number;
}

/**
 * Resolves with every byte `stream` delivers until its end. Rejects with the stream's error,
 * ECONNRESET if it closes without ending, or ERR_VSOCK_READ_TOO_LARGE past `maxBytes`.
 */
export function readAll(stream: Readable, options: ReadAllOptions = {}): Promise<Buffer> {
  const max = options.maxBytes ?? Infinity;
  if (!(max >= 0)) throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', `maxBytes must be a non-negative number, got ${String(max)}`);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    stream.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) stream.destroy(new VsockError('ERR_VSOCK_READ_TOO_LARGE', `the peer sent more than ${max} bytes`));
      else chunks.push(c);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks, n)));
    stream.once('error', reject);
    // After 'end' this is a no-op; before it, the peer went away mid-message.
    stream.once('close', () => reject(new ConnectionResetError()));
  });
}
