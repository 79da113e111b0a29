// Runs one example end to end with one command, on embedded defaults, and cleans up:
//
//   npm run example -- <name>        (or: node examples/run.ts <name>)
//
// names: echo-server, attestation-responder, sensitive-payload, conditional-decrypt,
//        conditional-decrypt-aws-sdk, verify-aws-document
// Each builds the example into an image, runs it in an isolated enclave, plays the client (and,
// for conditional decrypt, the KMS operator and the parent's vsock-proxy), and prints what happened.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { toHex, verifyAttestation } from '../attestation/index.ts';
import { buildImage, session } from '../enclave/index.ts';
import { Host, startVsockProxy } from '../host/index.ts';
import { attestedKeyPolicy, startKmsServer } from '../kms-proxy/index.ts';
import { readDocument, verifyAwsDocument } from './verify-aws-document/main.ts';

export const EXAMPLES = ['echo-server', 'attestation-responder', 'sensitive-payload', 'conditional-decrypt', 'conditional-decrypt-aws-sdk', 'verify-aws-document'] as const;
export type ExampleName = (typeof EXAMPLES)[number];

const here = import.meta.dirname;

/** Runs the example; `say` receives one line at a time. Resolves with a summary the tests check. */
export async function runExample(name: ExampleName, say: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  if (name === 'verify-aws-document') {
    const r = verifyAwsDocument(readDocument(join(here, '..', '..', 'shared', 'vectors', 'nitro', 'signed-eif-2025-04-01.b64')));
    say(`valid AWS document from ${String(r.document?.module_id)}; verified now: ${r.now}`);
    return r;
  }
  const work = mkdtempSync(join(tmpdir(), `nitro-sandbox-example-`));
  const host = await Host.start({ dataDir: join(work, 'host') });
  try {
    const entry = name.startsWith('conditional-decrypt') ? (name === 'conditional-decrypt' ? 'conditional-decrypt/main.ts' : 'conditional-decrypt/aws-sdk.ts') : `${name}/main.ts`;
    const { image, measurements } = await buildImage({ entry: join(here, entry) });
    say(`built ${entry}: PCR0 ${toHex(measurements.pcr0).slice(0, 32)}…`);
    const enclave = await host.runEnclave(image, { memoryMiB: 256, cpuCount: 1 });
    say(`running ${enclave.EnclaveID} (CID ${enclave.EnclaveCID})`);
    const trust = { trustAnchors: [host.authority.rootCertificate], maxAgeMs: 60_000 };
    switch (name) {
      case 'echo-server': {
        const back = await host.request(enclave.EnclaveCID, 5005, 'hello, enclave');
        say(`echoed: ${back.toString()}`);
        return { echoed: back.toString() };
      }
      case 'attestation-responder': {
        const nonce = randomBytes(32);
        const doc = new Uint8Array(await host.request(enclave.EnclaveCID, 5006, nonce));
        const { document } = verifyAttestation(doc, { ...trust, expectedNonce: nonce, expectedPcrs: { 0: measurements.pcr0, 1: measurements.pcr1, 2: measurements.pcr2 } });
        say(`document from ${document.moduleId} verified: sandbox root, PCR0–2, our nonce`);
        return { moduleId: document.moduleId };
      }
      case 'sensitive-payload': {
        const s = await session.AttestedSession.open(await host.connect(enclave.EnclaveCID, 5007), { ...trust, expectedPcrs: { 0: measurements.pcr0, 2: measurements.pcr2 } });
        const record = 'Refund to bob@example.org, card 5500 0000 0000 0004.';
        const out = JSON.parse((await s.request(new TextEncoder().encode(record))).toString('utf8')) as Record<string, unknown>;
        s.close();
        say(`sent through an attested session: ${record}`);
        say(`result: ${String(out.text)}`);
        return out;
      }
      case 'conditional-decrypt':
      case 'conditional-decrypt-aws-sdk': {
        const account = '111122223333';
        const kms = await startKmsServer({ port: 0, dataDir: join(work, 'kms'), account, recipient: { trustAnchors: [host.authority.rootCertificate] } });
        const credentials = { accessKeyId: kms.credential.accessKeyId, secretAccessKey: kms.credential.secretAccessKey };
        const sdk = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
        const url = new URL(kms.endpoint);
        const remote = { address: url.hostname, port: Number(url.port) };
        const proxy = await startVsockProxy({ host, localPort: 8000, remote, allowlist: [remote] });
        try {
          // The complete attested-release policy (kms-proxy/README.md): Decrypt only for this PCR0,
          // and nothing that returns plaintext or re-wraps a ciphertext without an attestation document.
          const key = await sdk.send(new CreateKeyCommand({ Policy: attestedKeyPolicy({ account, pcrs: { 0: toHex(measurements.pcr0) } }) }));
          const secret = randomBytes(32);
          const ct = await sdk.send(new EncryptCommand({ KeyId: key.KeyMetadata?.Arn, Plaintext: secret }));
          say(`key ${String(key.KeyMetadata?.Arn)} pinned to this PCR0; the host encrypted a secret under it`);
          const port = name === 'conditional-decrypt' ? 5010 : 5012;
          const ask = { op: 'decrypt', ciphertextBlob: Buffer.from(ct.CiphertextBlob ?? new Uint8Array()).toString('base64'), region: 'us-east-1', credentials, kmsPort: 8000 };
          const answer = JSON.parse((await host.request(enclave.EnclaveCID, port, JSON.stringify(ask))).toString('utf8')) as Record<string, unknown>;
          const match = answer.sha256 === createHash('sha256').update(secret).digest('hex');
          say(`the enclave decrypted it with its attestation document: ${answer.ok === true && match ? 'SHA-256 matches the secret' : `refused (${String(answer.name)})`}`);
          return { ...answer, match };
        } finally {
          sdk.destroy();
          await proxy.close();
          await kms.close();
        }
      }
    }
  } finally {
    await host.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A key-release example whose enclave was refused, or decrypted something else, failed: exit 1. */
export function refused(result: Record<string, unknown>): boolean {
  return 'match' in result && (result.ok !== true || result.match !== true);
}

if (import.meta.main) {
  const name = process.argv[2];
  if (!(EXAMPLES as readonly string[]).includes(name ?? '')) {
    console.error(`usage: npm run example -- <${EXAMPLES.join('|')}>`);
    process.exitCode = 2;
  } else if (refused(await runExample(name as ExampleName))) {
    process.exitCode = 1;
  }
}
