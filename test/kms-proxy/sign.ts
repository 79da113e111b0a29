// Signs raw requests with @smithy/signature-v4 (the SDK's own signer, independent of the server's
// verifier) for protocol-level tests that bypass the SDK client.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credential } from '../../kms-proxy/index.ts';

function bytesOf(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

class NodeSha256 {
  readonly #h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#h.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
}

export interface SignOptions {
  readonly target?: string;
  readonly date?: Date;
  readonly host?: string;
  readonly region?: string;
  readonly contentType?: string;
  /** More headers to send (signed unless named in `unsigned`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Headers the signer must leave out of SignedHeaders (smithy's `unsignableHeaders`). */
  readonly unsigned?: readonly string[];
}

/** Returns a signed fetch Request for `body` to the KMS at `url`. */
export async function signedRequest(cred: Pick<Credential, 'accessKeyId' | 'secretAccessKey'>, body: string | Uint8Array, o: SignOptions = {}): Promise<{ url: string; init: RequestInit & { headers: Record<string, string> } }> {
  const host = o.host ?? 'localhost';
  const signer = new SignatureV4({
    credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey },
    region: o.region ?? 'us-east-1',
    service: 'kms',
    sha256: NodeSha256,
  });
  const headers: Record<string, string> = { host, 'content-type': o.contentType ?? 'application/x-amz-json-1.1', ...o.headers };
  if (o.target !== undefined) headers['x-amz-target'] = o.target;
  const signed = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: host, path: '/', headers, body },
    { ...(o.date ? { signingDate: o.date } : {}), ...(o.unsigned ? { unsignableHeaders: new Set(o.unsigned) } : {}) },
  );
  return { url: `http://${host}/`, init: { method: 'POST', headers: signed.headers as Record<string, string>, body: typeof body === 'string' ? body : Buffer.from(body) } };
}
