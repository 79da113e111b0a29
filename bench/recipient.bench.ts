// Attested key release.
//
// 1. GenerateDataKey with Recipient, through the whole KMS request path in process (hono
//    `app.request`: SigV4 verification, JSON and shape checks, document verification with a cached
//    chain, key policy with PCR conditions, data key, sealed blob, CMS envelope, audit record),
//    against the cryptographic floor of that request measured in the same run: one P-384 document
//    verification with a cached chain (`verifyAttestation`) plus one RSA-2048 OAEP encryption.
//    Target ≥ 0.5: the service around the cryptography may at most double its cost. One document
//    is replayed, so the KMS's chain cache and its per-SPKI recipient-key cache hit, as they do for
//    an enclave client that keeps its key pair (a real one sends a fresh document per call, which
//    changes nothing here: documents themselves are never cached, the COSE signature is verified
//    on every request).
// 2. Enclave-side `kms.decrypt` latency, measured inside a real enclave (examples/conditional-
//    decrypt, median of N): NSM document, SigV4, HTTP/1.1 over vsock through the parent's
//    vsock-proxy to the KMS over TCP, RSA-2048 OAEP + AES inside. Baseline: the same attested
//    Decrypt made from the host straight over TCP with a ready document (the SDK client) and the
//    envelope opened in the host, i.e. what the enclave path adds is the NSM round trip and the
//    vsock hops. Target ≥ 0.25 (rate = 1 / median latency), chosen before measuring: two extra
//    local hops should not make the call four times slower.
import { constants, createHash, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { AttestationAuthority, ChainCache, verifyAttestation } from '../attestation/index.ts';
import { buildImage } from '../enclave/index.ts';
import { signKmsRequest } from '../enclave/sdk/index.ts';
import { openEnvelope } from '../enclave/sdk/cms.ts';
import { Host, startVsockProxy } from '../host/index.ts';
import { attestedKeyPolicy, createKmsApp, startKmsServer } from '../kms-proxy/index.ts';
import { interleavedAsync, rate, rateSync, result, type Benchmark } from './harness.ts';

const ACCOUNT = '111122223333';

function pinnedPolicy(pcr0Hex: string): string {
  return attestedKeyPolicy({ account: ACCOUNT, pcrs: { 0: pcr0Hex } });
}

async function generateDataKeyWithRecipient(): Promise<ReturnType<typeof result>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-recipient-'));
  try {
    const authority = await AttestationAuthority.open({ dataDir: join(dir, 'pki') });
    const pcr0 = new Uint8Array(randomBytes(48));
    const measurements = new Map<number, Uint8Array>([[0, pcr0], [1, new Uint8Array(randomBytes(48))], [2, new Uint8Array(randomBytes(48))]]);
    const nsm = await authority.createDevice({ moduleId: 'i-0bench0000000000-enc0bench00000000', measurements });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' }));
    const doc = await nsm.attestation({ publicKey: spki });
    const kms = await createKmsApp({ dataDir: join(dir, 'kms'), recipient: { trustAnchors: [authority.rootCertificate] }, quotas: { cryptographic: { rate: 1e9 } } });
    try {
      const cred = kms.credentials[0];
      if (!cred) throw new Error('no credential');
      // Create the key through the app itself (one signed CreateKey).
      const create = await signKmsRequest({ credentials: cred, region: 'us-east-1', host: 'localhost', target: 'CreateKey', body: Buffer.from(JSON.stringify({ Policy: pinnedPolicy(Buffer.from(pcr0).toString('hex')) })) });
      const createdRes = await kms.app.request('http://localhost/', { method: 'POST', headers: create.headers, body: Buffer.from(create.body) });
      if (createdRes.status !== 200) throw new Error(`CreateKey failed: ${await createdRes.text()}`);
      const created = (await createdRes.json()) as { KeyMetadata: { Arn: string } };
      const body = Buffer.from(JSON.stringify({ KeyId: created.KeyMetadata.Arn, KeySpec: 'AES_256', Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: Buffer.from(doc).toString('base64') } }));
      // One signed request replayed: SigV4 allows it within the 5-minute window, and the document
      // is well within its 5-minute age for the length of the run.
      const signed = await signKmsRequest({ credentials: cred, region: 'us-east-1', host: 'localhost', target: 'GenerateDataKey', body });
      const call = async () => {
        const res = await kms.app.request('http://localhost/', { method: 'POST', headers: signed.headers, body });
        if (res.status !== 200) throw new Error(`GenerateDataKey failed: ${res.status} ${await res.text()}`);
        const out = (await res.json()) as { CiphertextForRecipient?: string; Plaintext?: string };
        if (out.Plaintext !== undefined || out.CiphertextForRecipient === undefined) throw new Error('not an attested answer');
      };
      const check = (await kms.app.request('http://localhost/', { method: 'POST', headers: signed.headers, body })).json() as Promise<{ CiphertextForRecipient: string }>;
      if (openEnvelope(new Uint8Array(Buffer.from((await check).CiphertextForRecipient, 'base64')), rsa.privateKey).length !== 32) throw new Error('envelope does not open');

      const cache = new ChainCache();
      const anchors = [authority.rootCertificate];
      const key32 = randomBytes(32);
      const floor = () => {
        verifyAttestation(doc, { trustAnchors: anchors, chainCache: cache, maxAgeMs: 300_000, allowDebug: true });
        publicEncrypt({ key: rsa.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, key32);
      };
      const { figure: fig, baseline: base } = await interleavedAsync(
        () => rate(call, 1200),
        async () => rateSync(floor, 1200),
      );
      return result(
        'kms GenerateDataKey with Recipient (in-process request path) vs one cached-chain P-384 document verification + one RSA-2048 OAEP encryption',
        { rate: fig, unit: 'requests/s' },
        { rate: base, unit: 'ops/s', name: 'verifyAttestation (cached chain) + RSA-2048 OAEP encrypt' },
        0.5,
        `chain cache hits ${cache.hits}`,
      );
    } finally {
      await kms.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function enclaveDecryptLatency(): Promise<ReturnType<typeof result>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-enclave-kms-'));
  const host = await Host.start({ dataDir: join(dir, 'host') });
  const kms = await startKmsServer({ port: 0, dataDir: join(dir, 'kms'), recipient: { trustAnchors: [host.authority.rootCertificate] }, quotas: { cryptographic: { rate: 1e9 } } });
  const port = Number(new URL(kms.endpoint).port);
  const proxy = await startVsockProxy({ host, localPort: 8000, remote: { address: '127.0.0.1', port }, allowlist: [{ address: '127.0.0.1', port }] });
  const sdk = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials: kms.credential, maxAttempts: 1 });
  try {
    const built = await buildImage({ entry: join(import.meta.dirname, '..', 'examples', 'conditional-decrypt', 'main.ts') });
    const pcr0 = Buffer.from(built.measurements.pcr0).toString('hex');
    const keyId = (await sdk.send(new CreateKeyCommand({ Policy: pinnedPolicy(pcr0) }))).KeyMetadata?.Arn as string;
    const secret = randomBytes(32);
    const blob = (await sdk.send(new EncryptCommand({ KeyId: keyId, Plaintext: secret }))).CiphertextBlob as Uint8Array;
    const N = 60;

    const r = await host.runEnclave(built.image, { memoryMiB: 256 });
    const request = { op: 'decrypt', ciphertextBlob: Buffer.from(blob).toString('base64'), repeat: N, region: 'us-east-1', kmsPort: 8000, credentials: { accessKeyId: kms.credential.accessKeyId, secretAccessKey: kms.credential.secretAccessKey } };
    const answer = JSON.parse((await host.request(r.EnclaveCID, 5010, JSON.stringify(request))).toString('utf8')) as Record<string, any>;
    await host.terminate({ id: r.EnclaveID });
    if (!answer.ok || answer.sha256 !== createHash('sha256').update(secret).digest('hex')) throw new Error(`enclave decrypt failed: ${JSON.stringify(answer)}`);
    const enclaveMedian = answer.latencyMs.median as number;

    // Baseline: the same attested Decrypt from the host over a fresh TCP connection, document ready.
    const hostRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const hostDoc = await (await host.authority.createDevice({ moduleId: 'i-0bench0000000000-enc0base00000001', measurements: new Map([[0, built.measurements.pcr0], [1, built.measurements.pcr1], [2, built.measurements.pcr2]]) })).attestation({
      publicKey: new Uint8Array(hostRsa.publicKey.export({ type: 'spki', format: 'der' })),
    });
    // A fresh TCP connection per call, as the enclave opens a fresh vsock connection per call.
    const direct = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials: kms.credential, maxAttempts: 1, requestHandler: { httpAgent: new Agent({ keepAlive: false }) } });
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const d = await direct.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: hostDoc } }));
      openEnvelope(d.CiphertextForRecipient as Uint8Array, hostRsa.privateKey);
      times.push(performance.now() - t0);
    }
    direct.destroy();
    times.sort((a, b) => a - b);
    const hostMedian = times[Math.floor(times.length / 2)] as number;
    return result(
      'enclave kms.decrypt latency (inside the enclave, via vsock-proxy) vs the same attested Decrypt from the host over TCP',
      { rate: 1000 / enclaveMedian, unit: `calls/s (median ${enclaveMedian.toFixed(2)} ms over ${N})` },
      { rate: 1000 / hostMedian, unit: `calls/s (median ${hostMedian.toFixed(2)} ms)`, name: 'host: SDK Decrypt with a ready document + openEnvelope' },
      0.25,
      `enclave min ${(answer.latencyMs.min as number).toFixed(2)} ms, max ${(answer.latencyMs.max as number).toFixed(2)} ms (the first call includes RSA-2048 key generation)`,
    );
  } finally {
    sdk.destroy();
    await proxy.close();
    await host.stop();
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmarks: Benchmark[] = [
  { name: 'recipient: GenerateDataKey with Recipient', run: generateDataKeyWithRecipient },
  { name: 'recipient: enclave kms.decrypt latency', run: enclaveDecryptLatency },
];
