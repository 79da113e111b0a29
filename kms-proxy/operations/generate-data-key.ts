// GenerateDataKey (KMS API Reference, "GenerateDataKey"). With a Recipient: CiphertextBlob as
// always, the data key only as CiphertextForRecipient, no Plaintext.
import { envelopeForRecipient } from '../recipient/cms.ts';
import { ContextField, DryRunField, GrantTokensField, KeyIdField, RecipientField } from '../shapes.ts';
import { DataKeySpecField, generateDataKey, NumberOfBytesField } from './lib/symmetric.ts';
import { attestedRecipient, type Operation } from './types.ts';

export const GenerateDataKey: Operation = {
  name: 'GenerateDataKey',
  quota: 'cryptographic',
  readOnly: true,
  shape: { KeyId: KeyIdField, EncryptionContext: ContextField, NumberOfBytes: NumberOfBytesField, KeySpec: DataKeySpecField, GrantTokens: GrantTokensField, Recipient: RecipientField, DryRun: DryRunField },
  async run(call) {
    const recipient = attestedRecipient(call);
    const d = await generateDataKey(call, 'kms:GenerateDataKey', recipient?.context);
    if (recipient) {
      const sealed = envelopeForRecipient(d.plaintext, recipient.key);
      d.plaintext.fill(0);
      return { CiphertextBlob: d.blob, CiphertextForRecipient: sealed, KeyId: d.arn };
    }
    // KeyMaterialId: "omitted if the request includes the Recipient parameter" (GenerateDataKeyResponse).
    return { CiphertextBlob: d.blob, Plaintext: d.plaintext, KeyId: d.arn, ...(d.materialId !== undefined ? { KeyMaterialId: d.materialId } : {}) };
  },
};
