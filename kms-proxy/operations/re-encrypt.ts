// ReEncrypt (KMS API Reference, "ReEncrypt").
import { ContextField, DryRunField, GrantTokensField, KeyIdField, OptKeyIdField } from '../shapes.ts';
import { AlgField, ciphertextOf, DecryptCiphertextField, decryptionKey, decryptWith, DryRunModifiersField, encryptWith, ignoresCiphertext, prepareEncrypt } from './lib/symmetric.ts';
import { ctx, dryRun, type Operation, reqStr, str, type Trail } from './types.ts';

export const ReEncrypt: Operation = {
  name: 'ReEncrypt',
  quota: 'cryptographic',
  readOnly: true,
  shape: {
    CiphertextBlob: DecryptCiphertextField,
    SourceEncryptionContext: ContextField,
    SourceKeyId: OptKeyIdField,
    DestinationKeyId: KeyIdField,
    DestinationEncryptionContext: ContextField,
    SourceEncryptionAlgorithm: AlgField,
    DestinationEncryptionAlgorithm: AlgField,
    GrantTokens: GrantTokensField,
    DryRun: DryRunField,
    DryRunModifiers: DryRunModifiersField,
  },
  async run({ svc, caller, input, trail }) {
    const srcAlg = str(input, 'SourceEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    const dstAlg = str(input, 'DestinationEncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
    // Both authorizations carry kms:ReEncryptOnSameKey, so the destination key is known first
    // (KMS Developer Guide, "AWS KMS condition keys": kms:ReEncryptOnSameKey).
    const dstId = reqStr(input, 'DestinationKeyId');
    const dstKeyId = (await svc.resolve(dstId, caller)).key.keyId;
    const sameKey = (keyId: string) => ({ 'kms:ReEncryptOnSameKey': String(keyId === dstKeyId) });
    const dstCtx = ctx(input, 'DestinationEncryptionContext');
    if (ignoresCiphertext(input)) {
      const source = await decryptionKey(svc, caller, trail, 'kms:ReEncryptFrom', undefined, str(input, 'SourceKeyId'), srcAlg, ctx(input, 'SourceEncryptionContext'), {}, (k) => sameKey(k.keyId));
      const dst = await prepareEncrypt(svc, caller, {}, dstId, 'kms:ReEncryptTo', dstAlg, dstCtx, sameKey(source.key.keyId));
      trail.additional = { destinationKeyArn: dst.key.arn };
      dryRun(input);
    }
    const src = await decryptWith(svc, caller, trail, 'kms:ReEncryptFrom', ciphertextOf(input), str(input, 'SourceKeyId'), srcAlg, ctx(input, 'SourceEncryptionContext'), {}, (k) => sameKey(k.keyId));
    const dstTrail: Trail = {};
    const dst = await prepareEncrypt(svc, caller, dstTrail, dstId, 'kms:ReEncryptTo', dstAlg, dstCtx, sameKey(src.key.keyId));
    trail.additional = { destinationKeyArn: dst.key.arn };
    const out = await encryptWith(svc, dst.key, dstAlg, src.plaintext, dstCtx);
    dryRun(input);
    // Source/DestinationKeyMaterialId: present only where the key is a symmetric encryption key (ReEncryptResponse).
    return {
      CiphertextBlob: out.blob,
      SourceKeyId: src.key.arn,
      KeyId: dst.key.arn,
      SourceEncryptionAlgorithm: srcAlg,
      DestinationEncryptionAlgorithm: dstAlg,
      ...(src.materialId !== undefined ? { SourceKeyMaterialId: src.materialId } : {}),
      ...(out.materialId !== undefined ? { DestinationKeyMaterialId: out.materialId } : {}),
    };
  },
};
