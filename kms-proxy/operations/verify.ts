// Verify (KMS API Reference, "Verify").
import { privateKeyOf } from '../asymmetric.ts';
import { kmsError } from '../errors.ts';
import { SPECS } from '../keyspec.ts';
import { verifyMessage } from '../signing.ts';
import { requireSigningAlg, SignShape, usable } from './lib/asymmetric.ts';
import { bytes, dryRun, type Operation, reqStr, str } from './types.ts';

export const Verify: Operation = {
  name: 'Verify',
  quota: 'cryptographic',
  readOnly: true,
  shape: { ...SignShape, Signature: { t: 'blob', min: 1, max: 6144, required: true } },
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'SigningAlgorithm');
    const messageType = str(input, 'MessageType') ?? 'RAW';
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:Verify', { 'kms:SigningAlgorithm': alg, 'kms:MessageType': messageType });
    svc.requireUsage(r.key, 'SIGN_VERIFY', 'Verify');
    requireSigningAlg(r.key, alg);
    if (messageType === 'EXTERNAL_MU') throw kmsError('ValidationException', 'EXTERNAL_MU is only valid for ML_DSA keys.');
    const ok = verifyMessage(privateKeyOf(m), SPECS[r.key.keySpec]?.curve, alg, messageType, bytes(input, 'Message') as Uint8Array, bytes(input, 'Signature') as Uint8Array);
    dryRun(input);
    // An invalid signature is an error, not SignatureValid: false (Verify API).
    if (!ok) throw kmsError('KMSInvalidSignatureException', '');
    return { KeyId: r.key.arn, SignatureValid: true, SigningAlgorithm: alg };
  },
};
