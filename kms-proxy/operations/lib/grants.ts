// Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant (KMS API Reference;
// Developer Guide "Grants in AWS KMS"). A grant allows its grantee the listed operations, possibly
// constrained by encryption context; it never denies (policy/grants.ts decides). Grants take effect
// at once here, so a grant token adds nothing: it is accepted on every grant operation, checked for
// form, and never a bearer credential (the grant still applies to its grantee only).
// Helpers shared by the grants operations, which live one per file in operations/.
import { kmsError } from '../../errors.ts';
import type { GrantConstraints, GrantRecord, KeyRecord } from '../../model.ts';

export const GRANT_OPERATIONS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'Sign', 'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret', 'Encapsulate', 'Decapsulate',
] as const;

export const PrincipalField = { t: 'string', min: 1, max: 256, pattern: '^[\\w+=,.@:/-]+$' } as const;
export const GrantIdField = { t: 'string', min: 1, max: 128, required: true } as const;

export function grantView(g: GrantRecord, keyArn: string): Record<string, unknown> {
  return {
    KeyId: keyArn,
    GrantId: g.grantId,
    ...(g.name !== undefined ? { Name: g.name } : {}),
    CreationDate: g.creationDate / 1000,
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal !== undefined ? { RetiringPrincipal: g.retiringPrincipal } : {}),
    IssuingAccount: `arn:aws:iam::${g.issuingAccount}:root`,
    Operations: g.operations,
    ...(g.constraints ? { Constraints: g.constraints } : {}),
  };
}

/**
 * Service principals are for grants AWS services use on a caller's behalf, and filters by them are
 * "only usable by callers in a service principal" (ListGrants, ListRetirableGrants): no AWS service
 * calls this KMS.
 */
export function noServicePrincipals(): never {
  throw kmsError('UnsupportedOperationException', 'Grants to service principals and SourceArn grant constraints are not supported by this KMS: no AWS service calls it.');
}

/** kms:GrantIsForAWSResource: no AWS service calls this KMS, so never true (KMS Developer Guide, "AWS KMS condition keys"). */
export const NOT_FOR_AWS_RESOURCE = { 'kms:GrantIsForAWSResource': 'false' } as const;

const COMMON = ['CreateGrant', 'DescribeKey', 'RetireGrant'];

/**
 * The grant operations a key supports (KMS Developer Guide, "Grants in AWS KMS", "Grant operations",
 * and "Key type reference"): a grant for a symmetric encryption key cannot allow Sign or GenerateMac,
 * one for an asymmetric key cannot allow the data-key operations, and so on.
 */
export function grantOperationsFor(key: Pick<KeyRecord, 'keySpec' | 'keyUsage'>): readonly string[] {
  switch (key.keyUsage) {
    case 'ENCRYPT_DECRYPT':
      return key.keySpec === 'SYMMETRIC_DEFAULT'
        ? ['Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', ...COMMON]
        : ['Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey', ...COMMON];
    case 'SIGN_VERIFY':
      return ['Sign', 'Verify', 'GetPublicKey', ...COMMON];
    case 'KEY_AGREEMENT':
      return ['DeriveSharedSecret', 'GetPublicKey', ...COMMON];
    case 'GENERATE_VERIFY_MAC':
      return ['GenerateMac', 'VerifyMac', ...COMMON];
    case 'ENCAPSULATE_DECAPSULATE':
      return ['Encapsulate', 'Decapsulate', ...COMMON];
  }
}

const MAX_CONSTRAINT_PAIRS = 8;
const MAX_CONSTRAINT_VALUE = 384;

/**
 * Checks a CreateGrant's operations and constraints against the key ("Using grant constraints":
 * encryption-context constraints only on symmetric encryption keys, at most 8 pairs each, values of at
 * most 384 characters). ValidationException, as AWS answers ("fails with a ValidationError exception").
 */
export function checkGrant(key: KeyRecord, operations: readonly string[], constraints: GrantConstraints | undefined): void {
  const allowed = grantOperationsFor(key);
  const bad = operations.filter((o) => !allowed.includes(o));
  if (bad.length > 0) throw kmsError('ValidationException', `Grant operations [${bad.join(', ')}] are not valid for ${key.arn}, whose key spec is ${key.keySpec} and key usage ${key.keyUsage}.`);
  if (!constraints) return;
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('ValidationException', `Encryption context grant constraints are valid only for symmetric encryption KMS keys, and ${key.arn} is ${key.keySpec}.`);
  for (const [name, ctx] of Object.entries(constraints) as [string, Record<string, string> | undefined][]) {
    if (!ctx) continue;
    if (Object.keys(ctx).length > MAX_CONSTRAINT_PAIRS) throw kmsError('ValidationException', `${name} can include at most ${MAX_CONSTRAINT_PAIRS} encryption context pairs.`);
    for (const v of Object.values(ctx)) {
      if (v.length > MAX_CONSTRAINT_VALUE) throw kmsError('ValidationException', `An encryption context value in ${name} cannot exceed ${MAX_CONSTRAINT_VALUE} characters.`);
    }
  }
}
