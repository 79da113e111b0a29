// The SDK's HTTP exchange over a vsock stream that the parent reset before the request went out
// (Channel.connect can resolve with such a stream: ACCEPT and RESET in one read).
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { httpOverStream } from '../../enclave/sdk/index.ts';

describe('httpOverStream', () => {
  it('a stream already reset is ERR_KMS_CLIENT_TRANSPORT at once, not after the response timeout', async () => {
    const conn = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
    conn.on('error', () => {});
    const reset = Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' });
    conn.destroy(reset);
    await new Promise((r) => setImmediate(r));
    // A timeout far beyond the test's: only an immediate refusal passes.
    const err = await httpOverStream(conn, { method: 'POST', path: '/', headers: {}, body: new Uint8Array() }, 3_600_000).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_KMS_CLIENT_TRANSPORT', cause: reset });
  });
});
