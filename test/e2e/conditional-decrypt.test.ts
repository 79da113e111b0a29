// Issue 7's acceptance test, end to end with real enclaves: examples/conditional-decrypt built into
// an image (A) and into one differing by one character (B); a KMS trusting the host's sandbox root;
// the parent's vsock-proxy forwarding port 8000 to it through a relay that records every byte the
// host carries. A gets the secret only through its attested request; B and A in debug mode are
// denied; the host's own Decrypt is denied once the policy has the Null deny statement.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { buildImage } from '../../enclave/index.ts';
import { Host, startVsockProxy, type VsockProxy } from '../../host/index.ts';
import { attestedKeyPolicy, denyWithoutAttestation, startKmsServer, type KmsServer } from '../../kms-proxy/index.ts';
import { toHex } from '../../attestation/index.ts';

const root = join(import.meta.dirname, '..', '..');
const ACCOUNT = '111122223333';
const KMS_PORT = 8000;
const dir = mkdtempSync(join(tmpdir(), 'e2e-recipient-'));
let host: Host;
let kms: KmsServer;
let sdk: KMSClient;
let proxy: VsockProxy;
let relay: net.Server;
/** Every byte relayed, per connection: toKms (enclave → KMS) and toEnclave (KMS → enclave). */
const relayed: { toKms: Buffer[]; toEnclave: Buffer[] }[] = [];
let skew = 0;
let pcrsA: { pcr0: string; pcr1: string; pcr2: string };
let imageA: Uint8Array;
let imageB: Uint8Array;
let imageReveal: Uint8Array;
let imageSdk: Uint8Array;
let pcr0Sdk: string;
let pcr0Reveal: string;

/** Builds the example from a copy whose source differs from the original in `variant` only. */
async function buildVariant(variant: (src: string) => string): Promise<Awaited<ReturnType<typeof buildImage>>> {
  const src = readFileSync(join(root, 'examples/conditional-decrypt/main.ts'), 'utf8').replace("'../../enclave/sdk/index.ts'", JSON.stringify(join(root, 'enclave/sdk/index.ts')));
  const d = mkdtempSync(join(dir, 'src-'));
  writeFileSync(join(d, 'main.ts'), variant(src));
  return buildImage({ entry: join(d, 'main.ts'), name: 'conditional-decrypt' });
}

function startRelay(target: number): Promise<net.Server> {
  const s = net.createServer({ allowHalfOpen: true }, (inbound) => {
    const rec = { toKms: [] as Buffer[], toEnclave: [] as Buffer[] };
    relayed.push(rec);
    const out = net.connect({ host: '127.0.0.1', port: target, allowHalfOpen: true });
    inbound.on('data', (c: Buffer) => rec.toKms.push(Buffer.from(c)));
    out.on('data', (c: Buffer) => rec.toEnclave.push(Buffer.from(c)));
    inbound.pipe(out);
    out.pipe(inbound);
    inbound.on('error', () => out.destroy());
    out.on('error', () => inbound.destroy());
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

function pinned(conditions: Record<string, string>, extra: object[] = []): string {
  const principal = { AWS: `arn:aws:iam::${ACCOUNT}:root` };
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Admin', Effect: 'Allow', Principal: principal, Action: ['kms:Encrypt', 'kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:Put*', 'kms:Create*'], Resource: '*' },
      { Sid: 'EnclaveOnly', Effect: 'Allow', Principal: principal, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*', Condition: { StringEqualsIgnoreCase: conditions } },
      ...extra,
    ],
  });
}
// The Deny of the complete attested-release policy (kms-proxy/policy/attested.ts).
const NULL_DENY = denyWithoutAttestation();
const BROAD = { Sid: 'Broad', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' };

beforeAll(async () => {
  host = await Host.start({ dataDir: join(dir, 'host') });
  kms = await startKmsServer({ port: 0, dataDir: join(dir, 'kms'), clock: () => Date.now() + skew, recipient: { trustAnchors: [host.authority.rootCertificate] } });
  sdk = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials: { accessKeyId: kms.credential.accessKeyId, secretAccessKey: kms.credential.secretAccessKey }, maxAttempts: 1 });
  relay = await startRelay(Number(new URL(kms.endpoint).port));
  const relayPort = (relay.address() as net.AddressInfo).port;
  proxy = await startVsockProxy({ host, localPort: KMS_PORT, remote: { address: '127.0.0.1', port: relayPort }, allowlist: [{ address: '127.0.0.1', port: relayPort }] });
  const a = await buildVariant((s) => s);
  const b = await buildVariant((s) => s.replace("const APP = 'conditional-decrypt/1';", "const APP = 'conditional-decrypt/2';"));
  imageA = a.image;
  imageB = b.image;
  pcrsA = { pcr0: toHex(a.measurements.pcr0), pcr1: toHex(a.measurements.pcr1), pcr2: toHex(a.measurements.pcr2) };
  expect(toHex(b.measurements.pcr0)).not.toBe(pcrsA.pcr0);
  const r = await buildImage({ entry: join(root, 'test/e2e/apps/reveal-recipient-key.ts') });
  imageReveal = r.image;
  pcr0Reveal = toHex(r.measurements.pcr0);
  const s = await buildImage({ entry: join(root, 'examples/conditional-decrypt/aws-sdk.ts') });
  imageSdk = s.image;
  pcr0Sdk = toHex(s.measurements.pcr0);
}, 60_000);

afterAll(async () => {
  sdk?.destroy();
  await proxy?.close();
  await host?.stop();
  await new Promise<void>((r) => (relay ? relay.close(() => r()) : r()));
  await kms?.close();
  rmSync(dir, { recursive: true, force: true });
});

const creds = () => ({ accessKeyId: kms.credential.accessKeyId, secretAccessKey: kms.credential.secretAccessKey });
const request = (extra: object) => ({ region: 'us-east-1', credentials: creds(), kmsPort: KMS_PORT, ...extra });
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function runAndAsk(image: Uint8Array, req: object, debugMode = false, port = 5010): Promise<Record<string, any>> {
  const r = await host.runEnclave(image, { memoryMiB: 256, debugMode });
  try {
    return JSON.parse((await host.request(r.EnclaveCID, port, JSON.stringify(req))).toString('utf8')) as Record<string, any>;
  } finally {
    await host.terminate({ id: r.EnclaveID });
  }
}

async function key(policy: string): Promise<string> {
  return (await sdk.send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata?.Arn as string;
}

async function encrypt(keyId: string, secret: Uint8Array, ec?: Record<string, string>): Promise<string> {
  const c = await sdk.send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, ...(ec ? { EncryptionContext: ec } : {}) }));
  return Buffer.from(c.CiphertextBlob as Uint8Array).toString('base64');
}

function allRelayed(): Buffer {
  return Buffer.concat(relayed.flatMap((r) => [...r.toKms, ...r.toEnclave]));
}

/** The relayed bytes never contain `secret` in raw, base64 or hex form. */
function expectNotRelayed(secret: Uint8Array): void {
  const bytes = allRelayed();
  const s = Buffer.from(secret);
  expect(bytes.includes(s)).toBe(false);
  const text = bytes.toString('latin1');
  expect(text.includes(s.toString('base64').slice(0, 24))).toBe(false);
  expect(text.includes(s.toString('hex'))).toBe(false);
}

describe('attestation-gated key release with real enclaves', () => {
  const secret = new Uint8Array(randomBytes(32));
  let pcr0Key: string;
  let pcr012Key: string;

  beforeAll(async () => {
    pcr0Key = await key(attestedKeyPolicy({ account: ACCOUNT, pcrs: { 0: pcrsA.pcr0 } }));
    pcr012Key = await key(pinned({ 'kms:RecipientAttestation:PCR0': pcrsA.pcr0, 'kms:RecipientAttestation:PCR1': pcrsA.pcr1, 'kms:RecipientAttestation:PCR2': pcrsA.pcr2 }));
  });

  it('enclave A decrypts a ciphertext the host made, under a PCR0 policy and under a PCR0+PCR1+PCR2 policy', async () => {
    const ec = { purpose: 'e2e' };
    const a0 = await runAndAsk(imageA, request({ op: 'decrypt', ciphertextBlob: await encrypt(pcr0Key, secret, ec), encryptionContext: ec }));
    expect(a0).toMatchObject({ ok: true, app: 'conditional-decrypt/1', keyId: pcr0Key, sha256: sha256(secret) });
    const a012 = await runAndAsk(imageA, request({ op: 'decrypt', ciphertextBlob: await encrypt(pcr012Key, secret) }));
    expect(a012).toMatchObject({ ok: true, sha256: sha256(secret) });
    expectNotRelayed(secret);
  });

  it('enclave B, one character different, gets AccessDeniedException from both keys', async () => {
    for (const k of [pcr0Key, pcr012Key]) {
      const b = await runAndAsk(imageB, request({ op: 'decrypt', ciphertextBlob: await encrypt(k, secret) }));
      expect(b).toMatchObject({ ok: false, app: 'conditional-decrypt/2', name: 'AccessDeniedException', code: 'ERR_KMS_SERVICE' });
    }
  });

  it('enclave A in debug mode (PCR0–2 zero) gets AccessDeniedException', async () => {
    const d = await runAndAsk(imageA, request({ op: 'decrypt', ciphertextBlob: await encrypt(pcr0Key, secret) }), true);
    expect(d).toMatchObject({ ok: false, name: 'AccessDeniedException' });
  });

  it("the host's own Decrypt without Recipient: allowed under a broad policy without the Null deny, denied with it", async () => {
    const open = await key(pinned({ 'kms:RecipientAttestation:ImageSha384': pcrsA.pcr0 }, [BROAD]));
    const c1 = await sdk.send(new EncryptCommand({ KeyId: open, Plaintext: secret }));
    const bypass = await sdk.send(new DecryptCommand({ CiphertextBlob: c1.CiphertextBlob }));
    expect(Buffer.from(bypass.Plaintext as Uint8Array).equals(Buffer.from(secret))).toBe(true);

    const hardened = await key(pinned({ 'kms:RecipientAttestation:ImageSha384': pcrsA.pcr0 }, [BROAD, NULL_DENY]));
    const c2 = await sdk.send(new EncryptCommand({ KeyId: hardened, Plaintext: secret }));
    await expect(sdk.send(new DecryptCommand({ CiphertextBlob: c2.CiphertextBlob }))).rejects.toMatchObject({ name: 'AccessDeniedException', message: expect.stringMatching(/explicit deny/) });
    // … while enclave A still gets it.
    const a = await runAndAsk(imageA, request({ op: 'decrypt', ciphertextBlob: Buffer.from(c2.CiphertextBlob as Uint8Array).toString('base64') }));
    expect(a).toMatchObject({ ok: true, sha256: sha256(secret) });
  });

  it('a data key made in the enclave: the captured CiphertextForRecipient opens with openssl cms to the key the enclave reports, and that key never crossed the host', async () => {
    const k = await key(pinned({ 'kms:RecipientAttestation:ImageSha384': pcr0Reveal }, [NULL_DENY]));
    const before = relayed.length;
    const r = await runAndAsk(imageReveal, { keyId: k, region: 'us-east-1', kmsPort: KMS_PORT, credentials: creds() }, false, 5011);
    expect(r.ok).toBe(true);
    const conns = relayed.slice(before);
    expect(conns.length).toBe(1);
    const response = Buffer.concat(conns[0]?.toEnclave ?? []).toString('latin1');
    const envelope = /"CiphertextForRecipient":"([A-Za-z0-9+/=]+)"/.exec(response)?.[1];
    expect(envelope).toBeDefined();
    expect(response).not.toMatch(/"Plaintext"/);
    writeFileSync(join(dir, 'env.der'), Buffer.from(envelope as string, 'base64'));
    writeFileSync(join(dir, 'enclave-key.pem'), r.privateKeyPem as string);
    const dataKey = execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', join(dir, 'env.der'), '-inkey', join(dir, 'enclave-key.pem')]);
    expect(dataKey.length).toBe(32);
    expect(sha256(dataKey)).toBe(r.sha256);
    expectNotRelayed(dataKey);
  });

  it('the document the enclave sent, replayed by the host: within the maximum age it yields only an envelope; past it, ValidationException', async () => {
    const ciphertext = await encrypt(pcr0Key, secret);
    const before = relayed.length;
    expect(await runAndAsk(imageA, request({ op: 'decrypt', ciphertextBlob: ciphertext }))).toMatchObject({ ok: true });
    const sent = Buffer.concat(relayed[before]?.toKms ?? []).toString('latin1');
    const body = JSON.parse(sent.slice(sent.indexOf('\r\n\r\n') + 4)) as { Recipient: { AttestationDocument: string } };
    const doc = Buffer.from(body.Recipient.AttestationDocument, 'base64');
    const replay = () => sdk.send(new DecryptCommand({ CiphertextBlob: Buffer.from(ciphertext, 'base64'), Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: doc } }));
    const r = await replay();
    expect(r.Plaintext).toBeUndefined();
    expect(r.CiphertextForRecipient?.length).toBeGreaterThan(0);
    skew = 5 * 60_000 + 5_000;
    try {
      await expect(replay()).rejects.toMatchObject({ name: 'ValidationException' });
    } finally {
      skew = 0;
    }
  });

  it('the unmodified @aws-sdk/client-kms in an enclave, through kmsHttpHandler: Decrypt answers Plaintext to the app, the host relays only the envelope', async () => {
    const k = await key(pinned({ 'kms:RecipientAttestation:ImageSha384': pcr0Sdk }, [NULL_DENY]));
    const other = new Uint8Array(randomBytes(32));
    const before = relayed.length;
    const r = await runAndAsk(imageSdk, request({ ciphertextBlob: await encrypt(k, other) }), false, 5012);
    expect(r).toMatchObject({ ok: true, keyId: k, sha256: sha256(other) });
    expect(Buffer.concat(relayed.slice(before).flatMap((c) => c.toEnclave)).toString('latin1')).toMatch(/"CiphertextForRecipient"/);
    expectNotRelayed(other);
    // The same image is denied a key pinned to another image.
    const r2 = await runAndAsk(imageSdk, request({ ciphertextBlob: await encrypt(pcr0Key, other) }), false, 5012);
    expect(r2).toMatchObject({ ok: false, name: 'AccessDeniedException' });
  });
});
