// GetPublicKey (KMS API Reference, "GetPublicKey").
import { publicKeyDer } from '../asymmetric.ts';
import { kmsError, messages } from '../errors.ts';
import { SPECS } from '../keyspec.ts';
import type { KeySpec } from '../model.ts';
import { GrantTokensField, KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const GetPublicKey: Operation = {
  name: 'GetPublicKey',
  quota: 'cryptographic',
  readOnly: true,
  shape: { KeyId: KeyIdField, GrantTokens: GrantTokensField },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:GetPublicKey');
    const k = r.key;
    if (!k.keySpec.startsWith('RSA_') && !k.keySpec.startsWith('ECC_')) throw kmsError('UnsupportedOperationException', `${k.arn} is not an asymmetric KMS key.`);
    svc.requireEnabled(k);
    const m = await svc.store.currentMaterial(k);
    if (!m) throw kmsError('KMSInvalidStateException', messages.pendingImport(k.arn));
    const info = SPECS[k.keySpec];
    return {
      KeyId: k.arn,
      PublicKey: publicKeyDer(m),
      CustomerMasterKeySpec: k.keySpec,
      KeySpec: k.keySpec,
      KeyUsage: k.keyUsage,
      ...(k.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: info?.encryptionAlgorithms } : {}),
      ...(k.keyUsage === 'SIGN_VERIFY' ? { SigningAlgorithms: info?.signingAlgorithms } : {}),
      ...(k.keyUsage === 'KEY_AGREEMENT' ? { KeyAgreementAlgorithms: info?.keyAgreementAlgorithms } : {}),
    };
  },
};
