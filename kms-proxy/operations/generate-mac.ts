// GenerateMac (KMS API Reference, "GenerateMac").
import { macOf, MacShape, usable } from './lib/asymmetric.ts';
import { bytes, dryRun, type Operation, reqStr } from './types.ts';

export const GenerateMac: Operation = {
  name: 'GenerateMac',
  quota: 'cryptographic',
  readOnly: true,
  shape: MacShape,
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'MacAlgorithm');
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:GenerateMac', { 'kms:MacAlgorithm': alg });
    svc.requireUsage(r.key, 'GENERATE_VERIFY_MAC', 'GenerateMac');
    const mac = macOf(r.key, m, alg, bytes(input, 'Message') as Uint8Array);
    dryRun(input);
    return { Mac: new Uint8Array(mac), MacAlgorithm: alg, KeyId: r.key.arn };
  },
};
