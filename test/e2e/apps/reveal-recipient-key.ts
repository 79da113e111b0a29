// Test-only enclave app: makes a data key through the enclave KMS client, then discloses its own
// recipient private key to the host so the test can open the captured CiphertextForRecipient with
// `openssl cms -decrypt` and compare it with the key the enclave obtained. Never do this in an app:
// it exists only to check the envelope with an independent tool.
import { createHash } from 'node:crypto';
import { generateRecipientKeyPair, kmsClient, readAll, type AppContext } from '../../../enclave/sdk/index.ts';

export default async function main(ctx: AppContext): Promise<void> {
  ctx.vsock.listen(5011, (conn) => {
    conn.on('error', () => undefined);
    void (async () => {
      try {
        const req = JSON.parse((await readAll(conn)).toString('utf8')) as { keyId: string; region: string; kmsPort: number; credentials: { accessKeyId: string; secretAccessKey: string } };
        const keyPair = await generateRecipientKeyPair();
        const kms = kmsClient(ctx, { port: req.kmsPort, region: req.region, credentials: req.credentials, keyPair });
        const dk = await kms.generateDataKey(req.keyId);
        conn.end(
          JSON.stringify({
            ok: true,
            sha256: createHash('sha256').update(dk.plaintext).digest('hex'),
            ciphertextBlob: Buffer.from(dk.ciphertextBlob).toString('base64'),
            privateKeyPem: keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          }),
        );
      } catch (e) {
        conn.end(JSON.stringify({ ok: false, name: (e as Error).name, message: (e as Error).message }));
      }
    })();
  });
}
