// The complete key policy for attested key release (README, "Attested key release"): the enclave's
// measurements allow the operations that can carry a Recipient, and a Deny refuses, to every
// principal (grantees of other accounts included), every operation that returns plaintext key
// material or re-wraps a ciphertext of this key when the request has no attestation document. The
// Recipient operations then answer only CiphertextForRecipient, so the host relays bytes it cannot
// read; without the Deny, any other statement or grant that allows Decrypt or ReEncrypt* lets the host
// take the plaintext (KMS Developer Guide, "Condition keys for Nitro Enclaves": conditions restrict
// only the statement they are in). GenerateDataKeyWithoutPlaintext, GenerateDataKeyPairWithoutPlaintext
// and Encrypt return ciphertext only, so the host may keep them to make ciphertext for the enclave.

/** Every operation on a symmetric key whose answer carries plaintext key material, or re-wraps a ciphertext. */
export const ATTESTATION_GUARDED_ACTIONS: readonly string[] = Object.freeze([
  'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', 'kms:DeriveSharedSecret',
]);

/** The guarded operations that take a Recipient, which the attested enclave is allowed. */
export const RECIPIENT_ACTIONS: readonly string[] = Object.freeze(['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', 'kms:DeriveSharedSecret']);

export interface AttestedPolicyOptions {
  readonly account: string;
  /** Hex PCR values the enclave's document must carry (0 is the image, `kms:RecipientAttestation:ImageSha384`). */
  readonly pcrs: Readonly<Partial<Record<number, string>>>;
  /** May administer the key, its policy included (default: the account root, so every principal of the account). */
  readonly administrators?: readonly string[];
  /** May make ciphertext for the enclave: Encrypt, GenerateDataKeyWithoutPlaintext, DescribeKey (default: the account root). */
  readonly users?: readonly string[];
  /** The Recipient operations the enclave may call (default: all four). */
  readonly enclaveActions?: readonly string[];
}

/** The Deny statement alone, for a policy written by hand: no guarded operation without a document. */
export function denyWithoutAttestation(): Readonly<Record<string, unknown>> {
  return { Sid: 'DenyWithoutAttestation', Effect: 'Deny', Principal: '*', Action: ATTESTATION_GUARDED_ACTIONS, Resource: '*', Condition: { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } } };
}

/**
 * The policy as a JSON document. Whoever may PutKeyPolicy can remove the Deny: keep `administrators`
 * apart from the host when the host must not be able to read what the enclave reads.
 */
export function attestedKeyPolicy(o: AttestedPolicyOptions): string {
  const root = `arn:aws:iam::${o.account}:root`;
  const conditions: Record<string, string> = {};
  for (const [i, value] of Object.entries(o.pcrs)) {
    if (value === undefined) continue;
    conditions[i === '0' ? 'kms:RecipientAttestation:ImageSha384' : `kms:RecipientAttestation:PCR${i}`] = value;
  }
  if (conditions['kms:RecipientAttestation:ImageSha384'] === undefined) throw new TypeError('attestedKeyPolicy: pcrs must include PCR0 (the image)');
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'KeyAdministration',
        Effect: 'Allow',
        Principal: { AWS: o.administrators ?? [root] },
        Action: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:TagResource', 'kms:UntagResource', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion', 'kms:RotateKeyOnDemand'],
        Resource: '*',
      },
      { Sid: 'CiphertextForTheEnclave', Effect: 'Allow', Principal: { AWS: o.users ?? [root] }, Action: ['kms:Encrypt', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:DescribeKey'], Resource: '*' },
      { Sid: 'OnlyTheAttestedEnclave', Effect: 'Allow', Principal: { AWS: root }, Action: o.enclaveActions ?? RECIPIENT_ACTIONS, Resource: '*', Condition: { StringEqualsIgnoreCase: conditions } },
      denyWithoutAttestation(),
    ],
  });
}
