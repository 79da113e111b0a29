// GenerateDataKeyPair (KMS API Reference, "GenerateDataKeyPair"). With a Recipient, the private
// key (PKCS#8 DER) is returned only inside CiphertextForRecipient; PrivateKeyPlaintext is absent.
import { envelopeForRecipient } from '../recipient/cms.ts';
import { dataKeyPair, PairShape } from './lib/asymmetric.ts';
import { attestedRecipient, type Operation } from './types.ts';

export const GenerateDataKeyPair: Operation = {
  name: 'GenerateDataKeyPair',
  quota: 'cryptographic',
  readOnly: true,
  shape: PairShape,
  async run(call) {
    const recipient = attestedRecipient(call);
    const p = await dataKeyPair(call, 'kms:GenerateDataKeyPair', recipient?.context);
    if (recipient) {
      const sealed = envelopeForRecipient(p.privateDer, recipient.key);
      p.privateDer.fill(0);
      return { PrivateKeyCiphertextBlob: p.blob, CiphertextForRecipient: sealed, PublicKey: p.publicDer, KeyId: p.arn, KeyPairSpec: p.spec, KeyMaterialId: p.materialId };
    }
    // KeyMaterialId: "The identifier of the key material used to encrypt the private key"
    // (GenerateDataKeyPairResponse; unlike GenerateDataKey's, not omitted with a Recipient).
    return { PrivateKeyCiphertextBlob: p.blob, PrivateKeyPlaintext: p.privateDer, PublicKey: p.publicDer, KeyId: p.arn, KeyPairSpec: p.spec, KeyMaterialId: p.materialId };
  },
};
