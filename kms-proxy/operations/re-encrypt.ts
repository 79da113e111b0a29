// ReEncrypt (KMS API Reference, "ReEncrypt").
import { ContextField, DryRunField, GrantTokensField, KeyIdField, OptKeyIdField } from '../shapes.ts';
import { AlgField, CiphertextField, decryptWith, encryptWith, prepareEncrypt } from './lib/symmetric.ts';
import { bytes, ctx, dryRun, type Operation, reqStr, str, type Trail } from './types.ts';

export const ReEncrypt: Operation = {
  name: 'ReEncrypt',
  quota: 'cryptographic',
  readOnly: true,
  shape: {
    CiphertextBlob: CiphertextField,
    SourceEncryptionContext: ContextField,
    SourceKeyId: OptKeyIdField,
    DestinationKeyId: KeyIdField,
    DestinationEncryptionContext: ContextField,
    SourceEncryptionAlgorithm: AlgField,
    DestinationEncryptionAlgorithm: AlgField,
    GrantTokens: GrantTokensField,
    DryRun: DryRunField,
  },
  async run({ svc, caller, input, trail }) {
    const srcAlg = str(input, 'SourceEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const dstAlg = str(input, 'DestinationEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const src = await decryptWith(svc, caller, trail, 'kms:ReEncryptFrom', bytes(input, 'CiphertextBlob') as Uint8Array, str(input, 'SourceKeyId'), srcAlg, ctx(input, 'SourceEncryptionContext'));
    const dstCtx = ctx(input, 'DestinationEncryptionContext');
    const dstTrail: Trail = {};
    const dst = await prepareEncrypt(svc, caller, dstTrail, reqStr(input, 'DestinationKeyId'), 'kms:ReEncryptTo', dstAlg, dstCtx);
    trail.additional = { destinationKeyArn: dst.key.arn };
    const blob = await encryptWith(svc, dst.key, dstAlg, src.plaintext, dstCtx);
    dryRun(input);
    return { CiphertextBlob: blob, SourceKeyId: src.key.arn, KeyId: dst.key.arn, SourceEncryptionAlgorithm: srcAlg, DestinationEncryptionAlgorithm: dstAlg };
  },
};
