// Sign (KMS API Reference, "Sign").
import { privateKeyOf } from '../asymmetric.ts';
import { kmsError } from '../errors.ts';
import { SPECS } from '../keyspec.ts';
import { signMessage } from '../signing.ts';
import { requireSigningAlg, SignShape, usable } from './lib/asymmetric.ts';
import { bytes, dryRun, type Operation, reqStr, str } from './types.ts';

export const Sign: Operation = {
  name: 'Sign',
  quota: 'cryptographic',
  readOnly: true,
  shape: SignShape,
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'SigningAlgorithm');
    const messageType = str(input, 'MessageType') ?? 'RAW';
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:Sign', { 'kms:SigningAlgorithm': alg, 'kms:MessageType': messageType });
    svc.requireUsage(r.key, 'SIGN_VERIFY', 'Sign');
    requireSigningAlg(r.key, alg);
    if (messageType === 'EXTERNAL_MU') throw kmsError('ValidationException', 'EXTERNAL_MU is only valid for ML_DSA keys.');
    const signature = signMessage(privateKeyOf(m), SPECS[r.key.keySpec]?.curve, alg, messageType, bytes(input, 'Message') as Uint8Array);
    dryRun(input);
    return { KeyId: r.key.arn, Signature: signature, SigningAlgorithm: alg };
  },
};
