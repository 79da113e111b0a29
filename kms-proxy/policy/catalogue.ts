// Every condition key AWS KMS documents, with the operations this KMS supplies it on when it
// evaluates a key policy. Sources: KMS Developer Guide, "AWS KMS permissions" (the per-operation
// table), "AWS KMS condition keys", "Condition keys for Nitro Enclaves", "AWS global condition keys";
// IAM User Guide, "AWS global condition context keys" (each key's Availability); Service
// Authorization Reference, "Actions, resources, and condition keys for AWS Key Management Service"
// (the types). kms-proxy/README.md has the same table, and a test keeps the two equal and checks, by
// running every operation, that each key is supplied exactly where this says.

export type KeyType = 'String' | 'ArrayOfString' | 'Numeric' | 'Bool' | 'Date' | 'IPAddress' | 'ARN';

export interface ConditionKey {
  /** The key; `<…>` marks a part the caller chooses (`aws:ResourceTag/<tag-key>`). */
  readonly key: string;
  readonly type: KeyType;
  /**
   * `request`: every request; `key`: every operation authorized against a KMS key; a list: those
   * actions; `never`: AWS supplies it only in situations this KMS cannot have (see `why`).
   */
  readonly on: 'request' | 'key' | 'never' | readonly string[];
  /** When it is present on those operations, if not always; why it is never supplied, for `never`. */
  readonly why?: string;
}

/** The actions authorized against a KMS key by its key policy ("KMS key resource operations"). */
export const KEY_ACTIONS: readonly string[] = Object.freeze([
  'kms:CancelKeyDeletion', 'kms:CreateAlias', 'kms:CreateGrant', 'kms:Decrypt', 'kms:DeleteAlias', 'kms:DeleteImportedKeyMaterial',
  'kms:DeriveSharedSecret', 'kms:DescribeKey', 'kms:DisableKey', 'kms:DisableKeyRotation', 'kms:EnableKey', 'kms:EnableKeyRotation',
  'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateMac', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:GetParametersForImport',
  'kms:GetPublicKey', 'kms:ImportKeyMaterial', 'kms:ListGrants', 'kms:ListKeyPolicies', 'kms:ListKeyRotations', 'kms:ListResourceTags',
  'kms:PutKeyPolicy', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:ReplicateKey', 'kms:RevokeGrant', 'kms:RotateKeyOnDemand', 'kms:ScheduleKeyDeletion',
  'kms:Sign', 'kms:TagResource', 'kms:UntagResource', 'kms:UpdateAlias', 'kms:UpdateKeyDescription', 'kms:UpdatePrimaryRegion', 'kms:Verify', 'kms:VerifyMac',
]);

const CRYPTO_EC = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'];
const CRYPTOGRAPHIC = [...CRYPTO_EC, 'kms:Sign', 'kms:Verify', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:DeriveSharedSecret'];
const RECIPIENT = ['kms:Decrypt', 'kms:DeriveSharedSecret', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair'];
const NO_SERVICES = 'no AWS service calls this KMS';

export const CONDITION_KEYS: readonly ConditionKey[] = Object.freeze([
  // Global keys (IAM User Guide, "AWS global condition context keys"; KMS "supports all global condition keys").
  { key: 'aws:CurrentTime', type: 'Date', on: 'request' },
  { key: 'aws:EpochTime', type: 'Date', on: 'request' },
  { key: 'aws:PrincipalAccount', type: 'String', on: 'request' },
  { key: 'aws:PrincipalArn', type: 'ARN', on: 'request', why: 'for a role session, the role ARN' },
  { key: 'aws:PrincipalIsAWSService', type: 'Bool', on: 'request', why: 'always false' },
  { key: 'aws:PrincipalType', type: 'String', on: 'request', why: 'Account, User, AssumedRole or FederatedUser' },
  { key: 'aws:RequestedRegion', type: 'String', on: 'request' },
  { key: 'aws:SecureTransport', type: 'Bool', on: 'request', why: 'false: the KMS serves plain HTTP' },
  { key: 'aws:SourceIp', type: 'IPAddress', on: 'request' },
  { key: 'aws:UserAgent', type: 'String', on: 'request', why: 'when the request has a User-Agent header' },
  { key: 'aws:userid', type: 'String', on: 'request', why: 'the account root only (the account id): credentials carry no IAM unique id' },
  { key: 'aws:username', type: 'String', on: 'request', why: 'IAM users only' },
  { key: 'aws:ViaAWSService', type: 'Bool', on: 'request', why: 'always false' },
  { key: 'aws:ResourceAccount', type: 'String', on: 'key' },
  { key: 'aws:ResourceTag/<tag-key>', type: 'String', on: 'key', why: 'one per tag of the key' },
  { key: 'aws:RequestTag/<tag-key>', type: 'String', on: ['kms:TagResource'], why: 'one per tag in the request (CreateKey: IAM policies only)' },
  { key: 'aws:TagKeys', type: 'ArrayOfString', on: ['kms:TagResource', 'kms:UntagResource'], why: 'CreateKey: IAM policies only' },
  { key: 'aws:CalledVia', type: 'ArrayOfString', on: 'never', why: NO_SERVICES },
  { key: 'aws:CalledViaFirst', type: 'String', on: 'never', why: NO_SERVICES },
  { key: 'aws:CalledViaLast', type: 'String', on: 'never', why: NO_SERVICES },
  { key: 'aws:SourceAccount', type: 'String', on: 'never', why: NO_SERVICES },
  { key: 'aws:SourceArn', type: 'ARN', on: 'never', why: NO_SERVICES },
  { key: 'aws:PrincipalServiceName', type: 'String', on: 'never', why: NO_SERVICES },
  { key: 'aws:PrincipalServiceNamesList', type: 'ArrayOfString', on: 'never', why: NO_SERVICES },
  { key: 'aws:SourceVpc', type: 'String', on: 'never', why: 'no VPC endpoints' },
  { key: 'aws:SourceVpce', type: 'String', on: 'never', why: 'no VPC endpoints' },
  { key: 'aws:VpcSourceIp', type: 'IPAddress', on: 'never', why: 'no VPC endpoints' },
  { key: 'aws:Ec2InstanceSourceVpc', type: 'String', on: 'never', why: 'no EC2 role credentials' },
  { key: 'aws:Ec2InstanceSourcePrivateIPv4', type: 'IPAddress', on: 'never', why: 'no EC2 role credentials' },
  { key: 'aws:PrincipalOrgID', type: 'String', on: 'never', why: 'no AWS Organizations' },
  { key: 'aws:PrincipalOrgPaths', type: 'ArrayOfString', on: 'never', why: 'no AWS Organizations' },
  { key: 'aws:ResourceOrgID', type: 'String', on: 'never', why: 'no AWS Organizations' },
  { key: 'aws:ResourceOrgPaths', type: 'ArrayOfString', on: 'never', why: 'no AWS Organizations' },
  { key: 'aws:PrincipalTag/<tag-key>', type: 'String', on: 'never', why: 'credentials carry no principal tags' },
  { key: 'aws:MultiFactorAuthPresent', type: 'Bool', on: 'never', why: 'long-term access keys only (absent for them on AWS too)' },
  { key: 'aws:MultiFactorAuthAge', type: 'Numeric', on: 'never', why: 'long-term access keys only' },
  { key: 'aws:TokenIssueTime', type: 'Date', on: 'never', why: 'long-term access keys only' },
  { key: 'aws:SourceIdentity', type: 'String', on: 'never', why: 'no STS sessions' },
  { key: 'aws:FederatedProvider', type: 'String', on: 'never', why: 'no identity providers' },
  { key: 'aws:referer', type: 'String', on: 'never', why: 'programmatic requests only (absent for them on AWS too)' },
  // AWS KMS keys (KMS Developer Guide, "AWS KMS condition keys", "AWS KMS permissions").
  { key: 'kms:BypassPolicyLockoutSafetyCheck', type: 'Bool', on: ['kms:PutKeyPolicy'], why: 'false when omitted (CreateKey: IAM policies only)' },
  { key: 'kms:CallerAccount', type: 'String', on: 'key' },
  { key: 'kms:CustomerMasterKeySpec', type: 'String', on: 'key', why: 'deprecated; the same value as kms:KeySpec' },
  { key: 'kms:CustomerMasterKeyUsage', type: 'String', on: 'key', why: 'deprecated; the same value as kms:KeyUsage' },
  { key: 'kms:DataKeyPairSpec', type: 'String', on: ['kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext'] },
  { key: 'kms:EncryptionAlgorithm', type: 'String', on: CRYPTO_EC },
  { key: 'kms:EncryptionContext:<context-key>', type: 'String', on: [...CRYPTO_EC, 'kms:CreateGrant'], why: 'one per pair of the encryption context (CreateGrant: of its constraints; ReEncryptFrom: the source context, ReEncryptTo: the destination context)' },
  { key: 'kms:EncryptionContextKeys', type: 'ArrayOfString', on: [...CRYPTO_EC, 'kms:CreateGrant'], why: 'when the encryption context is not empty' },
  { key: 'kms:ExpirationModel', type: 'String', on: ['kms:ImportKeyMaterial'] },
  { key: 'kms:GrantConstraintSourceArn', type: 'ARN', on: 'never', why: 'CreateGrant refuses a SourceArn constraint: ' + NO_SERVICES },
  { key: 'kms:GrantConstraintType', type: 'String', on: ['kms:CreateGrant'], why: 'when the grant has constraints' },
  { key: 'kms:GrantIsForAWSResource', type: 'Bool', on: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'], why: 'always false: ' + NO_SERVICES },
  { key: 'kms:GrantOperations', type: 'ArrayOfString', on: ['kms:CreateGrant'] },
  { key: 'kms:GranteePrincipal', type: 'String', on: ['kms:CreateGrant'] },
  { key: 'kms:GranteeServicePrincipal', type: 'String', on: 'never', why: 'CreateGrant refuses service principals: ' + NO_SERVICES },
  { key: 'kms:KeyAgreementAlgorithm', type: 'String', on: ['kms:DeriveSharedSecret'] },
  { key: 'kms:KeyOrigin', type: 'String', on: 'key', why: 'CreateKey: IAM policies only' },
  { key: 'kms:KeySpec', type: 'String', on: 'key', why: 'CreateKey: IAM policies only' },
  { key: 'kms:KeyUsage', type: 'String', on: 'key', why: 'CreateKey: IAM policies only' },
  { key: 'kms:MacAlgorithm', type: 'String', on: ['kms:GenerateMac', 'kms:VerifyMac'] },
  { key: 'kms:MessageType', type: 'String', on: ['kms:Sign', 'kms:Verify'], why: 'RAW when omitted' },
  { key: 'kms:MultiRegion', type: 'Bool', on: 'key', why: 'true for a multi-Region key (CreateKey: IAM policies only)' },
  { key: 'kms:MultiRegionKeyType', type: 'String', on: 'key', why: 'multi-Region keys only, PRIMARY or REPLICA ("Only multi-Region keys have a MultiRegionKeyType property"; CreateKey: IAM policies only)' },
  { key: 'kms:PrimaryRegion', type: 'String', on: ['kms:UpdatePrimaryRegion'], why: 'the PrimaryRegion parameter' },
  { key: 'kms:ReEncryptOnSameKey', type: 'Bool', on: ['kms:ReEncryptFrom', 'kms:ReEncryptTo'] },
  { key: 'kms:RecipientAttestation:ImageSha384', type: 'String', on: RECIPIENT, why: 'with a valid Recipient document (GenerateRandom: IAM policies only)' },
  { key: 'kms:RecipientAttestation:PCR<n>', type: 'String', on: RECIPIENT, why: 'one per PCR of a valid Recipient document' },
  { key: 'kms:RecipientAttestation:NitroTPMPCR<n>', type: 'String', on: 'never', why: 'Recipient documents come from Nitro Enclaves, not NitroTPM' },
  { key: 'kms:ReplicaRegion', type: 'String', on: ['kms:ReplicateKey'], why: 'the ReplicaRegion parameter' },
  { key: 'kms:RequestAlias', type: 'String', on: [...CRYPTOGRAPHIC, 'kms:DescribeKey', 'kms:GetPublicKey'], why: 'when the request names the key by alias' },
  { key: 'kms:ResourceAliases', type: 'ArrayOfString', on: 'never', why: 'IAM policies only: not in key policies' },
  { key: 'kms:RetiringPrincipal', type: 'String', on: ['kms:CreateGrant'], why: 'when the grant has one' },
  { key: 'kms:RetiringServicePrincipal', type: 'String', on: 'never', why: 'CreateGrant refuses service principals: ' + NO_SERVICES },
  { key: 'kms:RotationPeriodInDays', type: 'Numeric', on: ['kms:EnableKeyRotation'], why: '365 when omitted' },
  { key: 'kms:ScheduleKeyDeletionPendingWindowInDays', type: 'Numeric', on: ['kms:ScheduleKeyDeletion'], why: '30 when omitted' },
  { key: 'kms:SigningAlgorithm', type: 'String', on: ['kms:Sign', 'kms:Verify'] },
  { key: 'kms:TrailingDaysWithoutKeyUsage', type: 'Numeric', on: 'never', why: 'key usage is not tracked (GetKeyLastUsage is not implemented)' },
  { key: 'kms:ValidTo', type: 'Date', on: ['kms:ImportKeyMaterial'], why: 'when the request has ValidTo (epoch seconds)' },
  { key: 'kms:ViaService', type: 'String', on: 'never', why: NO_SERVICES },
  { key: 'kms:WrappingAlgorithm', type: 'String', on: ['kms:GetParametersForImport'] },
  { key: 'kms:WrappingKeySpec', type: 'String', on: ['kms:GetParametersForImport'] },
] satisfies ConditionKey[]);

/** Whether a catalogue key is supplied on an action (by its rule; some only when the request has the value). */
export function suppliedOn(k: ConditionKey, action: string): boolean {
  if (k.on === 'never') return false;
  if (k.on === 'request') return true;
  if (k.on === 'key') return KEY_ACTIONS.includes(action);
  return k.on.includes(action);
}

/** The catalogue entry a concrete key belongs to (`kms:EncryptionContext:app` → `kms:EncryptionContext:<context-key>`). */
export function catalogueEntry(key: string): ConditionKey | undefined {
  const lower = key.toLowerCase();
  return CONDITION_KEYS.find((k) => {
    const i = k.key.indexOf('<');
    return i === -1 ? k.key.toLowerCase() === lower : lower.startsWith(k.key.slice(0, i).toLowerCase()) && lower.length > i;
  });
}
