// An enclave app for the session tests: attested sessions on vsock port 5007 whose handler echoes
// the request, but throws on "throw", rejects on "reject" and answers a non-byte value on "bad
// answer". A failing handler must end only its own session, never the enclave.
import type { AppContext } from '../../enclave/sdk/index.ts';
import { serveAttestedSessions } from '../../enclave/session/server.ts';

export default async function main(ctx: AppContext): Promise<void> {
  serveAttestedSessions(ctx, 5007, (request) => {
    const text = new TextDecoder().decode(request);
    if (text === 'throw') throw new Error('handler failed');
    if (text === 'reject') return Promise.reject(new Error('handler rejected'));
    if (text === 'bad answer') return 42 as unknown as Uint8Array;
    return request;
  });
}
