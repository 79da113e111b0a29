// The audit record's JSON is written member by member on the hot path (cloudTrailJson); it must be
// exactly JSON.stringify of the record object (cloudTrailRecord), which the readers, the web
// console and `kms audit verify` were written against. Checked on generated events: every optional
// member present or absent, strings JSON must escape (quotes, controls, lone surrogates, U+2028),
// byte arrays (dropped as secrets), nested parameters, odd times.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloudTrailJson, cloudTrailRecord, type AuditEvent } from '../../kms-proxy/audit/cloudtrail.ts';

const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', '"', '\\', '\u2028', '\ud800', '\u0000', 'arn:aws:kms:us-east-1:111122223333:key/x'));
const arn = fc.oneof(
  fc.constantFrom(
    'arn:aws:iam::111122223333:root',
    'arn:aws:iam::111122223333:user/dev',
    'arn:aws:iam::111122223333:role/app',
    'arn:aws:sts::111122223333:assumed-role/app/session-1',
    'arn:aws:sts::111122223333:federated-user/bob',
  ),
  text,
);
const params = fc.dictionary(
  fc.oneof(fc.constantFrom('KeyId', 'EncryptionContext', 'CiphertextBlob', 'Plaintext', 'GrantTokens', 'NumberOfBytes', 'Policy'), fc.string()),
  fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 8 }), fc.dictionary(fc.string(), text), fc.array(text, { maxLength: 3 })),
  { maxKeys: 6 },
);
const optional = <T,>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const event: fc.Arbitrary<AuditEvent> = fc
  .record({
    eventTime: fc.oneof(fc.integer({ min: -1e12, max: 4102444800000 }), fc.constantFrom(1764800000999, -0.5, -1000.5, 999.9), fc.double({ min: -1e12, max: 4e12, noNaN: true })),
    eventName: fc.oneof(fc.constantFrom('Decrypt', 'CreateKey', 'Unknown'), text),
    requestId: optional(fc.uuid()),
    region: fc.oneof(fc.constant('us-east-1'), text),
    account: fc.oneof(fc.constant('111122223333'), text),
    principalArn: optional(arn),
    accessKeyId: optional(fc.oneof(fc.constant('AKIAEXAMPLE'), text)),
    sourceIp: optional(fc.oneof(fc.constant('127.0.0.1'), text)),
    userAgent: optional(text),
    requestParameters: optional(fc.oneof(params, fc.uint8Array({ maxLength: 4 }), fc.constant(null))),
    responseElements: optional(params),
    errorCode: optional(fc.constantFrom('AccessDeniedException', 'NotFoundException')),
    errorMessage: optional(text),
    keyArn: optional(fc.oneof(fc.constant('arn:aws:kms:us-east-1:111122223333:key/1234'), text)),
    readOnly: fc.boolean(),
    additionalEventData: optional(fc.dictionary(fc.string(), fc.oneof(text, fc.integer(), fc.dictionary(fc.string(), text)))),
  })
  .map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as unknown as AuditEvent);

describe('the audit record as JSON', () => {
  it('cloudTrailJson is JSON.stringify(cloudTrailRecord) byte for byte, on any event', () => {
    fc.assert(
      fc.property(event, fc.uuid(), (e, eventId) => {
        const withId = e.requestId === undefined ? { ...e, requestId: eventId.replace(/^./, 'f') } : e;
        expect(cloudTrailJson(withId, eventId)).toBe(JSON.stringify(cloudTrailRecord(withId, eventId)));
      }),
      { numRuns: 3000 },
    );
  });

  it('a call with no request id gets one of its own, distinct from its event id', () => {
    const e: AuditEvent = { eventTime: 0, eventName: 'Decrypt', region: 'us-east-1', account: '111122223333', readOnly: true };
    const r = JSON.parse(cloudTrailJson(e, 'event-id')) as { requestID: string; eventID: string; eventTime: string };
    expect(r.eventID).toBe('event-id');
    expect(r.requestID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r.eventTime).toBe('1970-01-01T00:00:00Z');
  });

  it('eventTime is to the second, in consecutive calls across a second boundary', () => {
    const at = (ms: number) => (JSON.parse(cloudTrailJson({ eventTime: ms, eventName: 'Decrypt', region: 'r', account: 'a', readOnly: true, requestId: 'x' }, 'e')) as { eventTime: string }).eventTime;
    expect([at(1764800000999), at(1764800001000), at(1764800000500), at(-1)]).toEqual(['2025-12-03T22:13:20Z', '2025-12-03T22:13:21Z', '2025-12-03T22:13:20Z', '1969-12-31T23:59:59Z']);
  });
});
