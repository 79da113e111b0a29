// One CloudTrail-shaped record per call (CloudTrail User Guide, "CloudTrail record contents" and
// "CloudTrail userIdentity element"): the members a KMS event has on AWS, secrets left out, member
// names in CloudTrail's lowerCamelCase. The chain and signature around it are `format.ts`'s.
import { randomUUID } from 'node:crypto';

/** What the server tells the audit log about one call. */
export interface AuditEvent {
  readonly eventTime: number;
  readonly eventName: string;
  /** The id the call was answered with (x-amzn-RequestId); a new one when absent. */
  readonly requestId?: string;
  readonly region: string;
  readonly account: string;
  readonly principalArn?: string;
  readonly accessKeyId?: string;
  readonly sourceIp?: string;
  readonly userAgent?: string;
  readonly requestParameters?: unknown;
  readonly responseElements?: unknown;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly keyArn?: string;
  readonly readOnly: boolean;
  readonly additionalEventData?: Readonly<Record<string, unknown>>;
}

/** Members never written to the log: key material, plaintext and ciphertext. */
const SECRET_FIELDS = new Set([
  'Plaintext', 'CiphertextBlob', 'SourceCiphertextBlob', 'PrivateKeyPlaintext', 'PrivateKeyCiphertextBlob',
  'Message', 'Signature', 'Mac', 'SharedSecret', 'EncryptedKeyMaterial', 'ImportToken', 'PublicKey',
  'CiphertextForRecipient', 'Recipient', 'GrantToken', 'GrantTokens',
]);

/** Members that are the caller's own string maps: copied verbatim, keys not re-cased. */
const MAP_FIELDS = new Set(['EncryptionContext', 'SourceEncryptionContext', 'DestinationEncryptionContext', 'EncryptionContextSubset', 'EncryptionContextEquals']);

/** Drops secrets and writes member names in CloudTrail's lowerCamelCase. */
function redact(value: unknown): unknown {
  if (value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_FIELDS.has(k)) continue;
      const r = MAP_FIELDS.has(k) ? v : redact(v);
      if (r !== undefined) out[k.charAt(0).toLowerCase() + k.slice(1)] = r;
    }
    return out;
  }
  return value;
}

const ARN = /^arn:aws[a-z-]*:(iam|sts)::(\d{12}):(.+)$/;

/**
 * CloudTrail's `userIdentity` for the caller's ARN, by the identity types CloudTrail documents:
 * `Root` (account root), `IAMUser` (with `userName`), `AssumedRole` for an STS
 * `assumed-role/ROLE/SESSION` ARN (principalId `ID:SESSION`, `sessionContext.sessionIssuer` the role
 * as `type: Role`), `FederatedUser` for `federated-user/NAME`, `Role` for a role ARN used directly.
 * AWS's principalId is the IAM unique id (AIDA…/AROA…), which this KMS does not have; the access key
 * id stands in for it, as before. No ARN (an anonymous call) is `Anonymous`.
 */
export function userIdentity(principalArn: string | undefined, accessKeyId: string | undefined, account: string): Record<string, unknown> {
  // A caller's identity is the same on each of its calls: built once (the records only serialize it).
  const id = `${principalArn ?? ''}\0${accessKeyId ?? ''}\0${account}`;
  let u = identities.get(id);
  if (!u) {
    u = Object.freeze(buildUserIdentity(principalArn, accessKeyId, account));
    if (identities.size >= 10_000) identities.clear();
    identities.set(id, u);
  }
  return u;
}

const identities = new Map<string, Readonly<Record<string, unknown>>>();

function buildUserIdentity(principalArn: string | undefined, accessKeyId: string | undefined, account: string): Record<string, unknown> {
  if (!principalArn) return { type: 'Anonymous' };
  const m = ARN.exec(principalArn);
  const accountId = m?.[2] ?? account;
  const id = accessKeyId ?? accountId;
  const key = accessKeyId ? { accessKeyId } : {};
  const resource = m?.[3] ?? '';
  if (m?.[1] === 'iam' && resource === 'root') return { type: 'Root', principalId: accountId, arn: principalArn, accountId, ...key };
  if (m?.[1] === 'sts') {
    const role = /^assumed-role\/([^/]+)\/(.+)$/.exec(resource);
    if (role) {
      const [, roleName = '', session = ''] = role;
      return {
        type: 'AssumedRole',
        principalId: `${id}:${session}`,
        arn: principalArn,
        accountId,
        ...key,
        sessionContext: {
          sessionIssuer: { type: 'Role', principalId: id, arn: `arn:aws:iam::${accountId}:role/${roleName}`, accountId, userName: roleName },
          attributes: { mfaAuthenticated: 'false' },
        },
      };
    }
    const federated = /^federated-user\/(.+)$/.exec(resource);
    if (federated) {
      return { type: 'FederatedUser', principalId: `${accountId}:${federated[1]}`, arn: principalArn, accountId, ...key, sessionContext: { attributes: { mfaAuthenticated: 'false' } } };
    }
  }
  const name = resource.split('/').at(-1) ?? '';
  if (m?.[1] === 'iam' && resource.startsWith('role/')) return { type: 'Role', principalId: id, arn: principalArn, accountId, ...key, userName: name };
  return { type: 'IAMUser', principalId: id, arn: principalArn, accountId, ...key, ...(m?.[1] === 'iam' && resource.startsWith('user/') ? { userName: name } : {}) };
}

/** The CloudTrail members of one call's record, in CloudTrail's order. */
export function cloudTrailRecord(e: AuditEvent, eventId: string = randomUUID()): Record<string, unknown> {
  return {
    eventVersion: '1.08',
    userIdentity: userIdentity(e.principalArn, e.accessKeyId, e.account),
    eventTime: new Date(e.eventTime).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: 'kms.amazonaws.com',
    eventName: e.eventName,
    awsRegion: e.region,
    sourceIPAddress: e.sourceIp ?? null,
    userAgent: e.userAgent ?? null,
    ...(e.errorCode !== undefined ? { errorCode: e.errorCode, errorMessage: e.errorMessage ?? '' } : {}),
    requestParameters: e.requestParameters === undefined ? null : redact(e.requestParameters),
    responseElements: e.responseElements === undefined || e.errorCode !== undefined ? null : redact(e.responseElements),
    ...(e.additionalEventData ? { additionalEventData: e.additionalEventData } : {}),
    requestID: e.requestId ?? randomUUID(),
    eventID: eventId,
    readOnly: e.readOnly,
    resources: e.keyArn ? [{ accountId: e.account, type: 'AWS::KMS::Key', ARN: e.keyArn }] : [],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: e.account,
    eventCategory: 'Management',
  };
}

/**
 * `JSON.stringify(cloudTrailRecord(e, eventId))`, byte for byte (test/kms-proxy/audit-json.test.ts
 * checks it on generated events), written member by member: the constant members are literals,
 * the caller's identity is serialized once per caller, and only the call's own values go through
 * JSON.stringify. The record is on every call's path; serializing the whole object was the largest
 * single item of a Decrypt's profile after the socket write.
 */
export function cloudTrailJson(e: AuditEvent, eventId: string = randomUUID()): string {
  let out = `{"eventVersion":"1.08","userIdentity":${identityJson(e.principalArn, e.accessKeyId, e.account)},"eventTime":"${isoSeconds(e.eventTime)}","eventSource":"kms.amazonaws.com"`;
  out += `,"eventName":${JSON.stringify(e.eventName)},"awsRegion":${JSON.stringify(e.region)}`;
  out += `,"sourceIPAddress":${e.sourceIp === undefined ? 'null' : JSON.stringify(e.sourceIp)},"userAgent":${e.userAgent === undefined ? 'null' : JSON.stringify(e.userAgent)}`;
  if (e.errorCode !== undefined) out += `,"errorCode":${JSON.stringify(e.errorCode)},"errorMessage":${JSON.stringify(e.errorMessage ?? '')}`;
  out += member('requestParameters', e.requestParameters === undefined ? null : redact(e.requestParameters));
  out += member('responseElements', e.responseElements === undefined || e.errorCode !== undefined ? null : redact(e.responseElements));
  if (e.additionalEventData) out += member('additionalEventData', e.additionalEventData);
  out += `,"requestID":${JSON.stringify(e.requestId ?? randomUUID())},"eventID":${JSON.stringify(eventId)},"readOnly":${e.readOnly}`;
  const account = JSON.stringify(e.account);
  out += `,"resources":${e.keyArn ? `[{"accountId":${account},"type":"AWS::KMS::Key","ARN":${JSON.stringify(e.keyArn)}}]` : '[]'}`;
  return `${out},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":${account},"eventCategory":"Management"}`;
}

/** `,"name":<JSON>` as JSON.stringify writes an object member; nothing for a value it leaves out. */
function member(name: string, value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? '' : `,"${name}":${json}`;
}

/** userIdentity's JSON, kept with the identity (a caller's is the same on each of its calls). */
function identityJson(principalArn: string | undefined, accessKeyId: string | undefined, account: string): string {
  const u = userIdentity(principalArn, accessKeyId, account);
  let json = identityJsons.get(u);
  if (json === undefined) {
    json = JSON.stringify(u);
    identityJsons.set(u, json);
  }
  return json;
}

const identityJsons = new WeakMap<object, string>();

let lastSecond = Number.NaN;
let lastIso = '';

/** CloudTrail's eventTime: ISO 8601 UTC to the second, e.g. 2026-12-04T07:28:33Z (kept per second). */
function isoSeconds(ms: number): string {
  // Truncated to whole ms first, as Date does (TimeClip), then to the second below it.
  const second = Math.floor(Math.trunc(ms) / 1000);
  if (second !== lastSecond) {
    lastIso = new Date(second * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    lastSecond = second;
  }
  return lastIso;
}
