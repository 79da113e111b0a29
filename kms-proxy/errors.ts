// One error class for the KMS domain. Every failure an operation can report is a KmsError whose
// `awsName` is the `__type` AWS answers (kms-2014-11-01 error shapes) and whose `code` is a stable
// `ERR_KMS_…` string derived from it. The HTTP mapping lives in one place: `server.ts` (`failed`).
import type { Decision } from './policy/evaluate.ts';

export type KmsErrorName =
  | 'AccessDeniedException'
  | 'AlreadyExistsException'
  | 'DisabledException'
  | 'DryRunOperationException'
  | 'ExpiredImportTokenException'
  | 'IncorrectKeyException'
  | 'IncorrectKeyMaterialException'
  | 'InvalidAliasNameException'
  | 'InvalidArnException'
  | 'InvalidCiphertextException'
  | 'InvalidGrantIdException'
  | 'InvalidGrantTokenException'
  | 'InvalidImportTokenException'
  | 'InvalidKeyUsageException'
  | 'InvalidMarkerException'
  | 'InvalidSignatureException'
  | 'KMSInternalException'
  | 'KMSInvalidMacException'
  | 'KMSInvalidSignatureException'
  | 'KMSInvalidStateException'
  | 'LimitExceededException'
  | 'MalformedPolicyDocumentException'
  | 'MissingAuthenticationTokenException'
  | 'NotFoundException'
  | 'SerializationException'
  | 'TagException'
  | 'ThrottlingException'
  | 'UnknownOperationException'
  | 'UnrecognizedClientException'
  | 'UnsupportedOperationException'
  | 'ValidationException';

function codeOf(name: string): string {
  const base = name.replace(/Exception$/, '').replace(/^KMS/, '');
  return `ERR_KMS_${base.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

export class KmsError extends Error {
  readonly awsName: KmsErrorName;
  /** Stable machine-readable code, e.g. `ERR_KMS_NOT_FOUND`. */
  readonly code: string;
  /** HTTP status: AWS answers 400 for every client error and 500 only for KMSInternalException. */
  readonly status: 400 | 500;
  /** Detail for the audit log only; never sent to the caller. */
  readonly detail: string | undefined;
  /** `code` overrides the one derived from `awsName` where one AWS exception covers several faults. */
  constructor(awsName: KmsErrorName, message: string, options?: { cause?: unknown; detail?: string; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KmsError';
    this.awsName = awsName;
    this.code = options?.code ?? codeOf(awsName);
    this.status = awsName === 'KMSInternalException' ? 500 : 400;
    this.detail = options?.detail;
  }
}

/** AccessDeniedException with the policy decision that produced it (for the audit log only). */
export class AccessDeniedError extends KmsError {
  readonly decision: Decision;
  constructor(message: string, decision: Decision, detail?: string) {
    super('AccessDeniedException', message, detail === undefined ? undefined : { detail });
    this.decision = decision;
  }
}

export function kmsError(awsName: KmsErrorName, message = '', detail?: string): KmsError {
  return new KmsError(awsName, message, detail === undefined ? undefined : { detail });
}

// Messages as real AWS answers them (reference/kms.md; localstack's tests/aws/services/kms/
// test_kms.snapshot.json, responses recorded against real AWS).
export const messages = {
  disabled: (arn: string) => `${arn} is disabled.`,
  pendingDeletion: (arn: string) => `${arn} is pending deletion.`,
  pendingImport: (arn: string) => `${arn} is pending import.`,
  // Multi-Region keys' states (KMS Developer Guide, "Key states of KMS keys", table notes 2, 3, 14, 15).
  pendingReplicaDeletion: (arn: string) => `${arn} is pending replica deletion.`,
  creating: (arn: string) => `${arn} is creating.`,
  updating: (arn: string) => `${arn} is updating.`,
  notFound: (arn: string) => `Key '${arn}' does not exist`,
  aliasNotFound: (arn: string) => `Alias ${arn} is not found.`,
  incorrectKey: 'The key ID in the request does not identify a CMK that can perform this operation.',
  dryRun: 'The request would have succeeded, but the DryRun option is set.',
  /** RSAES-OAEP plaintext over the algorithm's limit (Encrypt with an RSA key). */
  rsaPlaintextTooLarge: (alg: string, spec: string, max: number) => `Algorithm ${alg} and key spec ${spec} cannot encrypt data larger than ${max} bytes.`,
  /**
   * An encryption, signing or MAC algorithm the key's spec does not support (InvalidKeyUsageException;
   * recorded for GenerateMac/VerifyMac in localstack's test_kms.snapshot.json, and for Encrypt with
   * an RSA key: "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_4096.").
   */
  algorithmIncompatible: (alg: string, spec: string) => `Algorithm ${alg} is incompatible with key spec ${spec}.`,
  onDemandRotationLimit: (arn: string) => `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${arn}`,
  noPendingRotation: (arn: string) => `No available key material pending rotation for the key: ${arn}.`,
  /** ImportKeyMaterial NEW_KEY_MATERIAL while another imported material waits for RotateKeyOnDemand (names the key by id). */
  materialPendingRotation: (newId: string, keyId: string, pendingId: string) =>
    `New key material (id: ${newId}) cannot be imported into KMS key ${keyId}, because another key material (id: ${pendingId}) is pending rotation.`,
  originNotValid: (arn: string, origin: string) => `${arn} origin is ${origin} which is not valid for this operation.`,
  keyUsageNotValid: (arn: string, usage: string, op: string) => `${arn} key usage is ${usage} which is not valid for ${op}.`,
  tagReserved: 'Tags beginning with aws: are reserved',
  tagDuplicate: 'Duplicate tag keys',
  tagTooMany: 'Too many tags',
  throttled: 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.',
  missingAuth: 'Missing Authentication Token',
  unrecognizedClient: 'The security token included in the request is invalid.',
  badSignature:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
} as const;
