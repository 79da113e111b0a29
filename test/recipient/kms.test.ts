// Attested requests against the KMS through the unmodified AWS SDK: Recipient on the five
// operations that take it (KMS Developer Guide, "Cryptographic attestation support in AWS KMS"),
// PCR-conditioned key policies, refused documents, and the CloudTrail-shaped audit record.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateKeyCommand,
  DecryptCommand,
  DeriveSharedSecretCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateRandomCommand,
  GetPublicKeyCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { openEnvelope } from '../../enclave/sdk/cms.ts';
import { INVALID_DOCUMENT_MESSAGE, RecipientVerifier } from '../../kms-proxy/index.ts';
import { auditRecords as records, failure, startFixture, type Fixture } from '../kms-proxy/helpers.ts';
import { allowForPcrs, denyWithoutAttestation, device, hexPcr, openAuthority, policy, random, rsa, type Authority } from './fixtures.ts';

const ACCOUNT = '111122223333';
let trusted: Authority;
let stranger: Authority;
let f: Fixture;
let kms: KMSClient;
/** Offset added to the KMS's clock (document age and certificate validity are checked against it). */
let skew = 0;

beforeAll(async () => {
  trusted = await openAuthority();
  stranger = await openAuthority();
  f = await startFixture({ clock: () => Date.now() + skew, recipient: { trustAnchors: [trusted.authority.rootCertificate] } });
  kms = f.kms;
});
afterAll(async () => {
  await f.stop();
  trusted.cleanup();
  stranger.cleanup();
});

async function doc(seed = 'A', opts: { debug?: boolean; publicKey?: Uint8Array | null; authority?: Authority } = {}): Promise<Uint8Array> {
  const d = await device((opts.authority ?? trusted).authority, seed, opts.debug ?? false);
  return d.attestation({ publicKey: opts.publicKey === undefined ? rsa.spki : opts.publicKey });
}

function recipient(document: Uint8Array) {
  return { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const, AttestationDocument: document };
}

async function key(p: string, spec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256' = 'SYMMETRIC_DEFAULT'): Promise<string> {
  const r = await kms.send(new CreateKeyCommand({ Policy: p, KeySpec: spec, KeyUsage: spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : 'KEY_AGREEMENT' }));
  return r.KeyMetadata?.Arn as string;
}

/** The audit records of every call answered so far (waits on the log's flush). */
function auditRecords(): Promise<Record<string, any>[]> {
  return records(f.server, f.dir);
}

const ALL = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', 'kms:DeriveSharedSecret'];

describe('Recipient: attested responses carry CiphertextForRecipient and no plaintext', () => {
  let arn: string;
  beforeAll(async () => {
    arn = await key(policy(ACCOUNT, allowForPcrs(ACCOUNT, ALL, { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
  });

  it('Decrypt: the envelope opens (enclave SDK and openssl cms) to the plaintext the host encrypted', async () => {
    const secret = random(32);
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: secret, EncryptionContext: { app: 'a' } }));
    const r = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { app: 'a' }, Recipient: recipient(await doc('A')) }));
    expect(r.Plaintext).toBeUndefined();
    expect(r.KeyId).toBe(arn);
    const env = r.CiphertextForRecipient as Uint8Array;
    expect(Buffer.from(openEnvelope(env, rsa.privateKey)).equals(Buffer.from(secret))).toBe(true);
    writeFileSync(join(f.dir, 'env.der'), env);
    writeFileSync(join(f.dir, 'key.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const out = execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', join(f.dir, 'env.der'), '-inkey', join(f.dir, 'key.pem')]);
    expect(Buffer.from(out).equals(Buffer.from(secret))).toBe(true);
  });

  it('GenerateDataKey: CiphertextBlob as always, the key only in the envelope; Decrypt of the blob gives the same key', async () => {
    const r = await kms.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256', Recipient: recipient(await doc('A')) }));
    expect(r.Plaintext).toBeUndefined();
    const dataKey = openEnvelope(r.CiphertextForRecipient as Uint8Array, rsa.privateKey);
    expect(dataKey.length).toBe(32);
    const again = await kms.send(new DecryptCommand({ CiphertextBlob: r.CiphertextBlob, Recipient: recipient(await doc('A')) }));
    expect(Buffer.from(openEnvelope(again.CiphertextForRecipient as Uint8Array, rsa.privateKey)).equals(Buffer.from(dataKey))).toBe(true);
  });

  it('GenerateDataKeyPair: the private key only inside the envelope, matching PublicKey', async () => {
    const r = await kms.send(new GenerateDataKeyPairCommand({ KeyId: arn, KeyPairSpec: 'ECC_NIST_P256', Recipient: recipient(await doc('A')) }));
    expect(r.PrivateKeyPlaintext).toBeUndefined();
    expect(r.PrivateKeyCiphertextBlob?.length).toBeGreaterThan(0);
    const priv = createPrivateKey({ key: Buffer.from(openEnvelope(r.CiphertextForRecipient as Uint8Array, rsa.privateKey)), format: 'der', type: 'pkcs8' });
    const pub = createPublicKey(priv).export({ type: 'spki', format: 'der' });
    expect(Buffer.from(pub).equals(Buffer.from(r.PublicKey as Uint8Array))).toBe(true);
  });

  it('GenerateRandom: the bytes only inside the envelope', async () => {
    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 48, Recipient: recipient(await doc('A')) }));
    expect(r.Plaintext).toBeUndefined();
    expect(openEnvelope(r.CiphertextForRecipient as Uint8Array, rsa.privateKey).length).toBe(48);
  });

  it('DeriveSharedSecret: the secret only inside the envelope, equal to the peer-side ECDH', async () => {
    const ecKey = await key(policy(ACCOUNT, allowForPcrs(ACCOUNT, ALL, { 'kms:RecipientAttestation:PCR0': hexPcr('A', 0) })), 'ECC_NIST_P256');
    const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const r = await kms.send(
      new DeriveSharedSecretCommand({ KeyId: ecKey, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicKey.export({ type: 'spki', format: 'der' }), Recipient: recipient(await doc('A')) }),
    );
    expect(r.SharedSecret).toBeUndefined();
    const kmsPub = await kms.send(new GetPublicKeyCommand({ KeyId: ecKey }));
    const expected = diffieHellman({ privateKey: peer.privateKey, publicKey: createPublicKey({ key: Buffer.from(kmsPub.PublicKey as Uint8Array), format: 'der', type: 'spki' }) });
    expect(Buffer.from(openEnvelope(r.CiphertextForRecipient as Uint8Array, rsa.privateKey)).equals(expected)).toBe(true);
  });

  it('audit: additionalEventData.recipient names module id, image digest and PCRs as CloudTrail does, plus the deciding statement; no secrets', async () => {
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: random(16) }));
    await kms.send(new DecryptCommand({ CiphertextBlob, Recipient: recipient(await doc('A')) }));
    const rec = (await auditRecords()).filter((r) => r.eventName === 'Decrypt').at(-1) as Record<string, any>;
    expect(rec.additionalEventData.recipient).toEqual({
      attestationDocumentModuleId: expect.stringMatching(/^i-0123456789abcdef0-encA/),
      attestationDocumentEnclaveImageDigest: hexPcr('A', 0),
      attestationDocumentEnclavePCR1: hexPcr('A', 1),
      attestationDocumentEnclavePCR2: hexPcr('A', 2),
      attestationDocumentEnclavePCR3: '0'.repeat(96),
      attestationDocumentEnclavePCR4: '0'.repeat(96),
      attestationDocumentEnclavePCR8: '0'.repeat(96),
    });
    expect(rec.additionalEventData.authorization).toEqual({ effect: 'Allow', decidedBy: { kind: 'statement', index: 1, sid: 'EnclaveOnly' } });
    expect(JSON.stringify(rec)).not.toMatch(/ciphertextForRecipient|attestationDocument"/i);
  });
});

describe('PCR-conditioned key policies', () => {
  it('another image (PCR0 differs) is AccessDeniedException; PCR0+PCR1+PCR2 policy allows only the exact enclave', async () => {
    const arn = await key(
      policy(ACCOUNT, allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:PCR0': hexPcr('A', 0), 'kms:RecipientAttestation:PCR1': hexPcr('A', 1), 'kms:RecipientAttestation:PCR2': hexPcr('A', 2) })),
    );
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: random(16) }));
    const ok = await kms.send(new DecryptCommand({ CiphertextBlob, Recipient: recipient(await doc('A')) }));
    expect(ok.CiphertextForRecipient).toBeDefined();
    const docB = await doc('B');
    const e = await failure(() => kms.send(new DecryptCommand({ CiphertextBlob, Recipient: recipient(docB) })));
    expect(e.name).toBe('AccessDeniedException');
  });

  it('a debug-mode document (PCR0–2 zero) is verified but never matches a PCR-pinned policy', async () => {
    const arn = await key(policy(ACCOUNT, allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: random(16) }));
    const debugDoc = await doc('A', { debug: true });
    const e = await failure(() => kms.send(new DecryptCommand({ CiphertextBlob, Recipient: recipient(debugDoc) })));
    expect(e.name).toBe('AccessDeniedException');
    const rec = (await auditRecords()).filter((r) => r.eventName === 'Decrypt').at(-1) as Record<string, any>;
    expect(rec.additionalEventData.recipient.attestationDocumentEnclaveImageDigest).toBe('0'.repeat(96));
  });

  it('a broad allow lets the host decrypt without Recipient; the Null deny statement closes that bypass', async () => {
    const broad = { Sid: 'Broad', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:Decrypt', Resource: '*' };
    const open = await key(policy(ACCOUNT, broad, allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
    const secret = random(16);
    const c1 = (await kms.send(new EncryptCommand({ KeyId: open, Plaintext: secret }))).CiphertextBlob;
    const plain = await kms.send(new DecryptCommand({ CiphertextBlob: c1 }));
    expect(Buffer.from(plain.Plaintext as Uint8Array).equals(Buffer.from(secret))).toBe(true);

    const hardened = await key(policy(ACCOUNT, broad, denyWithoutAttestation(ACCOUNT, 'kms:Decrypt'), allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
    const c2 = (await kms.send(new EncryptCommand({ KeyId: hardened, Plaintext: secret }))).CiphertextBlob;
    const e = await failure(() => kms.send(new DecryptCommand({ CiphertextBlob: c2 })));
    expect(e.name).toBe('AccessDeniedException');
    expect(e.message).toMatch(/explicit deny/);
    const rec = (await auditRecords()).filter((r) => r.eventName === 'Decrypt').at(-1) as Record<string, any>;
    expect(rec.additionalEventData.authorization).toEqual({ effect: 'ExplicitDeny', decidedBy: { kind: 'statement', index: 2, sid: 'DenyWithoutAttestation' } });
    // The enclave still gets it.
    const ok = await kms.send(new DecryptCommand({ CiphertextBlob: c2, Recipient: recipient(await doc('A')) }));
    expect(Buffer.from(openEnvelope(ok.CiphertextForRecipient as Uint8Array, rsa.privateKey)).equals(Buffer.from(secret))).toBe(true);
  });
});

describe('refused documents: ValidationException with a fixed message, the reason in the audit log only', () => {
  let arn: string;
  let blob: Uint8Array;
  beforeAll(async () => {
    arn = await key(policy(ACCOUNT, allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
    blob = (await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: random(16) }))).CiphertextBlob as Uint8Array;
  });

  async function refused(document: Uint8Array, code: string, at = 0): Promise<void> {
    skew = at;
    try {
      const e = await failure(() => kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: recipient(document) })));
      expect(e.name).toBe('ValidationException');
      expect(e.message).toBe(INVALID_DOCUMENT_MESSAGE);
      expect(e.message).not.toContain('ERR_');
    } finally {
      skew = 0;
    }
    const rec = (await auditRecords()).filter((r) => r.eventName === 'Decrypt').at(-1) as Record<string, any>;
    expect(rec.errorCode).toBe('ValidationException');
    expect(rec.additionalEventData.reason).toMatch(new RegExp(`^${code}`));
  }

  it('from another root (ERR_ATTESTATION_UNTRUSTED_ROOT)', async () => refused(await doc('A', { authority: stranger }), 'ERR_ATTESTATION_UNTRUSTED_ROOT'));
  it('replayed past the maximum age of 5 minutes (ERR_ATTESTATION_TOO_OLD)', async () => refused(await doc('A'), 'ERR_ATTESTATION_TOO_OLD', 5 * 60_000 + 1000));
  it('whose leaf certificate has expired (ERR_ATTESTATION_EXPIRED)', async () => refused(await doc('A'), 'ERR_ATTESTATION_EXPIRED', 4 * 3600_000));
  it('with a public_key that is not RSA (ERR_RECIPIENT_KEY)', async () => {
    const ec = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    await refused(await doc('A', { publicKey: ec }), 'ERR_RECIPIENT_KEY');
  });
  it('with an RSA key below 2048 bits (ERR_RECIPIENT_KEY)', async () => {
    const small = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }));
    await refused(await doc('A', { publicKey: small }), 'ERR_RECIPIENT_KEY');
  });
  it('with no public_key (ERR_RECIPIENT_KEY)', async () => refused(await doc('A', { publicKey: null }), 'ERR_RECIPIENT_KEY'));
  it('with a bad signature (ERR_ATTESTATION_SIGNATURE)', async () => {
    const d = await doc('A');
    d[d.length - 5] = (d[d.length - 5] as number) ^ 0x01; // inside the ES384 signature, the COSE_Sign1's last member
    await refused(d, 'ERR_ATTESTATION_SIGNATURE');
  });
  it('that is not a document at all (ERR_ATTESTATION_MALFORMED)', async () => refused(random(64), 'ERR_ATTESTATION_MALFORMED'));
  it('a Recipient without an AttestationDocument (ERR_RECIPIENT_NO_DOCUMENT)', async () => {
    const e = await failure(() => kms.send(new DecryptCommand({ CiphertextBlob: blob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' } })));
    expect(e.name).toBe('ValidationException');
    const rec = (await auditRecords()).filter((r) => r.eventName === 'Decrypt').at(-1) as Record<string, any>;
    expect(rec.additionalEventData.reason).toMatch(/^ERR_RECIPIENT_NO_DOCUMENT/);
  });
});

describe('recipient keys', () => {
  it('each document\'s own key gets the envelope, also when keys alternate (parsed keys are cached by SPKI)', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const otherSpki = new Uint8Array(other.publicKey.export({ type: 'spki', format: 'der' }));
    for (const [pub, priv] of [[rsa.spki, rsa.privateKey], [otherSpki, other.privateKey], [rsa.spki, rsa.privateKey]] as const) {
      const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32, Recipient: recipient(await doc('A', { publicKey: pub })) }));
      const env = r.CiphertextForRecipient as Uint8Array;
      expect(openEnvelope(env, priv).length).toBe(32);
      expect(() => openEnvelope(env, priv === rsa.privateKey ? other.privateKey : rsa.privateKey)).toThrow(expect.objectContaining({ code: 'ERR_CMS_INVALID' }));
    }
  });
});

describe('grants and attested requests', () => {
  it('a grant allows its grantee with or without a Recipient (grants carry no attestation conditions); the policy\'s Null deny still wins; GenerateDataKeyPair honours the grant\'s context constraint', async () => {
    const { CreateGrantCommand } = await import('@aws-sdk/client-kms');
    const { client } = await import('../kms-proxy/helpers.ts');
    const admin = { accessKeyId: 'AKIAADMIN0000000001', secretAccessKey: 'admin-secret', principalArn: `arn:aws:iam::${ACCOUNT}:user/admin`, account: ACCOUNT };
    const app = { accessKeyId: 'AKIAAPP000000000001', secretAccessKey: 'app-secret', principalArn: `arn:aws:iam::${ACCOUNT}:role/app`, account: ACCOUNT };
    const g = await startFixture({ credentials: [admin, app], recipient: { trustAnchors: [trusted.authority.rootCertificate] } });
    const asApp = client(g.server, app);
    try {
      const onlyAdmin = (extra: object[] = []) =>
        JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Admin', Effect: 'Allow', Principal: { AWS: admin.principalArn }, Action: 'kms:*', Resource: '*' }, ...extra] });
      const denyApp = { Sid: 'DenyWithoutAttestation', Effect: 'Deny', Principal: { AWS: app.principalArn }, Action: ['kms:Decrypt', 'kms:GenerateDataKeyPair'], Resource: '*', Condition: { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } } };
      for (const [p, hardened] of [[onlyAdmin(), false], [onlyAdmin([denyApp]), true]] as const) {
        const id = (await g.kms.send(new CreateKeyCommand({ Policy: p }))).KeyMetadata?.KeyId as string;
        await g.kms.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: app.principalArn, Operations: ['Decrypt', 'GenerateDataKeyPair'], Constraints: { EncryptionContextSubset: { tenant: 't1' } } }));
        const blob = (await g.kms.send(new EncryptCommand({ KeyId: id, Plaintext: random(16), EncryptionContext: { tenant: 't1' } }))).CiphertextBlob;
        const attested = await asApp.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { tenant: 't1' }, Recipient: recipient(await doc('B')) }));
        expect(attested.CiphertextForRecipient).toBeDefined();
        const pair = await asApp.send(new GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: { tenant: 't1' }, Recipient: recipient(await doc('B')) }));
        expect(pair.CiphertextForRecipient).toBeDefined();
        const docB = await doc('B');
        expect((await failure(() => asApp.send(new GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'ECC_NIST_P256', EncryptionContext: { tenant: 't2' }, Recipient: recipient(docB) })))).name).toBe('AccessDeniedException');
        const bare = asApp.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { tenant: 't1' } }));
        if (hardened) expect((await failure(() => bare)).name).toBe('AccessDeniedException');
        else expect((await bare).Plaintext?.length).toBe(16);
      }
    } finally {
      asApp.destroy();
      await g.stop();
    }
  });
});

describe('trust anchor configuration', () => {
  it('default: the sandbox root read from <sandboxDataDir>/pki/root.pem; none there → ValidationException (ERR_RECIPIENT_NO_TRUST_ANCHOR)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const empty = mkdtempSync(join(tmpdir(), 'no-pki-'));
    const byDir = await startFixture({ recipient: { sandboxDataDir: trusted.dir } });
    const none = await startFixture({ recipient: { sandboxDataDir: empty } });
    let later = 0;
    const withAws = await startFixture({ clock: () => Date.now() + later, recipient: { sandboxDataDir: trusted.dir, awsNitroRoot: true, maxAgeMs: 1000 } });
    try {
      const d = await doc('A');
      const ok = await byDir.kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: recipient(d) }));
      expect(ok.CiphertextForRecipient).toBeDefined();
      const e = await failure(() => none.kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: recipient(d) })));
      expect(e.name).toBe('ValidationException');
      const last = (await records(none.server, none.dir)).at(-1);
      expect(last?.additionalEventData.reason).toMatch(/^ERR_RECIPIENT_NO_TRUST_ANCHOR/);
      // A host started later creates the sandbox root there: the running KMS picks it up.
      const { AttestationAuthority } = await import('../../attestation/index.ts');
      const late = await AttestationAuthority.open({ dataDir: empty });
      const lateDoc = await (await late.createDevice({ moduleId: 'i-0123456789abcdef0-enc0late000000000', measurements: new Map([[0, new Uint8Array(48)]]) })).attestation({ publicKey: rsa.spki });
      expect((await none.kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: recipient(lateDoc) }))).CiphertextForRecipient).toBeDefined();
      // Adding AWS's root keeps the sandbox root; maxAgeMs is honoured (1 s).
      expect((await withAws.kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: recipient(await doc('A')) }))).CiphertextForRecipient).toBeDefined();
      const old = await doc('A');
      later = 1100;
      expect((await failure(() => withAws.kms.send(new GenerateRandomCommand({ NumberOfBytes: 8, Recipient: recipient(old) })))).name).toBe('ValidationException');
      const stale = (await records(withAws.server, withAws.dir)).at(-1);
      expect(stale?.additionalEventData.reason).toMatch(/^ERR_ATTESTATION_TOO_OLD/);
    } finally {
      await byDir.stop();
      await none.stop();
      await withAws.stop();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('a trust anchor that is not a certificate is refused at start-up', async () => {
    await expect(startFixture({ recipient: { trustAnchors: ['not a certificate'] } })).rejects.toThrow(/not a certificate/);
  });

  it('a maximum document age that is not a positive number is refused when the verifier is made', () => {
    for (const maxAgeMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RecipientVerifier({ maxAgeMs, trustAnchors: [trusted.authority.rootCertificate] })).toThrow(new RangeError(`maxAgeMs must be positive, got ${maxAgeMs}`));
    }
    expect(new RecipientVerifier({ maxAgeMs: 1, trustAnchors: [trusted.authority.rootCertificate] }).maxAgeMs).toBe(1);
  });

  it('kms serve: unreadable --trust-anchor and out-of-range --attestation-max-age are usage errors (exit 2)', async () => {
    const { main } = await import('../../host/cli/main.ts');
    const io = { out: () => undefined, err: () => undefined };
    expect(await main(['kms', 'serve', '--port', '0', '--data-dir', join(f.dir, 'x'), '--trust-anchor', join(f.dir, 'missing.pem')], io)).toBe(2);
    expect(await main(['kms', 'serve', '--port', '0', '--data-dir', join(f.dir, 'x'), '--attestation-max-age', '0'], io)).toBe(2);
  });
});
