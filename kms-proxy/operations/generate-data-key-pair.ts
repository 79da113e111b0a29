// GenerateDataKeyPair (KMS API Reference, "GenerateDataKeyPair").
import { dataKeyPair, PairShape } from './lib/asymmetric.ts';
import { type Operation, refuseRecipient } from './types.ts';

export const GenerateDataKeyPair: Operation = {
  name: 'GenerateDataKeyPair',
  quota: 'cryptographic',
  readOnly: true,
  shape: PairShape,
  async run(call) {
    refuseRecipient(call.input);
    const p = await dataKeyPair(call, 'kms:GenerateDataKeyPair');
    return { PrivateKeyCiphertextBlob: p.blob, PrivateKeyPlaintext: p.privateDer, PublicKey: p.publicDer, KeyId: p.arn, KeyPairSpec: p.spec };
  },
};
