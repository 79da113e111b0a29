// DescribeKey (KMS API Reference, "DescribeKey").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const DescribeKey: Operation = {
  name: 'DescribeKey',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField, GrantTokens: { t: 'strings', min: 0, max: 10, itemMin: 1, itemMax: 8192 } },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:DescribeKey');
    const cur = await svc.store.currentMaterial(r.key);
    return { KeyMetadata: svc.keyMetadata(r.key, cur?.id, await svc.relatedKeys(r.key)) };
  },
};
