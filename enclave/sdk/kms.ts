// The enclave's KMS client, as the Nitro Enclaves SDK's kms client works: an RSA-2048 key pair made
// inside the enclave, an attestation document from the NSM carrying its public key, the request
// sent with `Recipient` (SigV4-signed awsJson1_1, HTTP/1.1 over a vsock stream to the parent's
// vsock-proxy, which forwards it to the KMS), and the CMS envelope opened inside. Plaintext reaches
// the app only; the parent relays bytes it cannot read.
//
// Light on purpose: node:crypto and the NSM protocol entry of attestation/ are static imports; the
// CMS reader (@peculiar/asn1-*) and @smithy/signature-v4 are loaded on first use with import(), so
// an app that imports the SDK index only for `nsmClient` does not bundle them (esbuild drops a
// dynamically imported module whose import() is unreachable; CommonJS packages imported statically
// cannot be tree-shaken). HTTP/1.1 is written by hand because the enclave has no network
// permission for node:http, and one request/response per connection with Content-Length or
// chunked bodies is all the KMS exchange needs.
import { createHash, createHmac, generateKeyPair, type KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { KmsClientError, KmsServiceError } from '../errors.ts';
import { nsmClient } from './nsm.ts';
import type { EnclaveServices } from '../services.ts';

/** Operations that take `Recipient` (KMS Developer Guide, "Cryptographic attestation support"). */
export const RECIPIENT_OPERATIONS: ReadonlySet<string> = new Set(['Decrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateRandom', 'DeriveSharedSecret']);

/** Responses larger than this are refused: the KMS never sends one, a hostile parent might. */
const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The enclave's recipient key: RSA private key and its SubjectPublicKeyInfo (DER). */
export interface RecipientKeyPair {
  readonly privateKey: KeyObject;
  readonly spki: Uint8Array;
}

/** Makes an RSA-2048 key pair inside the enclave (the size AWS's Nitro Enclaves SDK uses). */
export function generateRecipientKeyPair(): Promise<RecipientKeyPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => {
      if (err) reject(err);
      else resolve({ privateKey, spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })) });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 over a vsock stream

export interface HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface HttpResult {
  readonly status: number;
  readonly reason: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

function indexOfCrlfCrlf(b: Buffer): number {
  return b.indexOf('\r\n\r\n');
}

function decodeChunked(b: Buffer): Buffer | undefined {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) return undefined;
    const sizeText = b.subarray(i, eol).toString('latin1').split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new KmsClientError('ERR_KMS_CLIENT_HTTP', 'malformed chunk size');
    const size = parseInt(sizeText, 16);
    const start = eol + 2;
    if (size === 0) return Buffer.concat(out);
    if (b.length < start + size + 2) return undefined;
    out.push(b.subarray(start, start + size));
    i = start + size + 2;
  }
}

/** Sends one request on `conn` (Connection: close) and reads one response. */
export function httpOverStream(conn: Duplex, req: HttpExchange, timeoutMs = 30_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let head: { status: number; reason: string; headers: Record<string, string>; bodyStart: number } | undefined;
    let done = false;
    const finish = (err: Error | undefined, result?: HttpResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.removeAllListeners('data');
      conn.destroy();
      if (err) reject(err);
      else resolve(result as HttpResult);
    };
    const timer = setTimeout(() => finish(new KmsClientError('ERR_KMS_CLIENT_TRANSPORT', `no response within ${timeoutMs} ms`)), timeoutMs);
    // Reset before we got it (a RESET in the same read as the ACCEPT): no event will come.
    if (conn.destroyed) return finish(new KmsClientError('ERR_KMS_CLIENT_TRANSPORT', 'the vsock connection was reset before the request was sent', { cause: conn.errored }));
    const tryComplete = (ended: boolean) => {
      if (!head) {
        const end = indexOfCrlfCrlf(buf);
        if (end < 0) {
          if (ended) finish(new KmsClientError('ERR_KMS_CLIENT_TRANSPORT', 'the connection closed before a response arrived (is the vsock-proxy running and allowed to reach the KMS?)'));
          return;
        }
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
        if (!m) return finish(new KmsClientError('ERR_KMS_CLIENT_HTTP', 'malformed HTTP status line'));
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const c = line.indexOf(':');
          if (c <= 0) return finish(new KmsClientError('ERR_KMS_CLIENT_HTTP', 'malformed HTTP header'));
          headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
        }
        head = { status: Number(m[1]), reason: m[2] ?? '', headers, bodyStart: end + 4 };
      }
      const body = buf.subarray(head.bodyStart);
      const te = head.headers['transfer-encoding'];
      const cl = head.headers['content-length'];
      let complete: Buffer | undefined;
      try {
        if (te !== undefined && /chunked/i.test(te)) complete = decodeChunked(body);
        else if (cl !== undefined) {
          if (!/^\d{1,9}$/.test(cl)) return finish(new KmsClientError('ERR_KMS_CLIENT_HTTP', 'malformed Content-Length'));
          if (body.length >= Number(cl)) complete = body.subarray(0, Number(cl));
        } else if (ended) complete = body;
      } catch (e) {
        return finish(e as Error);
      }
      if (complete) finish(undefined, { status: head.status, reason: head.reason, headers: head.headers, body: new Uint8Array(complete) });
      else if (ended) finish(new KmsClientError('ERR_KMS_CLIENT_TRANSPORT', 'the connection closed in the middle of the response'));
    };
    conn.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > MAX_RESPONSE_BYTES) return finish(new KmsClientError('ERR_KMS_CLIENT_HTTP', `response larger than ${MAX_RESPONSE_BYTES} bytes`));
      tryComplete(false);
    });
    conn.on('end', () => tryComplete(true));
    conn.on('error', (e: Error) => finish(new KmsClientError('ERR_KMS_CLIENT_TRANSPORT', `vsock connection failed: ${e.message}`, { cause: e })));
    const lines = [`${req.method} ${req.path} HTTP/1.1`];
    for (const [k, v] of Object.entries(req.headers)) {
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) return finish(new KmsClientError('ERR_KMS_CLIENT_ARGUMENT', `header ${k} contains a line break`));
      if (k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'connection') lines.push(`${k}: ${v}`);
    }
    lines.push(`Content-Length: ${req.body.length}`, 'Connection: close', '', '');
    conn.write(Buffer.from(lines.join('\r\n'), 'latin1'));
    conn.write(req.body);
  });
}

// ---------------------------------------------------------------------------------------------
// SigV4 with node:crypto as the hash

class NodeSha256 {
  #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  readonly #secret: Uint8Array | undefined;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#secret = secret === undefined ? undefined : toBytes(secret);
    this.#h = this.#fresh();
  }
  #fresh() {
    return this.#secret ? createHmac('sha256', this.#secret) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#h.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {
    this.#h = this.#fresh();
  }
}

function toBytes(d: string | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typeof d === 'string') return new Uint8Array(Buffer.from(d, 'utf8'));
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return new Uint8Array(d);
}

export interface SignedRequestInput {
  readonly credentials: Credentials;
  readonly region: string;
  readonly host: string;
  readonly target: string;
  readonly body: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  readonly path?: string;
}

let sigv4: Promise<typeof import('@smithy/signature-v4')> | undefined;
let cms: Promise<typeof import('./cms.ts')> | undefined;

/** SigV4-signs an awsJson1_1 KMS request (service `kms`) for `host`. */
export async function signKmsRequest(input: SignedRequestInput): Promise<HttpExchange> {
  const { SignatureV4 } = await (sigv4 ??= import('@smithy/signature-v4'));
  const signer = new SignatureV4({ credentials: input.credentials, region: input.region, service: 'kms', sha256: NodeSha256, applyChecksum: false });
  const headers: Record<string, string> = {
    ...input.headers,
    host: input.host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': `TrentService.${input.target}`,
    'content-length': String(input.body.length),
  };
  const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: input.host, path: input.path ?? '/', query: {}, headers, body: input.body });
  return { method: 'POST', path: input.path ?? '/', headers: signed.headers as Record<string, string>, body: input.body };
}

// ---------------------------------------------------------------------------------------------
// The client

export interface KmsClientOptions {
  /** The parent's vsock port where a vsock-proxy forwards to the KMS (AWS's default is 8000). */
  readonly port: number;
  readonly credentials: Credentials;
  readonly region: string;
  /** Host name in the signed request; default `kms.<region>.amazonaws.com`, as AWS's SDK sends. */
  readonly endpointHost?: string;
  /** Per-request timeout in ms (default 30 s). */
  readonly timeoutMs?: number;
  /** The recipient key pair; default one RSA-2048 pair made in the enclave for this client. */
  readonly keyPair?: RecipientKeyPair | Promise<RecipientKeyPair>;
}

type Json = Record<string, unknown>;

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromB64(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string') throw new KmsClientError('ERR_KMS_CLIENT_NOT_ATTESTED', `the KMS response has no ${what}`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

export interface AttestedTransport {
  /** The recipient key pair (made on first use). */
  keyPair(): Promise<RecipientKeyPair>;
  /** A fresh document from the NSM carrying the recipient public key. */
  recipient(): Promise<{ KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256'; AttestationDocument: string }>;
  /** Signs one awsJson call and sends it over a new vsock connection. */
  send(target: string, body: Uint8Array, host?: string, headers?: Readonly<Record<string, string>>): Promise<HttpResult>;
  /** Sends an already-signed request over a new vsock connection. */
  exchange(req: HttpExchange): Promise<HttpResult>;
  /** Opens a CiphertextForRecipient with the recipient private key. */
  open(envelope: Uint8Array): Promise<Uint8Array>;
}

/** The pieces both the client and the AWS SDK handler use. */
export function attestedTransport(ctx: Pick<EnclaveServices, 'nsm' | 'vsock'>, options: KmsClientOptions): AttestedTransport {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port >= 0xffffffff) throw new KmsClientError('ERR_KMS_CLIENT_ARGUMENT', `port must be a vsock port (0xFFFFFFFF is VMADDR_PORT_ANY, not a port to connect to), got ${options.port}`);
  if (typeof options.region !== 'string' || options.region === '') throw new KmsClientError('ERR_KMS_CLIENT_ARGUMENT', 'region is required');
  const nsm = nsmClient(ctx);
  let pair: Promise<RecipientKeyPair> | undefined = options.keyPair === undefined ? undefined : Promise.resolve(options.keyPair);
  const keyPair = () => (pair ??= generateRecipientKeyPair());
  const host = options.endpointHost ?? `kms.${options.region}.amazonaws.com`;
  return {
    keyPair,
    async recipient() {
      const { spki } = await keyPair();
      const doc = await nsm.attestation({ publicKey: spki });
      return { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: b64(doc) };
    },
    async send(target, body, hostOverride, headers) {
      return this.exchange(await signKmsRequest({ credentials: options.credentials, region: options.region, host: hostOverride ?? host, target, body, ...(headers ? { headers } : {}) }));
    },
    async exchange(req) {
      let conn: Duplex;
      try {
        conn = await ctx.vsock.connect(options.port);
      } catch (e) {
        throw new KmsClientError('ERR_KMS_CLIENT_TRANSPORT', `cannot connect to parent vsock port ${options.port}: ${(e as Error).message}`, { cause: e });
      }
      return httpOverStream(conn, req, options.timeoutMs);
    },
    async open(envelope) {
      const { openEnvelope } = await (cms ??= import('./cms.ts'));
      return openEnvelope(envelope, (await keyPair()).privateKey);
    },
  };
}

export interface KmsClient {
  /** Decrypt with attestation; resolves to the plaintext, which only this enclave can read. */
  decrypt(ciphertextBlob: Uint8Array, options?: { keyId?: string; encryptionContext?: Record<string, string>; encryptionAlgorithm?: string; grantTokens?: string[] }): Promise<{ keyId: string; plaintext: Uint8Array }>;
  generateDataKey(keyId: string, options?: { keySpec?: 'AES_256' | 'AES_128'; numberOfBytes?: number; encryptionContext?: Record<string, string> }): Promise<{ keyId: string; plaintext: Uint8Array; ciphertextBlob: Uint8Array }>;
  generateDataKeyPair(keyId: string, keyPairSpec: string, options?: { encryptionContext?: Record<string, string> }): Promise<{ keyId: string; privateKeyPlaintext: Uint8Array; privateKeyCiphertextBlob: Uint8Array; publicKey: Uint8Array; keyPairSpec: string }>;
  generateRandom(numberOfBytes: number): Promise<Uint8Array>;
}

/** The enclave's KMS client (see the file header). */
export function kmsClient(ctx: Pick<EnclaveServices, 'nsm' | 'vsock'>, options: KmsClientOptions): KmsClient {
  const t = attestedTransport(ctx, options);
  const call = async (target: string, input: Json): Promise<Json> => {
    const body = new Uint8Array(Buffer.from(JSON.stringify({ ...input, Recipient: await t.recipient() }), 'utf8'));
    const res = await t.send(target, body);
    let json: Json;
    try {
      json = res.body.length === 0 ? {} : (JSON.parse(Buffer.from(res.body).toString('utf8')) as Json);
    } catch (cause) {
      throw new KmsClientError('ERR_KMS_CLIENT_HTTP', `the KMS answered ${res.status} with a body that is not JSON`, { cause });
    }
    if (res.status !== 200) {
      const type = typeof json.__type === 'string' ? json.__type.split('#').pop() ?? 'UnknownError' : `HTTP${res.status}`;
      const message = typeof json.message === 'string' ? json.message : typeof json.Message === 'string' ? json.Message : '';
      throw new KmsServiceError(type, message, res.status);
    }
    // A plaintext member in an attested response means someone on the way (or the KMS) did not
    // seal it to us: refuse it rather than use a key the parent may have seen.
    for (const k of ['Plaintext', 'PrivateKeyPlaintext', 'SharedSecret']) {
      if (json[k] !== undefined) throw new KmsClientError('ERR_KMS_CLIENT_NOT_ATTESTED', `the KMS response carries ${k} in the clear`);
    }
    return json;
  };
  const sealed = async (json: Json) => t.open(fromB64(json.CiphertextForRecipient, 'CiphertextForRecipient'));
  const ec = (e: Record<string, string> | undefined) => (e === undefined ? {} : { EncryptionContext: e });
  return Object.freeze({
    async decrypt(ciphertextBlob: Uint8Array, o: { keyId?: string; encryptionContext?: Record<string, string>; encryptionAlgorithm?: string; grantTokens?: string[] } = {}) {
      const json = await call('Decrypt', {
        CiphertextBlob: b64(ciphertextBlob),
        ...(o.keyId !== undefined ? { KeyId: o.keyId } : {}),
        ...ec(o.encryptionContext),
        ...(o.encryptionAlgorithm !== undefined ? { EncryptionAlgorithm: o.encryptionAlgorithm } : {}),
        ...(o.grantTokens !== undefined ? { GrantTokens: o.grantTokens } : {}),
      });
      return { keyId: String(json.KeyId), plaintext: await sealed(json) };
    },
    async generateDataKey(keyId: string, o: { keySpec?: 'AES_256' | 'AES_128'; numberOfBytes?: number; encryptionContext?: Record<string, string> } = {}) {
      const size = o.numberOfBytes !== undefined ? { NumberOfBytes: o.numberOfBytes } : { KeySpec: o.keySpec ?? 'AES_256' };
      const json = await call('GenerateDataKey', { KeyId: keyId, ...size, ...ec(o.encryptionContext) });
      return { keyId: String(json.KeyId), plaintext: await sealed(json), ciphertextBlob: fromB64(json.CiphertextBlob, 'CiphertextBlob') };
    },
    async generateDataKeyPair(keyId: string, keyPairSpec: string, o: { encryptionContext?: Record<string, string> } = {}) {
      const json = await call('GenerateDataKeyPair', { KeyId: keyId, KeyPairSpec: keyPairSpec, ...ec(o.encryptionContext) });
      return {
        keyId: String(json.KeyId),
        privateKeyPlaintext: await sealed(json),
        privateKeyCiphertextBlob: fromB64(json.PrivateKeyCiphertextBlob, 'PrivateKeyCiphertextBlob'),
        publicKey: fromB64(json.PublicKey, 'PublicKey'),
        keyPairSpec: String(json.KeyPairSpec),
      };
    },
    async generateRandom(numberOfBytes: number) {
      return sealed(await call('GenerateRandom', { NumberOfBytes: numberOfBytes }));
    },
  });
}
