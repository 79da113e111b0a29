// An echo server in an enclave: every byte a client sends to vsock port 5005 comes back. Run it:
//   npx nitro-sandbox build-enclave --entry examples/echo-server/main.ts --output-file /tmp/echo.eif
//   npx nitro-sandbox run-enclave --eif-path /tmp/echo.eif --memory 256 --cpu-count 1
// then connect to (its CID, 5005) from the host, e.g. `host.connect(cid, 5005)` in the library.
import type { AppContext } from '../../enclave/sdk/index.ts';

export const ECHO_PORT = 5005;

export default async function main(ctx: AppContext): Promise<void> {
  ctx.vsock.listen(ECHO_PORT, (conn) => {
    // pipe() honours backpressure both ways; the connection's end() half-closes like a socket.
    conn.pipe(conn);
    conn.on('error', (e) => ctx.log.warn('echo connection failed:', e.message));
  });
  ctx.log.info(`echo server listening on vsock port ${ECHO_PORT}`);
}
