// The example enclave apps, built into images and run in real isolated enclaves.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex, verifyAttestation } from '../../attestation/index.ts';
import { buildImage } from '../../enclave/index.ts';
import { Host } from '../../host/index.ts';
import { tempDir } from '../attestation/fixtures.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = tempDir();
let host: Host;
beforeAll(async () => {
  host = await Host.start({ dataDir: dir.path });
});
afterAll(async () => {
  await host?.stop();
  dir.cleanup();
});

describe('examples/echo-server', () => {
  it('echoes 4 MiB intact over the vsock channel', async () => {
    const { image } = await buildImage({ entry: join(root, 'examples/echo-server/main.ts') });
    const r = await host.runEnclave(image, { memoryMiB: 256 });
    const payload = randomBytes(4 << 20);
    const back = await host.request(r.EnclaveCID, 5005, payload);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    await host.terminate({ id: r.EnclaveID });
  });
});

describe('examples/attestation-responder', () => {
  it("answers with a document bound to the caller's nonce, carrying the image's PCRs", async () => {
    const { image, measurements } = await buildImage({ entry: join(root, 'examples/attestation-responder/main.ts') });
    const r = await host.runEnclave(image, { memoryMiB: 256 });
    const nonce = randomBytes(32);
    const doc = new Uint8Array(await host.request(r.EnclaveCID, 5006, nonce));
    const { document } = verifyAttestation(doc, {
      trustAnchors: [host.authority.rootCertificate],
      expectedNonce: nonce,
      expectedPcrs: { 0: measurements.pcr0, 1: measurements.pcr1, 2: measurements.pcr2 },
      maxAgeMs: 60_000,
    });
    expect(document.moduleId).toBe(r.EnclaveID);
    // another nonce does not verify against this one: the binding is real
    expect(() => verifyAttestation(doc, { trustAnchors: [host.authority.rootCertificate], expectedNonce: randomBytes(32) })).toThrow(
      expect.objectContaining({ code: 'ERR_NONCE_MISMATCH' }),
    );
    expect(toHex(document.pcrs.get(4)!)).toHaveLength(96); // PCR4: the parent instance id
    await host.terminate({ id: r.EnclaveID });
  });

  it('answers an empty nonce with nothing, and a nonce past 64 bytes by resetting the connection', async () => {
    const { image } = await buildImage({ entry: join(root, 'examples/attestation-responder/main.ts') });
    const r = await host.runEnclave(image, { memoryMiB: 256 });
    expect(await host.request(r.EnclaveCID, 5006)).toHaveLength(0);
    expect(await host.request(r.EnclaveCID, 5006, randomBytes(64))).not.toHaveLength(0);
    await expect(host.request(r.EnclaveCID, 5006, randomBytes(65))).rejects.toMatchObject({ code: 'ECONNRESET' });
    await host.terminate({ id: r.EnclaveID });
  });

  it('in debug mode, documents carry zero PCR0–2 and are refused unless debug is allowed', async () => {
    const { image } = await buildImage({ entry: join(root, 'examples/attestation-responder/main.ts') });
    const r = await host.runEnclave(image, { memoryMiB: 256, debugMode: true });
    const doc = new Uint8Array(await host.request(r.EnclaveCID, 5006, randomBytes(16)));
    expect(() => verifyAttestation(doc, { trustAnchors: [host.authority.rootCertificate] })).toThrow(expect.objectContaining({ code: 'ERR_DEBUG_MODE_NOT_ALLOWED' }));
    expect(verifyAttestation(doc, { trustAnchors: [host.authority.rootCertificate], allowDebug: true }).debug).toBe(true);
    await host.terminate({ id: r.EnclaveID });
  });
});

describe('examples/conditional-decrypt', () => {
  it('answers a request it cannot serve with a typed error (ERR_JSON_REQUEST_INVALID), before calling the KMS', async () => {
    const { image } = await buildImage({ entry: join(root, 'examples/conditional-decrypt/main.ts') });
    const r = await host.runEnclave(image, { memoryMiB: 256 });
    const ask = async (req: object) => JSON.parse((await host.request(r.EnclaveCID, 5010, JSON.stringify(req))).toString('utf8')) as Record<string, unknown>;
    const base = { region: 'us-east-1', credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'x' }, kmsPort: 8000 };
    const refused = { ok: false, app: 'conditional-decrypt/1', name: 'JsonRequestError', code: 'ERR_JSON_REQUEST_INVALID' };
    expect(await ask({ ...base, op: 'encrypt' })).toMatchObject({ ...refused, message: expect.stringContaining('encrypt') });
    for (const notObject of [null, 5, []]) expect(await ask(notObject as object), JSON.stringify(notObject)).toMatchObject({ ...refused, message: expect.stringContaining('JSON object') });
    for (const repeat of ['3', 0, 1.5, -1, 10_001]) {
      expect(await ask({ ...base, op: 'decrypt', ciphertextBlob: 'AAAA', repeat }), String(repeat)).toMatchObject({ ...refused, message: expect.stringContaining('repeat') });
    }
    await host.terminate({ id: r.EnclaveID });
  });
});

describe('examples/escape-probe', () => {
  it('answers targets that are not JSON with ERR_JSON_REQUEST_INVALID and keeps serving', async () => {
    const { image } = await buildImage({ entry: join(root, 'examples/escape-probe/main.ts') });
    const r = await host.runEnclave(image, { memoryMiB: 256 });
    for (let i = 0; i < 2; i++) {
      const answer = JSON.parse((await host.request(r.EnclaveCID, 5005, '{not json')).toString('utf8')) as Record<string, unknown>;
      expect(answer).toMatchObject({ ok: false, code: 'ERR_JSON_REQUEST_INVALID' });
    }
    await host.terminate({ id: r.EnclaveID });
  });
});
