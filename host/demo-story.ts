// The demo's story (`npm start`, `nitro-sandbox demo`, and the web console's demo view), as events:
// a KMS, an enclave image and its PCRs, a key whose policy pins them, the enclave running
// isolated, a sensitive record processed through an attested session, the enclave obtaining a
// data key the host never sees, and the denials: a one-character-modified enclave and a
// debug-mode enclave, each with `kms explain`. The CLI prints the events; the web console renders
// them. A public entry of its own (like attestation/nsm-protocol.ts), so that importing
// host/index.ts does not load the KMS and the AWS SDK.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, GenerateDataKeyWithoutPlaintextCommand, KMSClient } from '@aws-sdk/client-kms';
import { toHex } from '../attestation/index.ts';
import { buildImage, session } from '../enclave/index.ts';
import { attestedKeyPolicy, explain, startKmsServer, type Explanation, type KmsServer } from '../kms-proxy/index.ts';
import { EnclaveNotFoundError, Host, startVsockProxy, type EnclaveDescription, type VsockProxy } from './index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
/** The parent's vsock port the enclave reaches the KMS on (through the vsock-proxy). */
export const DEMO_KMS_VSOCK_PORT = 8000;

export type DemoEvent =
  | { readonly kind: 'step'; readonly n: number; readonly title: string }
  | { readonly kind: 'say'; readonly text: string }
  /** An image's measurements, hex. */
  | { readonly kind: 'measurements'; readonly image: 'A' | 'B'; readonly pcrs: Readonly<Record<string, string>> }
  /** An enclave the story started, as describe-enclaves reports it (isolation layers included). */
  | { readonly kind: 'enclave'; readonly description: EnclaveDescription }
  /**
   * What the KMS decided when an enclave asked for the data key, and `kms explain` for the
   * document that enclave presents. `verbosity` is how much of the explanation the terminal shows.
   */
  | {
      readonly kind: 'decision';
      readonly enclave: string;
      readonly released: boolean;
      /** `CiphertextForRecipient` when released, else the AWS error name the enclave got. */
      readonly answer: string;
      readonly explanation: Explanation;
      readonly verbosity: 'full' | 'summary' | 'verdict';
    };

export interface DemoOptions {
  /** Where the PKI, the KMS's store and enclave B's source go (the caller creates and removes it). */
  readonly workDir: string;
  /** Run on this host instead of starting one: only the demo's enclaves are terminated at the end. */
  readonly host?: Host;
  /** Use this KMS instead of starting one; it must trust `host`'s attestation root. */
  readonly kms?: KmsServer;
  readonly onEvent: (event: DemoEvent) => void;
}

/** The complete attested-release policy (kms-proxy/README.md): the enclave's PCR0/1/2 allow Decrypt,
 * and nothing returns plaintext or re-wraps a ciphertext without an attestation document. */
function policy(account: string, pcrs: { pcr0: string; pcr1: string; pcr2: string }): string {
  return attestedKeyPolicy({ account, pcrs: { 0: pcrs.pcr0, 1: pcrs.pcr1, 2: pcrs.pcr2 }, enclaveActions: ['kms:Decrypt'] });
}

/** Plays the story to its end; rejects with the first failure (everything it started is stopped). */
export async function playDemo(options: DemoOptions): Promise<void> {
  const started = performance.now();
  const { workDir: work, onEvent: emit } = options;
  let n = 0;
  const step = (title: string): void => emit({ kind: 'step', n: ++n, title });
  const say = (text: string): void => emit({ kind: 'say', text });
  const ownHost = options.host === undefined;
  let host: Host | undefined = options.host;
  let kms: KmsServer | undefined = options.kms;
  let proxy: VsockProxy | undefined;
  let sdk: KMSClient | undefined;
  const enclaveIds: string[] = [];
  try {
    step('Start the KMS: the AWS KMS API with SigV4, key policies and an audit log, trusting the sandbox attestation root');
    host ??= await Host.start({ dataDir: join(work, 'host') });
    kms ??= await startKmsServer({ port: 0, dataDir: join(work, 'kms'), account: ACCOUNT, region: REGION, recipient: { trustAnchors: [host.authority.rootCertificate] } });
    const account = kms.service.account;
    const region = kms.service.region;
    const credentials = { accessKeyId: kms.credential.accessKeyId, secretAccessKey: kms.credential.secretAccessKey };
    sdk = new KMSClient({ endpoint: kms.endpoint, region, credentials, maxAttempts: 1 });
    say(`endpoint ${kms.endpoint} (the unmodified @aws-sdk/client-kms talks to it)`);

    step('Build the enclave image (examples/demo) and measure it');
    const a = await buildImage({ entry: join(ROOT, 'examples/demo/main.ts'), name: 'demo' });
    const pcrs = { pcr0: toHex(a.measurements.pcr0), pcr1: toHex(a.measurements.pcr1), pcr2: toHex(a.measurements.pcr2) };
    say(`${a.image.length} bytes`);
    say(`PCR0 ${pcrs.pcr0}  (whole image)`);
    say(`PCR1 ${pcrs.pcr1}  (Node + isolation flags + bootstrap)`);
    say(`PCR2 ${pcrs.pcr2}  (the app)`);
    emit({ kind: 'measurements', image: 'A', pcrs: { PCR0: pcrs.pcr0, PCR1: pcrs.pcr1, PCR2: pcrs.pcr2 } });

    step('Create a KMS key whose policy releases it only to an enclave with these PCRs');
    const key = await sdk.send(new CreateKeyCommand({ Policy: policy(account, pcrs), Description: 'demo: released only to the attested enclave' }));
    const keyArn = key.KeyMetadata?.Arn ?? '';
    const dataKey = await sdk.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyArn, KeySpec: 'AES_256' }));
    const blob = Buffer.from(dataKey.CiphertextBlob ?? new Uint8Array()).toString('base64');
    say(`key ${keyArn}`);
    say('policy: Decrypt only if kms:RecipientAttestation:ImageSha384/PCR1/PCR2 match; Deny if no attestation');
    say(`a data key was generated for the enclave; the host holds only its ciphertext (${dataKey.CiphertextBlob?.length ?? 0} bytes)`);

    step('Run the enclave in an isolated process, and a vsock-proxy from its parent port to the KMS');
    const kmsUrl = new URL(kms.endpoint);
    const remote = { address: kmsUrl.hostname, port: Number(kmsUrl.port) };
    proxy = await startVsockProxy({ host, localPort: DEMO_KMS_VSOCK_PORT, remote, allowlist: [remote] });
    const running = host;
    const run = async (image: Uint8Array, opts: Parameters<Host['runEnclave']>[1]) => {
      const r = await running.runEnclave(image, opts);
      enclaveIds.push(r.EnclaveID);
      const description = running.describeEnclaves().find((e) => e.EnclaveID === r.EnclaveID);
      if (description) emit({ kind: 'enclave', description });
      return r;
    };
    const runA = await run(a.image, { memoryMiB: 256, cpuCount: 1 });
    say(JSON.stringify(runA));
    const iso = host.describeEnclaves().find((e) => e.EnclaveID === runA.EnclaveID)?.Isolation;
    if (iso) {
      const layers = Object.entries(iso).filter(([, v]) => v === true).map(([k]) => k);
      say(`isolation: ${layers.join(', ')}; node ${iso.NodeFlags.join(' ')}; heap ${iso.HeapLimitMiB} MiB, RSS limit ${iso.RssLimitMiB} MiB`);
    }
    say(`vsock-proxy: parent port ${DEMO_KMS_VSOCK_PORT} → ${remote.address}:${remote.port} (allowlisted)`);
    /** Asks the enclave (examples/demo, port 5010) to have the KMS release the data key to it. */
    const askForKey = async (cid: number): Promise<Record<string, unknown>> =>
      JSON.parse((await running.request(cid, 5010, JSON.stringify({ ciphertextBlob: blob, kmsPort: DEMO_KMS_VSOCK_PORT, region, credentials }))).toString('utf8')) as Record<string, unknown>;
    const service = kms.service;
    /** `kms explain` for the document the enclave presents (examples/demo, port 5011). */
    const decision = async (enclave: string, cid: number, answer: Record<string, unknown>, verbosity: 'full' | 'summary' | 'verdict'): Promise<void> => {
      const doc = await running.request(cid, 5011);
      const explanation = await explain(service, { keyId: keyArn, action: 'kms:Decrypt', attestation: doc });
      const released = answer.ok === true;
      emit({ kind: 'decision', enclave, released, answer: released ? 'CiphertextForRecipient' : String(answer.name), explanation, verbosity });
    };

    step('A client opens an attested session: it checks the PCRs before sending a sensitive record');
    const trust = { trustAnchors: [host.authority.rootCertificate], maxAgeMs: 60_000 };
    const s = await session.AttestedSession.open(await host.connect(runA.EnclaveCID, 5007), {
      ...trust,
      expectedPcrs: { 0: a.measurements.pcr0, 1: a.measurements.pcr1, 2: a.measurements.pcr2 },
    });
    say(`verified ${s.document.moduleId}: chain to the sandbox root, PCR0–2, fresh nonce, session key bound`);
    const record = 'Customer alice@example.com paid with card 4111 1111 1111 1111.';
    say(`sent (encrypted to the enclave): ${record}`);
    const result = JSON.parse((await s.request(new TextEncoder().encode(record))).toString('utf8')) as { text: string; emails: number; numbers: number };
    say(`result: ${result.text}  (${result.emails} e-mail, ${result.numbers} card number redacted)`);
    say('the host relayed only ciphertext');
    s.close();

    step('The enclave obtains the data key from the KMS with its attestation document');
    const askA = await askForKey(runA.EnclaveCID);
    if (askA.ok !== true) throw new Error(`enclave A was refused: ${String(askA.name)}: ${String(askA.message)}`);
    say(`released: the KMS answered CiphertextForRecipient, opened inside the enclave; key SHA-256 ${String(askA.sha256).slice(0, 16)}… (the host sees only this digest)`);
    await decision('A', runA.EnclaveCID, askA, 'verdict');

    step('A one-character change to the app (enclave B): new PCR0 and PCR2, so the KMS refuses');
    const dir = mkdtempSync(join(work, 'b-'));
    const src = readFileSync(join(ROOT, 'examples/demo/main.ts'), 'utf8')
      .replace("'../../enclave/sdk/index.ts'", JSON.stringify(join(ROOT, 'enclave/sdk/index.ts')))
      .replace("'../../enclave/session/server.ts'", JSON.stringify(join(ROOT, 'enclave/session/server.ts')))
      .replace("'../sensitive-payload/main.ts'", JSON.stringify(join(ROOT, 'examples/sensitive-payload/main.ts')))
      .replace("'demo-A'", "'demo-B'");
    writeFileSync(join(dir, 'main.ts'), src);
    const b = await buildImage({ entry: join(dir, 'main.ts'), name: 'demo' });
    say(`PCR0 ${toHex(b.measurements.pcr0)}`);
    emit({ kind: 'measurements', image: 'B', pcrs: { PCR0: toHex(b.measurements.pcr0), PCR1: toHex(b.measurements.pcr1), PCR2: toHex(b.measurements.pcr2) } });
    const runB = await run(b.image, { memoryMiB: 256, cpuCount: 1, name: 'demo-b' });
    const askB = await askForKey(runB.EnclaveCID);
    say(`denied: ${String(askB.name)}`);
    await decision('B', runB.EnclaveCID, askB, 'full');

    step('Enclave A in debug mode: its documents carry all-zero PCR0–2, so the KMS refuses it too');
    const runDebug = await run(a.image, { memoryMiB: 256, cpuCount: 1, debugMode: true, name: 'demo-debug' });
    const askDebug = await askForKey(runDebug.EnclaveCID);
    say(`denied: ${String(askDebug.name)}`);
    await decision('A in debug mode', runDebug.EnclaveCID, askDebug, 'summary');

    step('Clean up');
    if (ownHost) {
      await host.stop();
      host = undefined;
      say(`all enclaves terminated; done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } else {
      await terminateAll(host, enclaveIds);
      say(`the demo's enclaves terminated; done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    sdk?.destroy();
    await proxy?.close();
    if (ownHost) await host?.stop();
    else if (host) await terminateAll(host, enclaveIds);
    if (options.kms === undefined) await kms?.close();
  }
}

/** Terminates those of `ids` still running (an enclave may have ended on its own). */
async function terminateAll(host: Host, ids: readonly string[]): Promise<void> {
  const running = new Set(host.describeEnclaves().filter((e) => e.State !== 'TERMINATED').map((e) => e.EnclaveID));
  await Promise.all(
    ids
      .filter((id) => running.has(id))
      .map((id) =>
        host.terminate({ id }).catch((e: unknown) => {
          // It ended between the look and the terminate.
          if (!(e instanceof EnclaveNotFoundError)) throw e;
        }),
      ),
  );
}
