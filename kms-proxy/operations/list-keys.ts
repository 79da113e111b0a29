// ListKeys (KMS API Reference, "ListKeys").
import { LimitField, MarkerField } from '../shapes.ts';
import { type Operation, page } from './types.ts';

export const ListKeys: Operation = {
  name: 'ListKeys',
  quota: 'list',
  readOnly: true,
  shape: { Limit: LimitField, Marker: MarkerField },
  async run({ svc, input }) {
    await svc.maintain();
    const keys = await svc.store.listKeys();
    const { items, out } = page(keys, input);
    return { Keys: items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), ...out };
  },
};
