// Test-only enclave app: makes a data key through the enclave KMS client, then discloses its own
// recipient private key to the host so the test can open the captured CiphertextForRecipient with
// `openssl cms -decrypt` and compare it with the key the enclave obtained. Never do this in an app:
// it exists only to check the envelope with an independent tool.
import { createHash } from 'node:crypto';
import { generateRecipientKeyPair, kmsClient, serveJsonRequests, type AppContext } from '../../../enclave/sdk/index.ts';

export default async function main(ctx: AppContext): Promise<void> {
  serveJsonRequests(ctx, 5011, async (request) => {
    const req = request as { keyId: string; region: string; kmsPort: number; credentials: { accessKeyId: string; secretAccessKey: string } };
    const keyPair = await generateRecipientKeyPair();
    const kms = kmsClient(ctx, { port: req.kmsPort, region: req.region, credentials: req.credentials, keyPair });
    const dk = await kms.generateDataKey(req.keyId);
    return {
      ok: true,
      sha256: createHash('sha256').update(dk.plaintext).digest('hex'),
      ciphertextBlob: Buffer.from(dk.ciphertextBlob).toString('base64'),
      privateKeyPem: keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  });
}
