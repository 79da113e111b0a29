// One error class for the KMS domain. Every failure an operation can report is a KmsError whose
// `awsName` is the `__type` AWS answers (kms-2014-11-01 error shapes) and whose `code` is a stable
// `ERR_KMS_…` string derived from it. The HTTP mapping lives in one place: `server.ts` (hono onError).
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

// Messages as real AWS answers them (reference/kms.md, localstack snapshots of real responses).
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
  throttled: 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.',
  missingAuth: 'Missing Authentication Token',
  unrecognizedClient: 'The security token included in the request is invalid.',
  badSignature:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
} as const;
