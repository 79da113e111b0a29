// GenerateDataKeyPairWithoutPlaintext (KMS API Reference, "GenerateDataKeyPairWithoutPlaintext").
import { ContextField, DryRunField, GrantTokensField, KeyIdField } from '../shapes.ts';
import { dataKeyPair, PairShape } from './lib/asymmetric.ts';
import type { Operation } from './types.ts';

export const GenerateDataKeyPairWithoutPlaintext: Operation = {
  name: 'GenerateDataKeyPairWithoutPlaintext',
  quota: 'cryptographic',
  readOnly: true,
  shape: { EncryptionContext: ContextField, KeyId: KeyIdField, KeyPairSpec: PairShape.KeyPairSpec, GrantTokens: GrantTokensField, DryRun: DryRunField },
  async run(call) {
    const p = await dataKeyPair(call, 'kms:GenerateDataKeyPairWithoutPlaintext');
    return { PrivateKeyCiphertextBlob: p.blob, PublicKey: p.publicDer, KeyId: p.arn, KeyPairSpec: p.spec, KeyMaterialId: p.materialId };
  },
};
