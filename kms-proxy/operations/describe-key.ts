// DescribeKey (KMS API Reference, "DescribeKey").
import { KeyIdField } from '../shapes.ts';
import { type Operation, reqStr } from './types.ts';

export const DescribeKey: Operation = {
  name: 'DescribeKey',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField, GrantTokens: { t: 'strings', min: 0, max: 10, itemMin: 1, itemMax: 8192 } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'));
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:DescribeKey');
    const cur = await svc.store.currentMaterial(r.key.keyId);
    return { KeyMetadata: svc.keyMetadata(r.key, cur?.id) };
  },
};
