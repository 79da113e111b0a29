// A request handler for the unmodified `@aws-sdk/client-kms` inside an enclave (the smithy
// `HttpHandler` interface: `handle(request) → { response }`): requests travel as HTTP/1.1 over a
// vsock stream to the parent's vsock-proxy, as on Nitro. For the operations that take `Recipient`
// (Decrypt, GenerateDataKey, GenerateDataKeyPair, GenerateRandom, DeriveSharedSecret) a request
// without one gets one (a fresh NSM document carrying the enclave's RSA key), is signed again (the
// SDK signed the body before this handler saw it), and the answer's CiphertextForRecipient is
// opened inside the enclave and handed to the SDK as the plaintext member it expects. So code
// written for the AWS SDK, and the AWS Encryption SDK on top of it, runs unchanged while the
// parent relays only sealed bytes. A request that already carries a Recipient passes untouched.
//
//     const kms = new KMSClient({ region, credentials, requestHandler: kmsHttpHandler(ctx, { port: 8000, region, credentials }) });
import { Readable } from 'node:stream';
import type { HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/types';
import type { EnclaveServices } from '../services.ts';
import { KmsClientError } from '../errors.ts';
import { attestedTransport, RECIPIENT_OPERATIONS, type KmsClientOptions } from './kms.ts';

/** Where each operation's sealed value belongs in the response the SDK expects. */
const PLAINTEXT_MEMBER: Readonly<Record<string, string>> = {
  Decrypt: 'Plaintext',
  GenerateDataKey: 'Plaintext',
  GenerateRandom: 'Plaintext',
  GenerateDataKeyPair: 'PrivateKeyPlaintext',
  DeriveSharedSecret: 'SharedSecret',
};

/** Headers the signature covers or the transport sets: recomputed when the body changes. */
const RESIGNED = new Set(['authorization', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token', 'content-length', 'host', 'connection', 'transfer-encoding']);

export interface KmsHttpHandler {
  readonly metadata: { readonly handlerProtocol: string };
  handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }>;
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): Record<string, never>;
  destroy(): void;
}

function bodyBytes(body: unknown): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return new Uint8Array(Buffer.from(body, 'utf8'));
  if (body instanceof Uint8Array) return body;
  throw new KmsClientError('ERR_KMS_CLIENT_ARGUMENT', 'the KMS handler takes string or byte request bodies only');
}

function queryString(q: HttpRequest['query']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q ?? {})) {
    for (const x of Array.isArray(v) ? v : [v]) parts.push(x === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function response(status: number, reason: string, headers: Record<string, string>, body: Uint8Array): { response: HttpResponse } {
  const h: Record<string, string> = { ...headers, 'content-length': String(body.length) };
  delete h['transfer-encoding'];
  return { response: { statusCode: status, reason, headers: h, body: Readable.from([Buffer.from(body)]) } };
}

export function kmsHttpHandler(ctx: Pick<EnclaveServices, 'nsm' | 'vsock'>, options: KmsClientOptions): KmsHttpHandler {
  const t = attestedTransport(ctx, options);
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
    async handle(request) {
      const header = (name: string) => Object.entries(request.headers).find(([k]) => k.toLowerCase() === name)?.[1];
      const op = /^TrentService\.([A-Za-z]+)$/.exec(header('x-amz-target') ?? '')?.[1] ?? '';
      const raw = bodyBytes(request.body);
      let input: Record<string, unknown> | undefined;
      if (RECIPIENT_OPERATIONS.has(op)) {
        try {
          input = JSON.parse(Buffer.from(raw).toString('utf8')) as Record<string, unknown>;
        } catch (cause) {
          throw new KmsClientError('ERR_KMS_CLIENT_ARGUMENT', `${op} request body is not JSON`, { cause });
        }
        if (input.Recipient !== undefined && input.Recipient !== null) input = undefined; // the app's own Recipient: pass through
      }
      if (input === undefined) {
        const headers = { ...request.headers, host: request.hostname + (request.port ? `:${request.port}` : '') };
        const res = await t.exchange({ method: request.method, path: `${request.path}${queryString(request.query)}`, headers, body: raw });
        return response(res.status, res.reason, res.headers, res.body);
      }
      const kept: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) if (!RESIGNED.has(k.toLowerCase())) kept[k] = v;
      const body = new Uint8Array(Buffer.from(JSON.stringify({ ...input, Recipient: await t.recipient() }), 'utf8'));
      const host = request.hostname + (request.port ? `:${request.port}` : '');
      const res = await t.send(op, body, host, kept);
      if (res.status !== 200) return response(res.status, res.reason, res.headers, res.body);
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(Buffer.from(res.body).toString('utf8')) as Record<string, unknown>;
      } catch (cause) {
        throw new KmsClientError('ERR_KMS_CLIENT_HTTP', `the KMS answered ${op} with a body that is not JSON`, { cause });
      }
      const member = PLAINTEXT_MEMBER[op] as string;
      // A plaintext in the clear was not sealed to this enclave: the parent may have seen it.
      if (json[member] !== undefined) throw new KmsClientError('ERR_KMS_CLIENT_NOT_ATTESTED', `the KMS response carries ${member} in the clear`);
      if (typeof json.CiphertextForRecipient !== 'string') throw new KmsClientError('ERR_KMS_CLIENT_NOT_ATTESTED', `the KMS response to ${op} has no CiphertextForRecipient`);
      const plaintext = await t.open(new Uint8Array(Buffer.from(json.CiphertextForRecipient, 'base64')));
      const { CiphertextForRecipient: _sealed, ...rest } = json;
      const out = new Uint8Array(Buffer.from(JSON.stringify({ ...rest, [member]: Buffer.from(plaintext).toString('base64') }), 'utf8'));
      plaintext.fill(0);
      return response(200, res.reason, res.headers, out);
    },
  };
}
