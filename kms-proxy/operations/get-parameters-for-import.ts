// GetParametersForImport (KMS API Reference, "GetParametersForImport").
import { randomBytes } from 'node:crypto';
import { generateKeyPairDer } from '../keyspec.ts';
import { kmsError } from '../errors.ts';
import { KeyIdField } from '../shapes.ts';
import { externalKey, PARAMETERS_TTL_MS, WRAPPING_ALGORITHMS, WRAPPING_KEY_SPECS } from './lib/import.ts';
import { type Operation, reqStr } from './types.ts';

export const GetParametersForImport: Operation = {
  name: 'GetParametersForImport',
  quota: 'write',
  readOnly: true,
  shape: { KeyId: KeyIdField, WrappingAlgorithm: { t: 'string', enum: WRAPPING_ALGORITHMS, required: true }, WrappingKeySpec: { t: 'string', enum: WRAPPING_KEY_SPECS, required: true } },
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'WrappingAlgorithm');
    const spec = reqStr(input, 'WrappingKeySpec');
    const key = await externalKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:GetParametersForImport', { 'kms:WrappingAlgorithm': alg, 'kms:WrappingKeySpec': spec });
    if (alg === 'SM2PKE' || spec === 'SM2') throw kmsError('UnsupportedOperationException', 'SM2 wrapping is only available in China Regions.');
    const pair = await generateKeyPairDer({ rsaBits: Number(spec.slice(4)) });
    const token = randomBytes(64);
    const validTo = svc.clock() + PARAMETERS_TTL_MS;
    await svc.store.putImportParameters({ token: token.toString('hex'), keyId: key.keyId, region: key.region, wrappingAlgorithm: alg, wrappingKeySpec: spec, privateKey: pair.privateDer, validTo });
    return { KeyId: key.arn, ImportToken: new Uint8Array(token), PublicKey: pair.publicDer, ParametersValidTo: validTo / 1000 };
  },
};
