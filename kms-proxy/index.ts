// Public surface of the KMS service.
export { startKmsServer, createKmsApp, MAX_BODY_BYTES, type KmsOptions, type KmsApp, type KmsServer } from './server.ts';
export { KmsError, type KmsErrorName } from './errors.ts';
export type { Credential } from './sigv4.ts';
export { verifyAuditLog, type AuditVerification, type AuditProblem } from './audit.ts';
export { evaluate, type Decision, type AuthzRequest, type RequestContext, type StatementTrace, type ConditionOutcome } from './policy/evaluate.ts';
export { parsePolicy, defaultKeyPolicy, type PolicyDocument } from './policy/document.ts';
export { attestedKeyPolicy, denyWithoutAttestation, ATTESTATION_GUARDED_ACTIONS, type AttestedPolicyOptions } from './policy/attested.ts';
export { evaluateClause, parseOperator, wildcardMatch, OPERATORS } from './policy/conditions.ts';
export { encodeContext, parseBlobHeader, type BlobHeader } from './ciphertext.ts';
export type { KeyStore } from './store/types.ts';
export { SqliteKeyStore } from './store/sqlite.ts';
export { DEFAULT_QUOTAS, type Quota } from './throttle.ts';
export type { Service, Caller, ContextValues, Resolved } from './service.ts';
export type { KeyRecord, GrantRecord, KeySpec, KeyUsage, KeyState } from './model.ts';
export { applySeed, type SeedKey } from './seed.ts';
export { RecipientVerifier, DEFAULT_MAX_AGE_MS, INVALID_DOCUMENT_MESSAGE, recipientContext, recipientAudit, type RecipientOptions, type AttestedRecipient } from './recipient/verify.ts';
export { envelopeForRecipient, prepareRecipient, recipientKey, RecipientKeyError, type PreparedRecipient } from './recipient/cms.ts';
export { explain, explainAction, explainInDataDir, formatExplanation, principalAccount, type ExplainRequest, type Explanation, type AttestationVerdict, type ExplainStoreOptions } from './explain.ts';
