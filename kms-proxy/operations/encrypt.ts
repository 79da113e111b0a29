// Encrypt (KMS API Reference, "Encrypt").
import { ContextField, DryRunField, GrantTokensField, KeyIdField } from '../shapes.ts';
import { AlgField, encryptWith, PlaintextField, prepareEncrypt } from './lib/symmetric.ts';
import { bytes, ctx, dryRun, type Operation, reqStr, str } from './types.ts';

export const Encrypt: Operation = {
  name: 'Encrypt',
  quota: 'cryptographic',
  readOnly: true,
  shape: { KeyId: KeyIdField, Plaintext: PlaintextField, EncryptionContext: ContextField, GrantTokens: GrantTokensField, EncryptionAlgorithm: AlgField, DryRun: DryRunField },
  async run({ svc, caller, input, trail }) {
    const alg = str(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const ec = ctx(input, 'EncryptionContext');
    const r = await prepareEncrypt(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:Encrypt', alg, ec);
    const { blob } = await encryptWith(svc, r.key, alg, bytes(input, 'Plaintext') as Uint8Array, ec);
    dryRun(input);
    return { CiphertextBlob: blob, KeyId: r.key.arn, EncryptionAlgorithm: alg };
  },
};
