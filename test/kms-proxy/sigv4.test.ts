// SigV4 verification, check by check (AWS General Reference, "Signature Version 4 signing
// process"; the 5-minute skew and AWS's wording as in sigv4.ts). Requests are signed by the SDK's
// own signer (@smithy/signature-v4, via sign.ts) and then altered one part at a time; every refusal
// is asserted by its code and by the audit-log reason (`detail`) that tells the refusals apart,
// since the caller sees the same InvalidSignatureException message for most of them.
import { describe, expect, test } from 'vitest';
import { KmsError, type Credential } from '../../kms-proxy/index.ts';
import { MAX_SKEW_MS, verifySigV4, type VerifyInput } from '../../kms-proxy/sigv4.ts';
import { signedRequest } from './sign.ts';

const cred: Credential = { accessKeyId: 'AKIAEXAMPLE000000001', secretAccessKey: 'c2VjcmV0LWZvci10aGUtc2lndjQtdGVzdHM', principalArn: 'arn:aws:iam::111122223333:user/dev', account: '111122223333' };
const lookup = (id: string) => (id === cred.accessKeyId ? cred : undefined);
const now = Date.UTC(2026, 0, 15, 12, 0, 0);
const BODY = '{"NumberOfBytes":8}';

interface Alter {
  readonly headers?: Record<string, string | undefined>;
  /** Headers the SDK's signer is told to leave unsigned. */
  readonly unsigned?: readonly string[];
  /** Headers added before signing. */
  readonly extra?: Record<string, string>;
  readonly body?: string;
  readonly now?: number;
  readonly authorization?: (auth: string) => string;
}

/** A request the SDK signed at `signedAt`, as the server sees it, with `alter` applied. */
async function request(alter: Alter = {}, signedAt = now, region = 'us-east-1'): Promise<VerifyInput> {
  const { init } = await signedRequest(cred, BODY, { target: 'TrentService.GenerateRandom', date: new Date(signedAt), region, ...(alter.unsigned ? { unsigned: alter.unsigned } : {}), ...(alter.extra ? { headers: alter.extra } : {}) });
  const headers = new Map(Object.entries(init.headers).map(([k, v]) => [k.toLowerCase(), v]));
  for (const [k, v] of Object.entries(alter.headers ?? {})) {
    if (v === undefined) headers.delete(k);
    else headers.set(k, v);
  }
  const auth = headers.get('authorization');
  if (alter.authorization && auth !== undefined) headers.set('authorization', alter.authorization(auth));
  return { method: 'POST', path: '/', query: '', headers: (n) => headers.get(n), headerNames: headers.keys(), body: Buffer.from(alter.body ?? BODY), now: alter.now ?? now, regions: new Set(['us-east-1']) };
}

function refusal(req: VerifyInput): KmsError {
  try {
    verifySigV4(req, lookup);
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected verifySigV4 to refuse the request');
}

const BAD_SIGNATURE = 'ERR_KMS_INVALID_SIGNATURE';

describe('verifySigV4', () => {
  test('a request as the SDK signed it is accepted and authenticates as its credential', async () => {
    expect(verifySigV4(await request(), lookup).credential).toBe(cred);
  });

  // SigV4's Trimall: a signed header's value is compared with runs of whitespace as one space
  // (the SDK's signer collapses spaces and tabs the same way); any other change breaks the signature.
  test.each([
    ['two spaces', 'a  b', 'a b'],
    ['a tab', 'a\tb', 'a b'],
    ['spaces and tabs', 'a \t  b', 'a\tb'],
    ['single spaces only', 'a b c', 'a  b   c'],
  ])('a signed header with %s verifies as signed and with its whitespace runs changed', async (_what, value, sameUnderTrimall) => {
    const extra = { 'x-amz-meta-note': value };
    expect(verifySigV4(await request({ extra }), lookup).credential).toBe(cred);
    expect(verifySigV4(await request({ extra, headers: { 'x-amz-meta-note': sameUnderTrimall } }), lookup).credential).toBe(cred);
    const e = refusal(await request({ extra, headers: { 'x-amz-meta-note': value.replace(/\s+/g, '') } }));
    expect([e.code, e.detail]).toEqual([BAD_SIGNATURE, undefined]);
  });

  test('the same X-Amz-Date read twice is judged against each request\'s own clock', async () => {
    const signed = await request();
    expect(verifySigV4(signed, lookup).credential).toBe(cred);
    const e = refusal({ ...signed, now: now + 6 * 60 * 1000 });
    expect([e.code, e.message.startsWith('Signature expired')]).toEqual([BAD_SIGNATURE, true]);
    expect(verifySigV4({ ...signed, now: now + 4 * 60 * 1000 }, lookup).credential).toBe(cred);
  });

  test('no or an empty Authorization header → ERR_KMS_MISSING_AUTHENTICATION_TOKEN', async () => {
    for (const authorization of [undefined, '']) {
      const e = refusal(await request({ headers: { authorization } }));
      expect([e.code, e.awsName, e.message]).toEqual(['ERR_KMS_MISSING_AUTHENTICATION_TOKEN', 'MissingAuthenticationTokenException', 'Missing Authentication Token']);
    }
  });

  test.each([
    ['another scheme', () => 'Bearer abc'],
    ['a truncated signature', (a: string) => a.slice(0, -1)],
    ['an upper-case signature', (a: string) => a.replace(/Signature=([0-9a-f]+)$/, (_m, s: string) => `Signature=${s.toUpperCase()}`)],
    ['no SignedHeaders', (a: string) => a.replace(/SignedHeaders=[^,]+,\s*/, '')],
  ])('a malformed Authorization header (%s) → ERR_KMS_INVALID_SIGNATURE, "malformed Authorization header"', async (_what, authorization) => {
    const e = refusal(await request({ authorization }));
    expect([e.code, e.detail]).toEqual([BAD_SIGNATURE, 'malformed Authorization header']);
  });

  test('an access key this KMS does not know → ERR_KMS_UNRECOGNIZED_CLIENT', async () => {
    const e = refusal(await request({ authorization: (a) => a.replace(cred.accessKeyId, 'AKIANOTAREALKEY00000') }));
    expect([e.code, e.awsName]).toEqual(['ERR_KMS_UNRECOGNIZED_CLIENT', 'UnrecognizedClientException']);
  });

  test.each([
    ['absent', undefined],
    ['not ISO 8601 basic format', '2026-01-15T12:00:00Z'],
  ])('X-Amz-Date %s → ERR_KMS_INVALID_SIGNATURE, "missing or malformed X-Amz-Date"', async (_what, date) => {
    const e = refusal(await request({ headers: { 'x-amz-date': date } }));
    expect([e.code, e.detail]).toEqual([BAD_SIGNATURE, 'missing or malformed X-Amz-Date']);
  });

  test('outside the 5-minute window either way → ERR_KMS_INVALID_SIGNATURE with AWS wording; at the edge it is accepted', async () => {
    const stale = refusal(await request({ now: now + MAX_SKEW_MS + 1000 }));
    expect(stale.code).toBe(BAD_SIGNATURE);
    expect(stale.message).toBe('Signature expired: 20260115T120000Z is now earlier than 20260115T120001Z (20260115T120501Z - 5 min.)');
    const ahead = refusal(await request({ now: now - MAX_SKEW_MS - 1000 }));
    expect(ahead.code).toBe(BAD_SIGNATURE);
    expect(ahead.message).toBe('Signature not yet current: 20260115T120000Z is still later than 20260115T115959Z (20260115T115459Z + 5 min.)');
    expect(verifySigV4(await request({ now: now + MAX_SKEW_MS }), lookup).credential).toBe(cred);
  });

  test('a credential scope dated another day than X-Amz-Date → ERR_KMS_INVALID_SIGNATURE, "credential scope date differs"', async () => {
    // Signed a few seconds before midnight; X-Amz-Date moved past it (within the skew window).
    const signedAt = Date.UTC(2026, 0, 15, 23, 59, 55);
    const e = refusal(await request({ headers: { 'x-amz-date': '20260116T000005Z' }, now: signedAt + 10_000 }, signedAt));
    expect([e.code, e.detail]).toEqual([BAD_SIGNATURE, 'credential scope date differs from X-Amz-Date']);
  });

  test('a credential scoped to another region → ERR_KMS_INVALID_SIGNATURE naming the region scope', async () => {
    const e = refusal(await request({}, now, 'eu-west-1'));
    expect([e.code, e.message]).toEqual([BAD_SIGNATURE, 'Credential should be scoped to a valid region.']);
  });

  test('a KMS serving several Regions accepts a scope naming any of them and says which (the request\'s Region)', async () => {
    const several = new Set(['us-east-1', 'eu-west-1']);
    expect(verifySigV4({ ...(await request({}, now, 'eu-west-1')), regions: several }, lookup)).toEqual({ credential: cred, region: 'eu-west-1' });
    expect(verifySigV4({ ...(await request({}, now, 'us-east-1')), regions: several }, lookup).region).toBe('us-east-1');
    const e = refusal({ ...(await request({}, now, 'ap-south-1')), regions: several });
    expect([e.code, e.message]).toEqual([BAD_SIGNATURE, 'Credential should be scoped to a valid region.']);
  });

  test('a credential scoped to another service → ERR_KMS_INVALID_SIGNATURE naming kms', async () => {
    const e = refusal(await request({ authorization: (a) => a.replace('/kms/aws4_request', '/sts/aws4_request') }));
    expect([e.code, e.message]).toEqual([BAD_SIGNATURE, "Credential should be scoped to correct service: 'kms'."]);
  });

  test('host left out of SignedHeaders → ERR_KMS_INVALID_SIGNATURE, "host is not signed"', async () => {
    const e = refusal(await request({ authorization: (a) => a.replace(/SignedHeaders=([^,]+)/, (_m, list: string) => `SignedHeaders=${list.split(';').filter((h) => h !== 'host').join(';')}`) }));
    expect([e.code, e.detail]).toEqual([BAD_SIGNATURE, 'host is not signed']);
  });

  // IAM User Guide, "Elements of an AWS API request signature": the host and every x-amz-* header
  // must be signed. The SDK's signer signs them all; these requests are signed correctly by the
  // SigV4 algorithm, only with a header left out of SignedHeaders.
  test.each([
    ['x-amz-target', [], 'x-amz-target is present but not signed'],
    ['x-amz-date', [], 'x-amz-date is not signed'],
    ['x-amz-security-token', ['x-amz-security-token'], 'x-amz-security-token is present but not signed'],
    ['x-amz-meta-anything', ['x-amz-meta-anything'], 'x-amz-meta-anything is present but not signed'],
  ])('%s present but left out of SignedHeaders → ERR_KMS_INVALID_SIGNATURE naming it', async (header, extra, detail) => {
    const e = refusal(await request({ unsigned: [header], extra: Object.fromEntries(extra.map((h) => [h, 'v'])) }));
    expect([e.code, e.awsName, e.detail]).toEqual([BAD_SIGNATURE, 'InvalidSignatureException', detail]);
  });

  test('every x-amz-* header signed (whatever the case of its name) and unsigned ordinary headers are accepted', async () => {
    const req = await request({ extra: { 'X-Amz-Meta-Anything': 'v' }, unsigned: ['content-type'] });
    expect(verifySigV4(req, lookup).credential).toBe(cred);
  });

  test('a signed header missing from the request → ERR_KMS_INVALID_SIGNATURE naming it', async () => {
    const e = refusal(await request({ headers: { 'x-amz-target': undefined } }));
    expect([e.code, e.detail]).toEqual([BAD_SIGNATURE, 'signed header x-amz-target is absent']);
  });

  test.each([
    ['the body', { body: '{"NumberOfBytes":9}' }],
    ['a signed header', { headers: { 'x-amz-target': 'TrentService.ListKeys' } }],
    ['the secret (another signature)', { authorization: (a: string) => a.replace(/Signature=([0-9a-f])/, (_m, c: string) => `Signature=${c === '0' ? '1' : '0'}`) }],
  ] as [string, Alter][])('a change to %s → ERR_KMS_INVALID_SIGNATURE with AWS message and no reason beyond it', async (_what, alter) => {
    const e = refusal(await request(alter));
    expect([e.code, e.awsName, e.detail]).toEqual([BAD_SIGNATURE, 'InvalidSignatureException', undefined]);
    expect(e.message).toMatch(/^The request signature we calculated does not match the signature you provided/);
  });
});
