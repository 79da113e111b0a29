// "Read everything the peer sends until it half-closes": the request shape of most enclave
// exchanges (the boot handshake's image, a nonce, a JSON request), on either end of the channel.
// One helper, bounded, so no reader of peer-controlled bytes forgets the bound.
import type { Readable } from 'node:stream';
import { ConnectionResetError, VsockError } from './errors.ts';

export interface ReadAllOptions {
  /** Refuse once more than this many bytes arrive; default no bound. */
  readonly maxBytes?: number;
  /**
   * What happens to the stream past `maxBytes`: 'destroy' it (default), or 'discard' the rest of
   * what the peer sends and keep the stream open, so this side can still answer why it refused.
   */
  readonly onOverflow?: 'destroy' | 'discard';
}

/**
 * Resolves with every byte `stream` delivers until its end. Rejects with the stream's error,
 * ECONNRESET if it closes without ending, or ERR_VSOCK_READ_TOO_LARGE past `maxBytes`.
 */
export function readAll(stream: Readable, options: ReadAllOptions = {}): Promise<Buffer> {
  const max = options.maxBytes ?? Infinity;
  if (!(max >= 0)) throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', `maxBytes must be a non-negative number, got ${String(max)}`);
  // A stream reset before we got it (see Channel.connect) emits nothing more.
  if (stream.destroyed) return Promise.reject(stream.errored ?? new ConnectionResetError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let overflowed = false;
    stream.on('data', (c: Buffer) => {
      if (overflowed) return;
      n += c.length;
      if (n <= max) {
        chunks.push(c);
        return;
      }
      const err = new VsockError('ERR_VSOCK_READ_TOO_LARGE', `the peer sent more than ${max} bytes`);
      if (options.onOverflow !== 'discard') {
        stream.destroy(err);
        return;
      }
      overflowed = true;
      chunks.length = 0;
      reject(err);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks, n)));
    stream.once('error', reject);
    // After 'end' this is a no-op; before it, the peer went away mid-message.
    stream.once('close', () => reject(new ConnectionResetError()));
  });
}
