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
export function cloudTrailRecord(e: AuditEvent): Record<string, unknown> {
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
    eventID: randomUUID(),
    readOnly: e.readOnly,
    resources: e.keyArn ? [{ accountId: e.account, type: 'AWS::KMS::Key', ARN: e.keyArn }] : [],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: e.account,
    eventCategory: 'Management',
  };
}
