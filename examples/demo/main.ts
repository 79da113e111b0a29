// The demo enclave (`npm start`): it processes sensitive records through attested sessions
// (vsock port 5007; clients verify its PCRs before sending anything) and obtains data keys from the
// KMS with its attestation document (vsock port 5010; the KMS releases them only to these PCRs), and
// shows the document it would present (vsock port 5011).
// It never returns a key: it answers the key's SHA-256, so the host can check without seeing it.
import { createHash } from 'node:crypto';
import { generateRecipientKeyPair, kmsClient, nsmClient, serveJsonRequests, type AppContext } from '../../enclave/sdk/index.ts';
import { serveAttestedSessions } from '../../enclave/session/server.ts';
import { redact } from '../sensitive-payload/main.ts';


interface KeyRequest {
  readonly ciphertextBlob: string;
  readonly kmsPort: number;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
}

/**
 * The app, labelled `build` in its answers: the label is part of the measured code, so the demo's
 * "enclave B" (modified.ts) is this app with one character changed, and other PCR0 and PCR2.
 */
export function demoApp(build: string): (ctx: AppContext) => Promise<void> {
  return async (ctx) => serve(ctx, build);
}

export default demoApp('demo-A');

async function serve(ctx: AppContext, build: string): Promise<void> {
  serveAttestedSessions(ctx, 5007, (request) => {
    const out = redact(new TextDecoder().decode(request));
    return new TextEncoder().encode(JSON.stringify({ ...out, by: build }));
  });
  // The document this enclave would present to the KMS (an RSA public key as its public_key), for
  // `kms explain`: the host learns nothing from it but the enclave's measurements.
  ctx.vsock.listen(5011, (conn) => {
    conn.on('error', () => undefined);
    // The SDK's recipient key pair (RSA-2048, made off the event loop), as kmsClient presents it.
    generateRecipientKeyPair()
      .then(({ spki }) => nsmClient(ctx).attestation({ publicKey: spki }))
      .then((doc) => conn.end(doc), () => conn.destroy());
  });
  serveJsonRequests(ctx, 5010, async (request) => {
    const req = request as KeyRequest;
    const kms = kmsClient(ctx, { port: req.kmsPort, region: req.region, credentials: req.credentials });
    const r = await kms.decrypt(new Uint8Array(Buffer.from(req.ciphertextBlob, 'base64')));
    const sha256 = createHash('sha256').update(r.plaintext).digest('hex');
    r.plaintext.fill(0);
    return { ok: true, keyId: r.keyId, sha256 };
  });
}
