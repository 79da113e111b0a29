// Decrypt (KMS API Reference, "Decrypt").
import { ContextField, DryRunField, GrantTokensField, OptKeyIdField, RecipientField } from '../shapes.ts';
import { AlgField, CiphertextField, decryptWith } from './lib/symmetric.ts';
import { bytes, ctx, dryRun, type Operation, refuseRecipient, str } from './types.ts';

export const Decrypt: Operation = {
  name: 'Decrypt',
  quota: 'cryptographic',
  readOnly: true,
  shape: { CiphertextBlob: CiphertextField, EncryptionContext: ContextField, GrantTokens: GrantTokensField, KeyId: OptKeyIdField, EncryptionAlgorithm: AlgField, Recipient: RecipientField, DryRun: DryRunField },
  async run({ svc, caller, input, trail }) {
    refuseRecipient(input);
    const alg = str(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const { key, plaintext } = await decryptWith(svc, caller, trail, 'kms:Decrypt', bytes(input, 'CiphertextBlob') as Uint8Array, str(input, 'KeyId'), alg, ctx(input, 'EncryptionContext'));
    dryRun(input);
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: alg };
  },
};
