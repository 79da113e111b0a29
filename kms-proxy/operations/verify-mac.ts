// VerifyMac (KMS API Reference, "VerifyMac").
import { timingSafeEqual } from 'node:crypto';
import { kmsError } from '../errors.ts';
import { macOf, MacShape, usable } from './lib/asymmetric.ts';
import { bytes, dryRun, type Operation, reqStr } from './types.ts';

export const VerifyMac: Operation = {
  name: 'VerifyMac',
  quota: 'cryptographic',
  readOnly: true,
  shape: { ...MacShape, Mac: { t: 'blob', min: 1, max: 6144, required: true } },
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'MacAlgorithm');
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:VerifyMac', { 'kms:MacAlgorithm': alg });
    svc.requireUsage(r.key, 'GENERATE_VERIFY_MAC', 'VerifyMac');
    const want = macOf(r.key, m, alg, bytes(input, 'Message') as Uint8Array);
    const got = Buffer.from(bytes(input, 'Mac') as Uint8Array);
    dryRun(input);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw kmsError('KMSInvalidMacException', '');
    return { KeyId: r.key.arn, MacValid: true, MacAlgorithm: alg };
  },
};
