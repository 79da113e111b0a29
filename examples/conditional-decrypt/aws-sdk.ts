// The same attestation-conditional decrypt, written against the unmodified AWS SDK for JavaScript
// (@aws-sdk/client-kms), as code running on a real Nitro Enclave would be. The only enclave-specific
// line is the request handler: it carries requests over vsock to the parent's vsock-proxy and adds
// the attested Recipient to Decrypt/GenerateDataKey/… transparently, opening the sealed answer
// inside, so `Plaintext` is there for the app (and for the AWS Encryption SDK on top). The bundle
// carries the whole SDK (a few MB): fine for an example, `kmsClient` is the light choice.
//
//   npx nitro-sandbox build-enclave --entry examples/conditional-decrypt/aws-sdk.ts --output-file /tmp/cd-sdk.eif
// Request/answer on vsock port 5012 as in main.ts ({ op: "decrypt", ciphertextBlob, … }).
import './require-shim.ts';
import { createHash } from 'node:crypto';
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { kmsHttpHandler, serveJsonRequests, type AppContext } from '../../enclave/sdk/index.ts';

export const PORT = 5012;

export default async function main(ctx: AppContext): Promise<void> {
  serveJsonRequests(ctx, PORT, async (request) => {
    const req = request as { region: string; kmsPort: number; credentials: { accessKeyId: string; secretAccessKey: string }; ciphertextBlob: string };
    const kms = new KMSClient({
      region: req.region,
      credentials: req.credentials,
      maxAttempts: 1,
      requestHandler: kmsHttpHandler(ctx, { port: req.kmsPort, region: req.region, credentials: req.credentials }),
    });
    try {
      const r = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(req.ciphertextBlob, 'base64') }));
      const plaintext = r.Plaintext as Uint8Array;
      const answer = { ok: true, keyId: r.KeyId, sha256: createHash('sha256').update(plaintext).digest('hex') };
      plaintext.fill(0);
      return answer;
    } finally {
      kms.destroy();
    }
  });
}
