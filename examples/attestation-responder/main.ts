// An attestation responder: a client connects to vsock port 5006, sends a nonce (1–64 bytes) and
// half-closes; the enclave answers with an attestation document from its NSM bound to that nonce,
// then closes. The client verifies the document against the sandbox root and the PCRs it expects
// (see test/examples/attestation-responder.test.ts, or `nitro-sandbox verify-attestation`).
import { nsmClient, type AppContext } from '../../enclave/sdk/index.ts';

export const ATTESTATION_PORT = 5006;
const MAX_NONCE = 64;

export default async function main(ctx: AppContext): Promise<void> {
  const nsm = nsmClient(ctx);
  ctx.vsock.listen(ATTESTATION_PORT, (conn) => {
    const chunks: Buffer[] = [];
    let size = 0;
    conn.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_NONCE) conn.destroy();
      else chunks.push(c);
    });
    conn.on('end', () => {
      const nonce = new Uint8Array(Buffer.concat(chunks));
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
    });
    conn.on('error', () => undefined);
  });
  ctx.log.info(`attestation responder listening on vsock port ${ATTESTATION_PORT}`);
}
