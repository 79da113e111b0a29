// An attestation responder: a client connects to vsock port 5006, sends a nonce (1–64 bytes) and
// half-closes; the enclave answers with an attestation document from its NSM bound to that nonce,
// then closes. The client verifies the document against the sandbox root and the PCRs it expects
// (see test/examples/examples.test.ts, or `nitro-sandbox verify-attestation`).
import { nsmClient, readAll, type AppContext } from '../../enclave/sdk/index.ts';

export const ATTESTATION_PORT = 5006;
const MAX_NONCE = 64;

export default async function main(ctx: AppContext): Promise<void> {
  const nsm = nsmClient(ctx);
  ctx.vsock.listen(ATTESTATION_PORT, (conn) => {
    conn.on('error', () => undefined);
    // A longer nonce destroys the connection (readAll's bound): the client gets no document.
    readAll(conn, { maxBytes: MAX_NONCE }).then((body) => {
      const nonce = new Uint8Array(body);
      if (nonce.length === 0) {
        conn.end();
        return;
      }
      nsm.attestation({ nonce }).then(
        (doc) => conn.end(doc),
        (e: Error) => {
          ctx.log.error('attestation failed:', e.message);
          conn.destroy();
        },
      );
    }, () => undefined);
  });
  ctx.log.info(`attestation responder listening on vsock port ${ATTESTATION_PORT}`);
}
