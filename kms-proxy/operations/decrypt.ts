// Decrypt (KMS API Reference, "Decrypt"). With a Recipient, the plaintext is returned only as
// CiphertextForRecipient, enveloped to the attested enclave's key, and no Plaintext member.
import { envelopeForRecipient } from '../recipient/cms.ts';
import { ContextField, DryRunField, GrantTokensField, OptKeyIdField, RecipientField } from '../shapes.ts';
import { AlgField, ciphertextOf, DecryptCiphertextField, decryptionKey, decryptWith, DryRunModifiersField, ignoresCiphertext } from './lib/symmetric.ts';
import { attestedRecipient, ctx, dryRun, type Operation, str } from './types.ts';

export const Decrypt: Operation = {
  name: 'Decrypt',
  quota: 'cryptographic',
  readOnly: true,
  shape: {
    CiphertextBlob: DecryptCiphertextField,
    EncryptionContext: ContextField,
    GrantTokens: GrantTokensField,
    KeyId: OptKeyIdField,
    EncryptionAlgorithm: AlgField,
    Recipient: RecipientField,
    DryRun: DryRunField,
    DryRunModifiers: DryRunModifiersField,
  },
  async run(call) {
    const { svc, caller, input, trail } = call;
    const recipient = attestedRecipient(call);
    const alg = str(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const ec = ctx(input, 'EncryptionContext');
    if (ignoresCiphertext(input)) {
      await decryptionKey(svc, caller, trail, 'kms:Decrypt', undefined, str(input, 'KeyId'), alg, ec, recipient?.context);
      dryRun(input);
    }
    const { key, plaintext, materialId } = await decryptWith(svc, caller, trail, 'kms:Decrypt', ciphertextOf(input), str(input, 'KeyId'), alg, ec, recipient?.context);
    dryRun(input);
    if (recipient) {
      const sealed = envelopeForRecipient(plaintext, recipient.key);
      plaintext.fill(0);
      return { KeyId: key.arn, CiphertextForRecipient: sealed, EncryptionAlgorithm: alg };
    }
    // KeyMaterialId: "present only when the operation uses a symmetric encryption KMS key. This
    // field is omitted if the request includes the Recipient parameter" (DecryptResponse).
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: alg, ...(materialId !== undefined ? { KeyMaterialId: materialId } : {}) };
  },
};
