// Durability under kill -9: a child KMS under concurrent write load is killed with SIGKILL several
// times; after restart, every acknowledged CreateKey, PutKeyPolicy and ImportKeyMaterial is there,
// every acknowledged
// ciphertext decrypts, and the audit chain still verifies (the store commits with WAL +
// synchronous=FULL before answering).
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GetKeyPolicyCommand, GetParametersForImportCommand, ImportKeyMaterialCommand, KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { afterAll, expect, test } from 'vitest';
import { verifyAuditLog, type Credential } from '../../kms-proxy/index.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('kms-crash-');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startChild(): Promise<{ child: ChildProcess; kms: KMSClient }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./crash-child.ts', import.meta.url)), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const { endpoint, credential } = JSON.parse(line) as { endpoint: string; credential: Credential };
  const kms = new KMSClient({ endpoint, region: 'us-east-1', credentials: credential, maxAttempts: 1 });
  return { child, kms };
}

function policyFor(tag: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: tag, Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' }],
  });
}

test('acknowledged writes survive SIGKILL, three times over', async () => {
  const keys = new Set<string>();
  /** key → policies in the order sent; the acknowledged prefix length. */
  const policies = new Map<string, { sent: string[]; acked: number }>();
  const ciphertexts: { blob: Uint8Array; plaintext: Buffer }[] = [];
  const imported = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const { child, kms } = await startChild();
    let stop = false;
    const worker = async (w: number) => {
      let i = 0;
      while (!stop) {
        try {
          const id = (await kms.send(new CreateKeyCommand({ Description: `r${round}w${w}` }))).KeyMetadata?.KeyId;
          if (!id) continue;
          keys.add(id);
          const p = { sent: [] as string[], acked: 0 };
          policies.set(id, p);
          for (let n = 0; n < 2; n++) {
            const text = policyFor(`r${round}w${w}i${i}n${n}`);
            p.sent.push(text);
            await kms.send(new PutKeyPolicyCommand({ KeyId: id, Policy: text }));
            p.acked = p.sent.length;
          }
          const plaintext = randomBytes(32);
          const e = await kms.send(new EncryptCommand({ KeyId: id, Plaintext: plaintext }));
          if (e.CiphertextBlob) ciphertexts.push({ blob: e.CiphertextBlob, plaintext });
          if (i % 2 === w % 2) {
            const ext = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata?.KeyId ?? '';
            const p = await kms.send(new GetParametersForImportCommand({ KeyId: ext, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
            const pub = createPublicKey({ key: Buffer.from(p.PublicKey ?? []), format: 'der', type: 'spki' });
            const wrapped = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, randomBytes(32));
            await kms.send(new ImportKeyMaterialCommand({ KeyId: ext, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }));
            imported.add(ext);
            const pt = randomBytes(16);
            const c = await kms.send(new EncryptCommand({ KeyId: ext, Plaintext: pt }));
            if (c.CiphertextBlob) ciphertexts.push({ blob: c.CiphertextBlob, plaintext: pt });
          }
          i++;
        } catch {
          return; // the server died under us: stop this worker
        }
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    // Kill mid-load, once this round has some acknowledged writes (and, in the first round, an
    // acknowledged import), so the test does not depend on the machine's speed.
    const keysBefore = keys.size;
    const started = Date.now();
    while (Date.now() - started < 15_000) {
      await new Promise((r) => setTimeout(r, 50));
      const enough = keys.size - keysBefore >= 3 && (round > 0 || imported.size > 0);
      if (enough && Date.now() - started >= 300 + round * 100) break;
    }
    child.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    kms.destroy();
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  }
  expect(keys.size).toBeGreaterThan(5);
  expect(imported.size).toBeGreaterThan(0);
  const { child, kms } = await startChild();
  for (const id of keys) expect((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyId).toBe(id);
  for (const [id, p] of policies) {
    if (p.acked === 0) continue;
    const stored = (await kms.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy ?? '';
    // The last acknowledged policy, or one sent after it whose answer was lost in the kill.
    expect(p.sent.slice(p.acked - 1)).toContain(stored);
  }
  for (const id of imported) expect((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyState).toBe('Enabled');
  for (const c of ciphertexts) {
    const d = await kms.send(new DecryptCommand({ CiphertextBlob: c.blob }));
    expect(Buffer.from(d.Plaintext ?? []).equals(c.plaintext)).toBe(true);
  }
  kms.destroy();
  child.kill('SIGKILL');
  expect((await verifyAuditLog(dir)).ok).toBe(true);
});
