// GenerateDataKeyWithoutPlaintext (KMS API Reference, "GenerateDataKeyWithoutPlaintext").
import { ContextField, DryRunField, GrantTokensField, KeyIdField } from '../shapes.ts';
import { DataKeySpecField, generateDataKey, NumberOfBytesField } from './lib/symmetric.ts';
import type { Operation } from './types.ts';

export const GenerateDataKeyWithoutPlaintext: Operation = {
  name: 'GenerateDataKeyWithoutPlaintext',
  quota: 'cryptographic',
  readOnly: true,
  shape: { KeyId: KeyIdField, EncryptionContext: ContextField, KeySpec: DataKeySpecField, NumberOfBytes: NumberOfBytesField, GrantTokens: GrantTokensField, DryRun: DryRunField },
  async run(call) {
    const d = await generateDataKey(call, 'kms:GenerateDataKeyWithoutPlaintext');
    return { CiphertextBlob: d.blob, KeyId: d.arn, ...(d.materialId !== undefined ? { KeyMaterialId: d.materialId } : {}) };
  },
};
