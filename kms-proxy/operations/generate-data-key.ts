// GenerateDataKey (KMS API Reference, "GenerateDataKey").
import { ContextField, DryRunField, GrantTokensField, KeyIdField, RecipientField } from '../shapes.ts';
import { DataKeySpecField, generateDataKey, NumberOfBytesField } from './lib/symmetric.ts';
import { type Operation, refuseRecipient } from './types.ts';

export const GenerateDataKey: Operation = {
  name: 'GenerateDataKey',
  quota: 'cryptographic',
  readOnly: true,
  shape: { KeyId: KeyIdField, EncryptionContext: ContextField, NumberOfBytes: NumberOfBytesField, KeySpec: DataKeySpecField, GrantTokens: GrantTokensField, Recipient: RecipientField, DryRun: DryRunField },
  async run(call) {
    refuseRecipient(call.input);
    const d = await generateDataKey(call, 'kms:GenerateDataKey');
    return { CiphertextBlob: d.blob, Plaintext: d.plaintext, KeyId: d.arn };
  },
};
