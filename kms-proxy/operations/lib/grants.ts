// Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant (KMS API Reference;
// Developer Guide "Grants in AWS KMS"). A grant allows its grantee the listed operations, possibly
// constrained by encryption context; it never denies. Grants take effect at once here, so grant
// tokens are accepted but not needed.
// Helpers shared by the grants operations, which live one per file in operations/.
import type { GrantRecord } from '../../model.ts';

export const GRANT_OPERATIONS = [
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
  'Sign', 'Verify', 'GetPublicKey', 'CreateGrant', 'RetireGrant', 'DescribeKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateMac', 'VerifyMac', 'DeriveSharedSecret',
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
