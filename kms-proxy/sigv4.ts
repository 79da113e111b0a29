// SigV4 request verification (AWS General Reference, "Signature Version 4 signing process":
// create a canonical request, a string to sign, derive the signing key, compare signatures).
// Written by hand rather than with @smithy/signature-v4 because verification must rebuild the
// canonical request from the headers *the client* chose to sign, while the smithy signer decides
// them itself; the algorithm is four HMACs and two hashes.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { kmsError, messages } from './errors.ts';

export interface Credential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The IAM principal this key authenticates as, e.g. `arn:aws:iam::111122223333:user/dev`. */
  readonly principalArn: string;
  readonly account: string;
  /** The principal's identity policy: the IAM actions it may call (identity.ts); absent: all. */
  readonly allowedActions?: readonly string[];
}

export interface VerifyInput {
  readonly method: string;
  /** Raw path as received, still percent-encoded. */
  readonly path: string;
  readonly query: string;
  readonly headers: (name: string) => string | undefined;
  /** The (lower-case) names of every header the request carries. */
  readonly headerNames: Iterable<string>;
  readonly body: Uint8Array;
  readonly now: number;
  /** The Regions this KMS answers for: the credential scope must name one of them. */
  readonly regions: ReadonlySet<string>;
}

/** A verified request: who signed it, and the Region its credential scope names (the request's Region). */
export interface Verified {
  readonly credential: Credential;
  readonly region: string;
}

export const MAX_SKEW_MS = 5 * 60 * 1000;
const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;\-_.]+),\s*Signature=([0-9a-f]{64})$/;

const signingKeys = new Map<string, Buffer>();
/** Whitespace other than single spaces: what Trimall changes. */
const SPACES = /\s\s|[^\S ]/;

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\0${date}\0${region}\0${service}`;
  let k = signingKeys.get(id);
  if (!k) {
    k = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    if (signingKeys.size > 1000) signingKeys.clear();
    signingKeys.set(id, k);
  }
  return k;
}

// RFC 3986 unreserved characters stay; everything else is %XX uppercase (SigV4 "UriEncode").
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalPath(raw: string): string {
  // The API's one path, as every client sends it, is its own encoding.
  if (raw === '/') return raw;
  // Non-S3 services encode the (already encoded) path once more, segment by segment.
  return raw.split('/').map(uriEncode).join('/');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function canonicalQuery(q: string): string {
  if (q === '') return '';
  return q
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      const k = i < 0 ? p : p.slice(0, i);
      const v = i < 0 ? '' : p.slice(i + 1);
      return [uriEncode(safeDecode(k)), uriEncode(safeDecode(v))] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

// The last X-Amz-Date read and its time: requests signed in the same second share it.
let lastDate = { text: '', ms: 0 };

function amzDateToMs(d: string): number | undefined {
  if (d === lastDate.text) return lastDate.ms;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(d);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  lastDate = { text: d, ms };
  return ms;
}

function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * Verifies the request's SigV4 signature against `lookup(accessKeyId)`. Returns the credential and
 * the scope's Region on success; throws MissingAuthenticationTokenException,
 * UnrecognizedClientException or InvalidSignatureException as AWS does (all status 400).
 */
export function verifySigV4(req: VerifyInput, lookup: (accessKeyId: string) => Credential | undefined): Verified {
  const auth = req.headers('authorization');
  if (auth === undefined || auth === '') throw kmsError('MissingAuthenticationTokenException', messages.missingAuth);
  const m = AUTH_RE.exec(auth.trim());
  if (!m) throw kmsError('InvalidSignatureException', messages.badSignature, 'malformed Authorization header');
  const [, akid = '', scopeDate = '', scopeRegion = '', service = '', signedHeaderList = '', signature = ''] = m;
  const cred = lookup(akid);
  if (!cred) throw kmsError('UnrecognizedClientException', messages.unrecognizedClient);
  const dateHeader = req.headers('x-amz-date');
  const when = dateHeader === undefined ? undefined : amzDateToMs(dateHeader);
  if (dateHeader === undefined || when === undefined) {
    throw kmsError('InvalidSignatureException', messages.badSignature, 'missing or malformed X-Amz-Date');
  }
  // AWS's own wording for stale and future-dated requests.
  if (req.now - when > MAX_SKEW_MS) {
    throw kmsError('InvalidSignatureException', `Signature expired: ${dateHeader} is now earlier than ${amzDate(req.now - MAX_SKEW_MS)} (${amzDate(req.now)} - 5 min.)`);
  }
  if (when - req.now > MAX_SKEW_MS) {
    throw kmsError('InvalidSignatureException', `Signature not yet current: ${dateHeader} is still later than ${amzDate(req.now + MAX_SKEW_MS)} (${amzDate(req.now)} + 5 min.)`);
  }
  if (scopeDate !== dateHeader.slice(0, 8)) throw kmsError('InvalidSignatureException', messages.badSignature, 'credential scope date differs from X-Amz-Date');
  if (!req.regions.has(scopeRegion)) throw kmsError('InvalidSignatureException', `Credential should be scoped to a valid region.`);
  if (service !== 'kms') throw kmsError('InvalidSignatureException', `Credential should be scoped to correct service: 'kms'.`);
  // What a signature must cover (IAM User Guide, "Elements of an AWS API request signature": the
  // host and every x-amz-* header are required): otherwise a signature made for one request could
  // be replayed as another, e.g. a DescribeKey signed without X-Amz-Target sent as DisableKey.
  const signed = signedHeaderList.split(';');
  const signedSet = new Set(signed);
  for (const required of ['host', 'x-amz-date']) {
    if (!signedSet.has(required)) throw kmsError('InvalidSignatureException', messages.badSignature, `${required} is not signed`);
  }
  for (const header of req.headerNames) {
    const name = header.toLowerCase();
    if (name.startsWith('x-amz-') && !signedSet.has(name)) throw kmsError('InvalidSignatureException', messages.badSignature, `${name} is present but not signed`);
  }
  let canonicalHeaders = '';
  for (const h of signed) {
    const v = req.headers(h);
    if (v === undefined) throw kmsError('InvalidSignatureException', messages.badSignature, `signed header ${h} is absent`);
    // Sequential spaces become one (SigV4 "Trimall"); most values have none to collapse.
    const t = v.trim();
    canonicalHeaders += `${h}:${SPACES.test(t) ? t.replace(/\s+/g, ' ') : t}\n`;
  }
  const payloadHash = hash('sha256', req.body, 'hex');
  const canonicalRequest = [req.method, canonicalPath(req.path), canonicalQuery(req.query), canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${dateHeader}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;
  const expected = createHmac('sha256', signingKey(cred.secretAccessKey, scopeDate, scopeRegion, service)).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) throw kmsError('InvalidSignatureException', messages.badSignature);
  return { credential: cred, region: scopeRegion };
}
