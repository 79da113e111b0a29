// `nitro-sandbox demo` (what `npm start` runs): the whole story on embedded defaults, step by step —
// a KMS, an enclave image and its PCRs, a key whose policy pins them, the enclave running isolated,
// a sensitive record processed through an attested session, the enclave obtaining a data key the
// host never sees, and the denials: a one-character-modified enclave and a debug-mode enclave,
// each with `kms explain`. Everything lives in a temporary directory removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, GenerateDataKeyWithoutPlaintextCommand, KMSClient } from '@aws-sdk/client-kms';
import { toHex } from '../../../attestation/index.ts';
import { buildImage, session } from '../../../enclave/index.ts';
import { explain, formatExplanation, startKmsServer, type KmsServer } from '../../../kms-proxy/index.ts';
import { Host, startVsockProxy, type VsockProxy } from '../../index.ts';
import { stringOpt, type Command } from '../command.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ACCOUNT = '111122223333';
const KMS_VSOCK_PORT = 8000;
const REGION = 'us-east-1';

/** The key policy: admin rights for the account, Decrypt only for the attested image, and the
 * `Null` deny that stops the broad statement from letting a caller without a document through. */
function policy(pcrs: { pcr0: string; pcr1: string; pcr2: string }): string {
  const principal = { AWS: `arn:aws:iam::${ACCOUNT}:root` };
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'KeyAdministration', Effect: 'Allow', Principal: principal, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:Put*', 'kms:Create*', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Encrypt'], Resource: '*' },
      {
        Sid: 'DecryptOnlyInTheAttestedEnclave',
        Effect: 'Allow',
        Principal: principal,
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: {
          StringEqualsIgnoreCase: {
            'kms:RecipientAttestation:ImageSha384': pcrs.pcr0,
            'kms:RecipientAttestation:PCR1': pcrs.pcr1,
            'kms:RecipientAttestation:PCR2': pcrs.pcr2,
          },
        },
      },
      { Sid: 'DenyWithoutAttestation', Effect: 'Deny', Principal: principal, Action: 'kms:Decrypt', Resource: '*', Condition: { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } } },
    ],
  });
}

export const demo: Command = {
  name: 'demo',
  summary: 'run the end-to-end demo (what npm start runs)',
  help: `Usage: nitro-sandbox demo [--data-dir DIR]

Runs the whole story step by step, on embedded defaults, in a temporary directory it removes:
starts the KMS, builds an enclave image and prints its PCRs, creates a key whose policy pins them,
runs the enclave isolated, processes a sensitive record through an attested session, shows the
enclave obtaining a data key the host never sees, then shows a one-character-modified enclave and
a debug-mode enclave being denied, with 'kms explain' output for each.

Options:
  --data-dir DIR   work in DIR instead (the PKI and the KMS's store) and keep it
`,
  options: { 'data-dir': { type: 'string' } },
  async run(args, io) {
    const started = performance.now();
    const work = stringOpt(args, 'data-dir') ?? mkdtempSync(join(tmpdir(), 'nitro-sandbox-demo-'));
    const removeWork = stringOpt(args, 'data-dir') === undefined;
    let n = 0;
    const step = (text: string): void => io.out(`\n[${++n}] ${text}\n`);
    const say = (text: string): void => io.out(`    ${text}\n`);
    let host: Host | undefined;
    let kms: KmsServer | undefined;
    let proxy: VsockProxy | undefined;
    let sdk: KMSClient | undefined;
    try {
      step('Start the KMS: the AWS KMS API with SigV4, key policies and an audit log, trusting the sandbox attestation root');
      host = await Host.start({ dataDir: join(work, 'host') });
      kms = await startKmsServer({ port: 0, dataDir: join(work, 'kms'), account: ACCOUNT, region: REGION, recipient: { trustAnchors: [host.authority.rootCertificate] } });
      const credentials = { accessKeyId: kms.credential.accessKeyId, secretAccessKey: kms.credential.secretAccessKey };
      sdk = new KMSClient({ endpoint: kms.endpoint, region: REGION, credentials, maxAttempts: 1 });
      say(`endpoint ${kms.endpoint} (the unmodified @aws-sdk/client-kms talks to it)`);

      step('Build the enclave image (examples/demo) and measure it');
      const a = await buildImage({ entry: join(ROOT, 'examples/demo/main.ts'), name: 'demo' });
      const pcrs = { pcr0: toHex(a.measurements.pcr0), pcr1: toHex(a.measurements.pcr1), pcr2: toHex(a.measurements.pcr2) };
      say(`${a.image.length} bytes`);
      say(`PCR0 ${pcrs.pcr0}  (whole image)`);
      say(`PCR1 ${pcrs.pcr1}  (Node + isolation flags + bootstrap)`);
      say(`PCR2 ${pcrs.pcr2}  (the app)`);

      step('Create a KMS key whose policy releases it only to an enclave with these PCRs');
      const key = await sdk.send(new CreateKeyCommand({ Policy: policy(pcrs), Description: 'demo: released only to the attested enclave' }));
      const keyArn = key.KeyMetadata?.Arn ?? '';
      const dataKey = await sdk.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyArn, KeySpec: 'AES_256' }));
      const blob = Buffer.from(dataKey.CiphertextBlob ?? new Uint8Array()).toString('base64');
      say(`key ${keyArn}`);
      say('policy: Decrypt only if kms:RecipientAttestation:ImageSha384/PCR1/PCR2 match; Deny if no attestation');
      say(`a data key was generated for the enclave; the host holds only its ciphertext (${dataKey.CiphertextBlob?.length ?? 0} bytes)`);

      step('Run the enclave in an isolated process, and a vsock-proxy from its parent port to the KMS');
      const kmsUrl = new URL(kms.endpoint);
      const remote = { address: kmsUrl.hostname, port: Number(kmsUrl.port) };
      proxy = await startVsockProxy({ host, localPort: KMS_VSOCK_PORT, remote, allowlist: [remote] });
      const runA = await host.runEnclave(a.image, { memoryMiB: 256, cpuCount: 1 });
      say(JSON.stringify(runA));
      const iso = host.describeEnclaves().find((e) => e.EnclaveID === runA.EnclaveID)?.Isolation;
      if (iso) {
        const layers = Object.entries(iso).filter(([, v]) => v === true).map(([k]) => k);
        say(`isolation: ${layers.join(', ')}; node ${iso.NodeFlags.join(' ')}; heap ${iso.HeapLimitMiB} MiB, RSS limit ${iso.RssLimitMiB} MiB`);
      }
      say(`vsock-proxy: parent port ${KMS_VSOCK_PORT} → ${remote.address}:${remote.port} (allowlisted)`);
      const running = host;
      /** Asks the enclave (examples/demo, port 5010) to have the KMS release the data key to it. */
      const askForKey = async (cid: number): Promise<Record<string, unknown>> =>
        JSON.parse((await running.request(cid, 5010, JSON.stringify({ ciphertextBlob: blob, kmsPort: KMS_VSOCK_PORT, region: REGION, credentials }))).toString('utf8')) as Record<string, unknown>;

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

      step('A one-character change to the app (enclave B): new PCR0 and PCR2, so the KMS refuses');
      const b = await buildImage({ entry: join(ROOT, 'examples/demo/modified.ts'), name: 'demo' });
      say(`PCR0 ${toHex(b.measurements.pcr0)}`);
      const runB = await host.runEnclave(b.image, { memoryMiB: 256, cpuCount: 1, name: 'demo-b' });
      const askB = await askForKey(runB.EnclaveCID);
      say(`denied: ${String(askB.name)}`);
      const docB = await host.request(runB.EnclaveCID, 5011);
      const whyB = await explain(kms.service, { keyId: keyArn, action: 'kms:Decrypt', attestation: docB });
      say('kms explain --action kms:Decrypt --attestation <the document B presents>:');
      for (const line of formatExplanation(whyB).split('\n')) say(`  ${line}`);

      step('Enclave A in debug mode: its documents carry all-zero PCR0–2, so the KMS refuses it too');
      const runDebug = await host.runEnclave(a.image, { memoryMiB: 256, cpuCount: 1, debugMode: true, name: 'demo-debug' });
      const askDebug = await askForKey(runDebug.EnclaveCID);
      say(`denied: ${String(askDebug.name)}`);
      const docD = await host.request(runDebug.EnclaveCID, 5011);
      const whyD = await explain(kms.service, { keyId: keyArn, action: 'kms:Decrypt', attestation: docD });
      const decision = formatExplanation(whyD).split('\n').filter((l) => /^(decision|outcome)|ImageSha384|PCR[12]/.test(l.trim()));
      for (const line of decision) say(`  ${line.trim()}`);

      step('Clean up');
      await host.stop();
      host = undefined;
      say(`all enclaves terminated; done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return 0;
    } finally {
      sdk?.destroy();
      await proxy?.close();
      await host?.stop();
      await kms?.close();
      if (removeWork) rmSync(work, { recursive: true, force: true });
    }
  },
};
