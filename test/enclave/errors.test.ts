// One error hierarchy for the enclave folder: the image, envelope, vsock, session and SDK errors all
// extend EnclaveError (so a caller can catch the folder's errors as one) and keep their own codes.
import { generateKeyPairSync } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EnclaveError, envelope, readAll, sdk, VsockError } from '../../enclave/index.ts';
import { openEnvelope } from '../../enclave/sdk/cms.ts';

async function caught(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('enclave error hierarchy', () => {
  it('envelope errors are EnclaveErrors with their ERR_ENVELOPE_ codes', async () => {
    const e = await caught(() => envelope.decrypt(new envelope.InMemoryDataKeyProvider(), Buffer.from('not an envelope at all, not even close')));
    expect(e).toBeInstanceOf(envelope.EnvelopeError);
    expect(e).toBeInstanceOf(EnclaveError);
    expect(e).toMatchObject({ code: 'ERR_ENVELOPE_BAD_HEADER', name: 'EnvelopeBadHeaderError' });
  });

  it('vsock errors are EnclaveErrors with their own codes', async () => {
    const s = new PassThrough();
    const p = readAll(s, { maxBytes: 1 });
    s.write(Buffer.from('ab'));
    const e = await caught(() => p);
    expect(e).toBeInstanceOf(VsockError);
    expect(e).toBeInstanceOf(EnclaveError);
    expect(e).toMatchObject({ code: 'ERR_VSOCK_READ_TOO_LARGE', name: 'VsockError' });
  });

  it('CMS errors are EnclaveErrors with ERR_CMS_INVALID', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const e = await caught(() => openEnvelope(new Uint8Array([0x30, 0x00]), privateKey));
    expect(e).toBeInstanceOf(EnclaveError);
    expect(e).toMatchObject({ code: 'ERR_CMS_INVALID', name: 'CmsError' });
  });

  it('KMS client and service errors are EnclaveErrors; the service error keeps AWS name and status', async () => {
    const ctx = { nsm: { request: async () => new Uint8Array() }, vsock: { listen: () => { throw new Error('unused'); }, connect: () => Promise.reject(new Error('unused')) } };
    const e = await caught(() => sdk.kmsClient(ctx as never, { port: -1, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }));
    expect(e).toBeInstanceOf(sdk.KmsClientError);
    expect(e).toBeInstanceOf(EnclaveError);
    expect(e).toMatchObject({ code: 'ERR_KMS_CLIENT_ARGUMENT', name: 'KmsClientError' });
    const s = new sdk.KmsServiceError('AccessDeniedException', 'denied', 400);
    expect(s).toBeInstanceOf(EnclaveError);
    expect(s).toMatchObject({ code: 'ERR_KMS_SERVICE', name: 'AccessDeniedException', status: 400, message: 'denied' });
  });
});
