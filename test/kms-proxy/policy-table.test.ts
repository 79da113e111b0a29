// The policy-evaluation table: each row a request and the decision AWS documents for it, grouped by
// the documentation that says so. Rows are evaluated with the evaluator as the KMS runs it (parsed
// policy, request context keyed as the KMS keys it). Groups:
//  A. every condition key of policy/catalogue.ts, with a realistic value on an operation that supplies it;
//  B. the keys this KMS never supplies: a request without them;
//  C. IAM condition operators with IfExists, ForAllValues, ForAnyValue and Null;
//  D. principals, NotPrincipal, resources, policy variables, grants.
import { describe, expect, test } from 'vitest';
import { evaluate, parsePolicy, type AuthzRequest } from '../../kms-proxy/index.ts';
import type { GrantRecord } from '../../kms-proxy/model.ts';
import { CONDITION_KEYS } from '../../kms-proxy/policy/catalogue.ts';

const ACCOUNT = '111122223333';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0b6a5a3e-2b8e-4a0e-9f55-2f1a4c1f7e01`;

type Effect = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';
type Ctx = Record<string, string | string[]>;
interface Req {
  readonly action?: string;
  readonly principal?: string;
  readonly account?: string;
  readonly ctx?: Ctx;
  readonly resource?: string;
  readonly ec?: Record<string, string>;
  readonly grants?: GrantRecord[];
  readonly child?: AuthzRequest['childGrant'];
}
/** [what, statements, request, AWS's decision] */
type Row = readonly [string, readonly object[], Req, Effect];

const allowAll = { Sid: 'root', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };
const stmt = (effect: 'Allow' | 'Deny', operator: string, key: string, values: string | string[]) => ({ Effect: effect, Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*', Condition: { [operator]: { [key]: values } } });
/** A Deny on the condition under a root Allow: ExplicitDeny when the condition holds, else Allow. */
const deny = (operator: string, key: string, values: string | string[]): readonly object[] => [allowAll, stmt('Deny', operator, key, values)];
/** An Allow only under the condition: Allow when it holds, else ImplicitDeny. */
const allowIf = (operator: string, key: string, values: string | string[]): readonly object[] => [stmt('Allow', operator, key, values)];

function run([, statements, r]: Row): Effect {
  const policy = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }));
  const context = new Map(Object.entries(r.ctx ?? {}).map(([k, v]) => [k.toLowerCase(), typeof v === 'string' ? [v] : v]));
  return evaluate(policy, r.grants ?? [], {
    principalArn: r.principal ?? ALICE,
    principalAccount: r.account ?? ACCOUNT,
    action: r.action ?? 'kms:Decrypt',
    resourceArn: r.resource ?? KEY,
    context,
    ...(r.ec ? { encryptionContext: r.ec } : {}),
    ...(r.child ? { childGrant: r.child } : {}),
  }).effect;
}

// A. [key, action that supplies it, value, operator, a policy value that matches, one that does not]
type KeyCase = readonly [string, string, string | string[], string, string | string[], string | string[]];
const KEY_CASES: readonly KeyCase[] = [
  ['aws:CurrentTime', 'kms:Decrypt', '2026-12-03T12:00:00Z', 'DateGreaterThan', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'],
  ['aws:EpochTime', 'kms:Decrypt', '1796299200', 'DateLessThan', '1800000000', '1700000000'],
  ['aws:PrincipalAccount', 'kms:Decrypt', ACCOUNT, 'StringEquals', ACCOUNT, '999999999999'],
  ['aws:PrincipalArn', 'kms:Decrypt', `arn:aws:iam::${ACCOUNT}:role/app`, 'ArnLike', `arn:aws:iam::${ACCOUNT}:role/*`, `arn:aws:iam::${ACCOUNT}:user/*`],
  ['aws:PrincipalIsAWSService', 'kms:Decrypt', 'false', 'Bool', 'false', 'true'],
  ['aws:PrincipalType', 'kms:Decrypt', 'User', 'StringEquals', 'User', 'AssumedRole'],
  ['aws:RequestedRegion', 'kms:Decrypt', 'us-east-1', 'StringEquals', 'us-east-1', 'eu-west-1'],
  ['aws:SecureTransport', 'kms:Decrypt', 'false', 'Bool', 'false', 'true'],
  ['aws:SourceIp', 'kms:Decrypt', '192.0.2.7', 'IpAddress', '192.0.2.0/24', '10.0.0.0/8'],
  ['aws:UserAgent', 'kms:Decrypt', 'aws-sdk-js/3.1164.0', 'StringLike', 'aws-sdk-js/*', 'curl/*'],
  ['aws:userid', 'kms:Decrypt', ACCOUNT, 'StringEquals', ACCOUNT, 'AIDAEXAMPLE'],
  ['aws:username', 'kms:Decrypt', 'alice', 'StringEquals', 'alice', 'bob'],
  ['aws:ViaAWSService', 'kms:Decrypt', 'false', 'Bool', 'false', 'true'],
  ['aws:ResourceAccount', 'kms:Decrypt', ACCOUNT, 'StringEquals', ACCOUNT, '999999999999'],
  ['aws:ResourceTag/Team', 'kms:Decrypt', 'blue', 'StringEquals', 'blue', 'red'],
  ['aws:RequestTag/Stage', 'kms:TagResource', 'prod', 'StringEquals', 'prod', 'dev'],
  ['aws:TagKeys', 'kms:TagResource', ['Stage', 'Owner'], 'ForAnyValue:StringEquals', 'Owner', 'CostCenter'],
  ['kms:BypassPolicyLockoutSafetyCheck', 'kms:PutKeyPolicy', 'true', 'Bool', 'true', 'false'],
  ['kms:CallerAccount', 'kms:Decrypt', ACCOUNT, 'StringEquals', ACCOUNT, '999999999999'],
  ['kms:CustomerMasterKeySpec', 'kms:Decrypt', 'SYMMETRIC_DEFAULT', 'StringEquals', 'SYMMETRIC_DEFAULT', 'RSA_2048'],
  ['kms:CustomerMasterKeyUsage', 'kms:Decrypt', 'ENCRYPT_DECRYPT', 'StringEquals', 'ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ['kms:DataKeyPairSpec', 'kms:GenerateDataKeyPair', 'RSA_2048', 'StringEquals', 'RSA_2048', 'ECC_NIST_P256'],
  ['kms:EncryptionAlgorithm', 'kms:Encrypt', 'SYMMETRIC_DEFAULT', 'StringEquals', 'SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'],
  ['kms:EncryptionContext:tenant', 'kms:Decrypt', 'blue', 'StringEquals', 'blue', 'red'],
  ['kms:EncryptionContextKeys', 'kms:Decrypt', ['tenant', 'app'], 'ForAllValues:StringEquals', ['tenant', 'app', 'stage'], ['tenant']],
  ['kms:ExpirationModel', 'kms:ImportKeyMaterial', 'KEY_MATERIAL_EXPIRES', 'StringEquals', 'KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
  ['kms:GrantConstraintType', 'kms:CreateGrant', 'EncryptionContextEquals', 'StringEquals', 'EncryptionContextEquals', 'EncryptionContextSubset'],
  ['kms:GrantIsForAWSResource', 'kms:CreateGrant', 'false', 'Bool', 'false', 'true'],
  ['kms:GrantOperations', 'kms:CreateGrant', ['Decrypt', 'Encrypt'], 'ForAllValues:StringEquals', ['Decrypt', 'Encrypt', 'GenerateDataKey'], ['Encrypt']],
  ['kms:GranteePrincipal', 'kms:CreateGrant', `arn:aws:iam::${ACCOUNT}:role/app`, 'StringEquals', `arn:aws:iam::${ACCOUNT}:role/app`, `arn:aws:iam::${ACCOUNT}:role/other`],
  ['kms:KeyAgreementAlgorithm', 'kms:DeriveSharedSecret', 'ECDH', 'StringEquals', 'ECDH', 'NONE'],
  ['kms:KeyOrigin', 'kms:Decrypt', 'AWS_KMS', 'StringEquals', 'AWS_KMS', 'EXTERNAL'],
  ['kms:KeySpec', 'kms:Decrypt', 'SYMMETRIC_DEFAULT', 'StringLike', 'SYMMETRIC*', 'RSA_*'],
  ['kms:KeyUsage', 'kms:Decrypt', 'ENCRYPT_DECRYPT', 'StringEquals', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC'],
  ['kms:MacAlgorithm', 'kms:GenerateMac', 'HMAC_SHA_256', 'StringEquals', 'HMAC_SHA_256', 'HMAC_SHA_512'],
  ['kms:MessageType', 'kms:Sign', 'DIGEST', 'StringEquals', 'DIGEST', 'RAW'],
  ['kms:MultiRegion', 'kms:Decrypt', 'false', 'Bool', 'false', 'true'],
  ['kms:MultiRegionKeyType', 'kms:ScheduleKeyDeletion', 'REPLICA', 'StringEquals', 'REPLICA', 'PRIMARY'],
  ['kms:PrimaryRegion', 'kms:UpdatePrimaryRegion', 'eu-west-3', 'StringEquals', ['us-east-1', 'eu-west-3'], 'ap-southeast-2'],
  ['kms:ReEncryptOnSameKey', 'kms:ReEncryptFrom', 'true', 'Bool', 'true', 'false'],
  ['kms:ReplicaRegion', 'kms:ReplicateKey', 'eu-west-3', 'StringLike', 'eu-*', 'ap-*'],
  ['kms:RecipientAttestation:ImageSha384', 'kms:Decrypt', 'abcd'.repeat(24), 'StringEqualsIgnoreCase', 'ABCD'.repeat(24), 'ffff'.repeat(24)],
  ['kms:RecipientAttestation:PCR1', 'kms:GenerateDataKey', '0123'.repeat(24), 'StringEqualsIgnoreCase', '0123'.repeat(24), '3210'.repeat(24)],
  ['kms:RequestAlias', 'kms:Encrypt', 'alias/finance-key', 'StringLike', 'alias/finance-*', 'alias/hr-*'],
  ['kms:RetiringPrincipal', 'kms:CreateGrant', `arn:aws:iam::${ACCOUNT}:role/ops`, 'StringEquals', `arn:aws:iam::${ACCOUNT}:role/ops`, `arn:aws:iam::${ACCOUNT}:role/app`],
  ['kms:RotationPeriodInDays', 'kms:EnableKeyRotation', '180', 'NumericLessThanEquals', '365', '90'],
  ['kms:ScheduleKeyDeletionPendingWindowInDays', 'kms:ScheduleKeyDeletion', '7', 'NumericLessThan', '30', '7'],
  ['kms:SigningAlgorithm', 'kms:Sign', 'ECDSA_SHA_256', 'StringEquals', 'ECDSA_SHA_256', 'RSASSA_PSS_SHA_256'],
  ['kms:ValidTo', 'kms:ImportKeyMaterial', '1546257599', 'NumericLessThanEquals', '1546257599.0', '1546257598'],
  ['kms:WrappingAlgorithm', 'kms:GetParametersForImport', 'RSAES_OAEP_SHA_256', 'StringEquals', 'RSAES_OAEP_SHA_256', 'RSAES_PKCS1_V1_5'],
  ['kms:WrappingKeySpec', 'kms:GetParametersForImport', 'RSA_4096', 'StringEquals', 'RSA_4096', 'RSA_2048'],
];

const withIfExists = (op: string) => (op.startsWith('For') ? op : `${op}IfExists`);

/** Four rows per key: a Deny that matches denies; one that does not, does not; absent, IfExists passes and the plain form fails (a set operator as IAM documents it). */
function keyRows([key, action, value, op, yes, no]: KeyCase): Row[] {
  const absentPlain: Effect = op.startsWith('ForAllValues') ? 'Allow' : 'ImplicitDeny';
  return [
    [`${key} ${op} ${JSON.stringify(yes)} on ${action}: Deny applies`, deny(op, key, yes), { action, ctx: { [key]: value } }, 'ExplicitDeny'],
    [`${key} ${op} ${JSON.stringify(no)} on ${action}: Deny does not apply`, deny(op, key, no), { action, ctx: { [key]: value } }, 'Allow'],
    [`${key} absent: ${withIfExists(op)} passes`, allowIf(withIfExists(op), key, yes), { action }, op.startsWith('ForAnyValue') ? 'ImplicitDeny' : 'Allow'],
    [`${key} absent: ${op} ${op.startsWith('ForAllValues') ? 'is true (empty set)' : 'fails'}`, allowIf(op, key, yes), { action }, absentPlain],
  ];
}

const NEVER = CONDITION_KEYS.filter((k) => k.on === 'never').map((k) => k.key.replace(/<[^>]+>/, 'x'));

// C. IAM operators: [operator, policy values, request values (undefined: key absent), condition holds]
type OpCase = readonly [string, string | string[], string[] | undefined, boolean];
const OPERATOR_CASES: readonly OpCase[] = [
  ['StringEquals', 'a', ['a'], true], ['StringEquals', 'a', ['A'], false], ['StringEquals', ['a', 'b'], ['b'], true], ['StringEquals', 'a', undefined, false],
  ['StringNotEquals', 'a', ['b'], true], ['StringNotEquals', ['a', 'b'], ['b'], false], ['StringNotEquals', 'a', undefined, true],
  ['StringEqualsIgnoreCase', 'AbC', ['aBc'], true], ['StringNotEqualsIgnoreCase', 'AbC', ['aBc'], false], ['StringNotEqualsIgnoreCase', 'AbC', undefined, true],
  ['StringLike', 'arn:*:role/?x', ['arn:aws:iam::1:role/ax'], true], ['StringLike', 'a*', ['ba'], false], ['StringNotLike', 'a*', ['ba'], true], ['StringNotLike', 'a*', undefined, true],
  ['NumericEquals', '10', ['10.0'], true], ['NumericNotEquals', '10', ['11'], true], ['NumericLessThan', '10', ['9'], true], ['NumericLessThan', '10', ['10'], false],
  ['NumericLessThanEquals', '10', ['10'], true], ['NumericGreaterThan', '10', ['10'], false], ['NumericGreaterThanEquals', '10', ['10'], true], ['NumericEquals', '10', ['ten'], false],
  ['DateEquals', '2026-06-01T00:00:00Z', ['2026-06-01T00:00:00Z'], true], ['DateNotEquals', '2026-06-01T00:00:00Z', ['2026-06-02T00:00:00Z'], true],
  ['DateLessThan', '2027-01-01T00:00:00Z', ['2026-06-01T00:00:00Z'], true], ['DateLessThanEquals', '2026-06-01', ['2026-06-01T00:00:00Z'], true],
  ['DateGreaterThan', '2027-01-01T00:00:00Z', ['2026-06-01T00:00:00Z'], false], ['DateGreaterThanEquals', '1780272000', ['2026-06-01T00:00:00Z'], true],
  ['DateLessThan', 'June 1 2027', ['2026-06-01T00:00:00Z'], false],
  ['Bool', 'true', ['true'], true], ['Bool', 'TRUE', ['true'], true], ['Bool', 'true', ['false'], false], ['Bool', 'yes', ['true'], false], ['Bool', 'true', undefined, false],
  ['BinaryEquals', 'QmluYXJ5', ['QmluYXJ5'], true], ['BinaryEquals', 'QmluYXJ5', ['QmluYXJ6'], false],
  ['IpAddress', '203.0.113.0/24', ['203.0.113.9'], true], ['IpAddress', '203.0.113.9', ['203.0.113.9'], true], ['IpAddress', '2001:DB8:1234:5678::/64', ['2001:db8:1234:5678::1'], true],
  ['NotIpAddress', '203.0.113.0/24', ['198.51.100.1'], true], ['NotIpAddress', '203.0.113.0/24', undefined, true], ['IpAddress', '203.0.113.0/33', ['203.0.113.9'], false],
  ['ArnEquals', 'arn:aws:iam::*:role/app', [`arn:aws:iam::${ACCOUNT}:role/app`], true], ['ArnLike', 'arn:aws:iam::*:role/app', [`arn:aws:iam::${ACCOUNT}:role/app`], true],
  // "ArnLike … matches elements between colons": the StringLike match of the IAM example fails here.
  ['ArnLike', 'arn:aws:someservice:*:111122223333:finance/*', ['arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt'], false],
  ['StringLike', 'arn:aws:someservice:*:111122223333:finance/*', ['arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt'], true],
  ['ArnLike', 'arn:aws:*:user/admin', ['arn:aws:iam::999999999999:user/admin'], false], ['ArnLike', 'arn:aws:iam::*', ['arn:aws:iam::1:user/x'], false],
  ['ArnLike', 'arn:aws:s3:::bucket/*', ['arn:aws:s3:::bucket/a:b/c'], true], ['ArnNotLike', 'arn:aws:iam::*:user/*', [`arn:aws:iam::${ACCOUNT}:role/x`], true], ['ArnNotEquals', 'arn:aws:iam::*:user/*', undefined, true],
  ['StringEqualsIfExists', 'a', undefined, true], ['StringEqualsIfExists', 'a', ['b'], false], ['StringNotEqualsIfExists', 'a', undefined, true], ['NumericLessThanIfExists', '5', undefined, true],
  ['DateLessThanIfExists', '2027-01-01', undefined, true], ['BoolIfExists', 'true', undefined, true], ['BoolIfExists', 'true', ['false'], false], ['IpAddressIfExists', '10.0.0.0/8', undefined, true], ['ArnLikeIfExists', 'arn:aws:iam::*:role/x', undefined, true],
  ['Null', 'true', undefined, true], ['Null', 'true', ['x'], false], ['Null', 'false', ['x'], true], ['Null', 'false', undefined, false], ['Null', 'yes', undefined, false],
  ['ForAllValues:Null', 'true', ['x'], true], ['ForAnyValue:Null', 'true', undefined, false],
  ['ForAnyValue:StringEquals', ['a', 'b'], ['x', 'b'], true], ['ForAnyValue:StringEquals', 'a', ['x', 'y'], false], ['ForAnyValue:StringEquals', 'a', undefined, false],
  ['ForAllValues:StringEquals', ['a', 'b'], ['a', 'b'], true], ['ForAllValues:StringEquals', 'a', ['a', 'b'], false], ['ForAllValues:StringEquals', 'a', undefined, true],
  ['ForAllValues:StringNotEquals', 'a', ['b', 'c'], true], ['ForAllValues:StringNotEquals', 'a', ['a', 'c'], false], ['ForAnyValue:StringNotEquals', 'a', ['a', 'c'], true], ['ForAnyValue:StringNotEquals', 'a', ['a'], false],
  ['ForAnyValue:StringLike', 'tenant*', ['app', 'tenantId'], true], ['ForAllValues:StringLike', 'tenant*', ['app', 'tenantId'], false], ['ForAnyValue:StringLikeIfExists', 'a*', undefined, true], ['ForAllValues:StringLikeIfExists', 'a*', ['b'], false],
  ['ForAnyValue:NumericGreaterThan', '10', ['5', '11'], true], ['ForAllValues:NumericGreaterThan', '10', ['5', '11'], false],
];

const grant = (over: Partial<GrantRecord>): GrantRecord => ({ grantId: 'g', keyId: 'k', region: 'us-east-1', granteePrincipal: ALICE, issuingAccount: ACCOUNT, operations: ['Decrypt'], creationDate: 0, grantToken: 't', ...over });
const onlyAdmin = [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/admin` }, Action: 'kms:*', Resource: '*' }];

const GROUPS: readonly (readonly [string, readonly Row[]])[] = [
  ['A. KMS Developer Guide, "AWS KMS permissions" and "AWS KMS condition keys"; "Condition keys for Nitro Enclaves"; IAM User Guide, "AWS global condition context keys" (each key with an operation that supplies it)', KEY_CASES.flatMap(keyRows)],
  [
    'B. IAM User Guide, "Condition operators": "If the key … is not present in the request context, the values do not match" (keys this KMS never supplies; policy/catalogue.ts says why)',
    NEVER.flatMap((key): Row[] => [
      [`${key} absent: Deny Null true applies`, deny('Null', key, 'true'), {}, 'ExplicitDeny'],
      [`${key} absent: Deny StringLike * does not apply`, deny('StringLike', key, '*'), {}, 'Allow'],
    ]),
  ],
  [
    'C. IAM User Guide, "IAM JSON policy elements: Condition operators" (String, Numeric, Date, Bool, Binary, IP, ARN, …IfExists, Null) and "Single-valued vs. multivalued context keys" (ForAllValues, ForAnyValue)',
    OPERATOR_CASES.map(([op, yes, request, holds]): Row => [`${op} ${JSON.stringify(yes)} vs ${JSON.stringify(request)}`, allowIf(op, 'aws:UserAgent', yes), { ctx: request === undefined ? {} : { 'aws:UserAgent': request } }, holds ? 'Allow' : 'ImplicitDeny']),
  ],
  [
    'D1. IAM User Guide, "AWS JSON policy elements: Principal" and "NotPrincipal"; "Policy evaluation logic"',
    [
      ['the account root in Principal: every principal of the account', [allowAll], {}, 'Allow'],
      ['the account id in Principal: the same', [{ ...allowAll, Principal: { AWS: ACCOUNT } }], {}, 'Allow'],
      ['another account: implicit deny', [allowAll], { principal: 'arn:aws:iam::999999999999:user/alice', account: '999999999999' }, 'ImplicitDeny'],
      ['a user ARN is exact, its case too', [{ ...allowAll, Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/Alice` } }], {}, 'ImplicitDeny'],
      ['a role ARN matches its sessions', [{ ...allowAll, Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/app` } }], { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1` }, 'Allow'],
      ['a role ARN with a path matches its sessions', [{ ...allowAll, Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/team/app` } }], { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1` }, 'Allow'],
      ['a session ARN matches that session only', [{ ...allowAll, Principal: { AWS: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1` } }], { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s2` }, 'ImplicitDeny'],
      ['"*" is everyone', [{ ...allowAll, Principal: '*' }], { principal: 'arn:aws:iam::999999999999:user/x', account: '999999999999' }, 'Allow'],
      ['a service principal matches no caller', [{ ...allowAll, Principal: { Service: 'ec2.amazonaws.com' } }], {}, 'ImplicitDeny'],
      ['NotPrincipal naming the user and its account: not denied', [allowAll, { Effect: 'Deny', NotPrincipal: { AWS: [ALICE, ROOT] }, Action: 'kms:*', Resource: '*' }], {}, 'Allow'],
      ['NotPrincipal naming only the user: the account is denied, so the user is', [allowAll, { Effect: 'Deny', NotPrincipal: { AWS: ALICE }, Action: 'kms:*', Resource: '*' }], {}, 'ExplicitDeny'],
      ['NotPrincipal naming the session, its role and the account: not denied', [allowAll, { Effect: 'Deny', NotPrincipal: { AWS: [`arn:aws:sts::${ACCOUNT}:assumed-role/app/s1`, `arn:aws:iam::${ACCOUNT}:role/app`, ACCOUNT] }, Action: 'kms:*', Resource: '*' }], { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1` }, 'Allow'],
      ['NotPrincipal naming the session and the account but not the role: denied', [allowAll, { Effect: 'Deny', NotPrincipal: { AWS: [`arn:aws:sts::${ACCOUNT}:assumed-role/app/s1`, ACCOUNT] }, Action: 'kms:*', Resource: '*' }], { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s1` }, 'ExplicitDeny'],
      ['NotPrincipal: another principal is denied', [allowAll, { Effect: 'Deny', NotPrincipal: { AWS: [ALICE, ROOT] }, Action: 'kms:*', Resource: '*' }], { principal: `arn:aws:iam::${ACCOUNT}:user/bob` }, 'ExplicitDeny'],
      ['explicit deny wins over an allow', [allowAll, { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }], {}, 'ExplicitDeny'],
      ['NotAction: the deny covers every other action', [allowAll, { Effect: 'Deny', Principal: '*', NotAction: 'kms:Describe*', Resource: '*' }], { action: 'kms:Encrypt' }, 'ExplicitDeny'],
      ['NotAction: not the named one', [allowAll, { Effect: 'Deny', Principal: '*', NotAction: 'kms:Describe*', Resource: '*' }], { action: 'kms:DescribeKey' }, 'Allow'],
      ['action names are case-insensitive', [{ ...allowAll, Action: 'KMS:decrypt' }], {}, 'Allow'],
    ],
  ],
  [
    'D2. IAM User Guide, "IAM JSON policy elements: Resource" (wildcards within ARN segments; a * ending a segment "can expand to match beyond the colon boundaries") and "Variables and tags"',
    [
      ['Resource "*" is the key', [allowAll], {}, 'Allow'],
      ['Resource: the key ARN', [{ ...allowAll, Resource: KEY }], {}, 'Allow'],
      ['Resource: key/* in this account and Region', [{ ...allowAll, Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/*` }], {}, 'Allow'],
      ['Resource: a * ending a segment runs over colons', [{ ...allowAll, Resource: 'arn:aws:kms:*:key/*' }], {}, 'Allow'],
      ['Resource: arn:aws:kms:* is every KMS resource', [{ ...allowAll, Resource: 'arn:aws:kms:*' }], {}, 'Allow'],
      ['Resource: a * inside a segment does not run over colons', [{ ...allowAll, Resource: 'arn:aws:kms:u*1:key/*' }], {}, 'ImplicitDeny'],
      ['Resource: a * inside a segment matches within it', [{ ...allowAll, Resource: `arn:aws:kms:us-*-1:${ACCOUNT}:key/*` }], {}, 'Allow'],
      ['Resource: another service', [{ ...allowAll, Resource: 'arn:aws:s3:*' }], {}, 'ImplicitDeny'],
      ['Resource: another Region', [{ ...allowAll, Resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/*` }], {}, 'ImplicitDeny'],
      ['${aws:username} resolves', allowIf('StringEquals', 'kms:EncryptionContext:user', '${aws:username}'), { ctx: { 'aws:username': 'alice', 'kms:EncryptionContext:user': 'alice' } }, 'Allow'],
      ['${aws:username} is another user', allowIf('StringEquals', 'kms:EncryptionContext:user', '${aws:username}'), { ctx: { 'aws:username': 'bob', 'kms:EncryptionContext:user': 'alice' } }, 'ImplicitDeny'],
      ['a variable without a value matches nothing', allowIf('StringEquals', 'kms:EncryptionContext:user', '${aws:username}'), { ctx: { 'kms:EncryptionContext:user': '${aws:username}' } }, 'ImplicitDeny'],
      ['a default value applies when the key is absent', allowIf('StringEquals', 'kms:EncryptionContext:team', "${aws:PrincipalTag/team, 'none'}"), { ctx: { 'kms:EncryptionContext:team': 'none' } }, 'Allow'],
      ['${*} is a literal *', allowIf('StringLike', 'kms:EncryptionContext:x', 'a${*}'), { ctx: { 'kms:EncryptionContext:x': 'abc' } }, 'ImplicitDeny'],
      ['${*} matches a real *', allowIf('StringLike', 'kms:EncryptionContext:x', 'a${*}'), { ctx: { 'kms:EncryptionContext:x': 'a*' } }, 'Allow'],
      ["a variable's value is literal, not a wildcard", allowIf('StringLike', 'kms:EncryptionContext:x', '${aws:username}'), { ctx: { 'aws:username': '*', 'kms:EncryptionContext:x': 'anything' } }, 'ImplicitDeny'],
    ],
  ],
  [
    'D3. KMS Developer Guide, "Grants in AWS KMS", "Creating grants" (grant constraints, "Granting CreateGrant permission"); API Reference, "GrantConstraints"',
    [
      ['a grant allows its grantee', onlyAdmin, { grants: [grant({})] }, 'Allow'],
      ['not another principal', onlyAdmin, { principal: `arn:aws:iam::${ACCOUNT}:user/bob`, grants: [grant({})] }, 'ImplicitDeny'],
      ['an account-root grantee: every principal of that account', onlyAdmin, { grants: [grant({ granteePrincipal: ROOT })] }, 'Allow'],
      ['a role grantee: its sessions', onlyAdmin, { principal: `arn:aws:sts::${ACCOUNT}:assumed-role/app/s`, grants: [grant({ granteePrincipal: `arn:aws:iam::${ACCOUNT}:role/app` })] }, 'Allow'],
      ['not an operation it lacks', onlyAdmin, { action: 'kms:Encrypt', grants: [grant({})] }, 'ImplicitDeny'],
      ['a grant never overrides an explicit deny', [allowAll, { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }], { grants: [grant({})] }, 'ExplicitDeny'],
      ['Subset: extra pairs allowed', onlyAdmin, { ec: { tenant: 'a', x: '1' }, grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'a' } } })] }, 'Allow'],
      ['Subset: the pair missing', onlyAdmin, { ec: { x: '1' }, grants: [grant({ constraints: { EncryptionContextSubset: { tenant: 'a' } } })] }, 'ImplicitDeny'],
      ['Equals: exactly', onlyAdmin, { ec: { tenant: 'a' }, grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'a' } } })] }, 'Allow'],
      ['Equals: an extra pair', onlyAdmin, { ec: { tenant: 'a', x: '1' }, grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'a' } } })] }, 'ImplicitDeny'],
      ['constraint keys ignore case', onlyAdmin, { ec: { Tenant: 'a' }, grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'a' } } })] }, 'Allow'],
      ['constraint values do not', onlyAdmin, { ec: { tenant: 'A' }, grants: [grant({ constraints: { EncryptionContextEquals: { tenant: 'a' } } })] }, 'ImplicitDeny'],
      ['DescribeKey ignores constraints', onlyAdmin, { action: 'kms:DescribeKey', grants: [grant({ operations: ['DescribeKey'], constraints: { EncryptionContextEquals: { tenant: 'a' } } })] }, 'Allow'],
      ['CreateGrant: a subset of the parent operations', onlyAdmin, { action: 'kms:CreateGrant', child: { operations: ['Decrypt'] }, grants: [grant({ operations: ['Decrypt', 'CreateGrant'] })] }, 'Allow'],
      ['CreateGrant: an operation the parent lacks', onlyAdmin, { action: 'kms:CreateGrant', child: { operations: ['Encrypt'] }, grants: [grant({ operations: ['Decrypt', 'CreateGrant'] })] }, 'ImplicitDeny'],
      ['CreateGrant: Subset may gain pairs', onlyAdmin, { action: 'kms:CreateGrant', child: { operations: ['Decrypt'], constraints: { EncryptionContextSubset: { tenant: 'a', x: '1' } } }, grants: [grant({ operations: ['Decrypt', 'CreateGrant'], constraints: { EncryptionContextSubset: { tenant: 'a' } } })] }, 'Allow'],
      ['CreateGrant: Subset may become Equals', onlyAdmin, { action: 'kms:CreateGrant', child: { operations: ['Decrypt'], constraints: { EncryptionContextEquals: { tenant: 'a' } } }, grants: [grant({ operations: ['Decrypt', 'CreateGrant'], constraints: { EncryptionContextSubset: { tenant: 'a' } } })] }, 'Allow'],
      ['CreateGrant: Equals may not become Subset', onlyAdmin, { action: 'kms:CreateGrant', child: { operations: ['Decrypt'], constraints: { EncryptionContextSubset: { tenant: 'a' } } }, grants: [grant({ operations: ['Decrypt', 'CreateGrant'], constraints: { EncryptionContextEquals: { tenant: 'a' } } })] }, 'ImplicitDeny'],
      ['CreateGrant: constraints may not be dropped', onlyAdmin, { action: 'kms:CreateGrant', child: { operations: ['Decrypt'] }, grants: [grant({ operations: ['Decrypt', 'CreateGrant'], constraints: { EncryptionContextSubset: { tenant: 'a' } } })] }, 'ImplicitDeny'],
      ['CreateGrant from the key policy is not bounded', [allowAll], { action: 'kms:CreateGrant', child: { operations: ['Encrypt'] }, grants: [grant({ operations: ['Decrypt', 'CreateGrant'] })] }, 'Allow'],
    ],
  ],
];

describe('policy-evaluation table: each request and the decision AWS documents', () => {
  test('at least 200 rows, and every condition key of the catalogue has rows', () => {
    expect(GROUPS.reduce((n, [, rows]) => n + rows.length, 0)).toBeGreaterThanOrEqual(200);
    const named = new Set([...KEY_CASES.map((c) => c[0]), ...NEVER]);
    for (const k of CONDITION_KEYS) expect(named.has(k.key.replace(/<[^>]+>/, (m) => (k.on === 'never' ? 'x' : m === '<tag-key>' ? (k.key.startsWith('aws:Request') ? 'Stage' : 'Team') : m === '<context-key>' ? 'tenant' : '1'))), k.key).toBe(true);
  });
  for (const [doc, rows] of GROUPS) {
    describe(doc, () => {
      test.each(rows.map((r) => [r[0], r] as const))('%s', (_what, row) => {
        expect(run(row)).toBe(row[3]);
      });
    });
  }
});
