// Attestation-conditional decryption: the enclave asks the KMS (through the parent's vsock-proxy)
// to decrypt a ciphertext the host made, or to make a data key, with its attestation document as
// the Recipient. The KMS answers only if the key policy's kms:RecipientAttestation conditions match
// this image's PCRs, and then only with an envelope sealed to a key that never leaves the enclave.
// The host relays bytes it cannot read; this app proves it holds the secret by answering its
// SHA-256, never the secret itself.
//
//   npx nitro-sandbox build-enclave --entry examples/conditional-decrypt/main.ts --output-file /tmp/cd.eif
//   npx nitro-sandbox kms serve --port 4000                   # trusts the sandbox root by default
//   npx nitro-sandbox vsock-proxy 8000 127.0.0.1 4000 --config allowlist.yaml
//   npx nitro-sandbox run-enclave --eif-path /tmp/cd.eif --memory 256 --cpu-count 1
// then send one JSON request to (its CID, 5010), half-close, and read the JSON answer:
//   { "op": "decrypt", "ciphertextBlob": "<base64>", "encryptionContext": {…},
//     "region": "us-east-1", "credentials": { "accessKeyId": "…", "secretAccessKey": "…" }, "kmsPort": 8000 }
//   { "op": "generateDataKey", "keyId": "<arn>", … }  → also returns the data key's CiphertextBlob
// The credentials come from the parent, as on Nitro (the enclave has no instance role of its own);
// they authenticate the call, while the attestation document decides what it may decrypt.
import { createHash } from 'node:crypto';
import { JsonRequestError, kmsClient, serveJsonRequests, type AppContext } from '../../enclave/sdk/index.ts';

export const PORT = 5010;
/** Reported in every answer; changing it changes the image, and so PCR0 and PCR2. */
const APP = 'conditional-decrypt/1';

interface Request {
  op: 'decrypt' | 'generateDataKey';
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  kmsPort: number;
  ciphertextBlob?: string;
  keyId?: string;
  encryptionContext?: Record<string, string>;
  /** Decrypt this many times (1–10,000) and report the latency measured inside the enclave (default 1). */
  repeat?: number;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const MAX_REPEAT = 10_000;

async function handle(ctx: AppContext, req: Request): Promise<Record<string, unknown>> {
  // Refused before any KMS call, answered { ok: false, code: ERR_JSON_REQUEST_INVALID } by serveJsonRequests.
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new JsonRequestError('ERR_JSON_REQUEST_INVALID', 'the request must be a JSON object');
  if (req.op !== 'decrypt' && req.op !== 'generateDataKey') throw new JsonRequestError('ERR_JSON_REQUEST_INVALID', `unknown op ${JSON.stringify(req.op) ?? 'undefined'}`);
  const repeat = req.repeat ?? 1;
  if (!Number.isSafeInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) {
    throw new JsonRequestError('ERR_JSON_REQUEST_INVALID', `repeat must be an integer from 1 to ${MAX_REPEAT}, got ${JSON.stringify(req.repeat)}`);
  }
  const kms = kmsClient(ctx, { port: req.kmsPort, region: req.region, credentials: req.credentials });
  const ec = req.encryptionContext ? { encryptionContext: req.encryptionContext } : {};
  if (req.op === 'decrypt') {
    const blob = new Uint8Array(Buffer.from(req.ciphertextBlob ?? '', 'base64'));
    const times: number[] = [];
    let last: { keyId: string; digest: string } | undefined;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const r = await kms.decrypt(blob, { ...(req.keyId ? { keyId: req.keyId } : {}), ...ec });
      times.push(performance.now() - t0);
      last = { keyId: r.keyId, digest: sha256(r.plaintext) };
      r.plaintext.fill(0);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] ?? 0;
    return { ok: true, app: APP, keyId: last?.keyId, sha256: last?.digest, latencyMs: { median, min: times[0], max: times.at(-1), n: times.length } };
  }
  const r = await kms.generateDataKey(req.keyId ?? '', ec);
  const digest = sha256(r.plaintext);
  r.plaintext.fill(0);
  return { ok: true, app: APP, keyId: r.keyId, sha256: digest, ciphertextBlob: Buffer.from(r.ciphertextBlob).toString('base64') };
}

export default async function main(ctx: AppContext): Promise<void> {
  serveJsonRequests(ctx, PORT, (req) => handle(ctx, req as Request), { decorateError: (answer) => ({ ...answer, app: APP }) });
  ctx.log.info(`conditional-decrypt listening on vsock port ${PORT}`);
}
