// ListResourceTags (KMS API Reference, "ListResourceTags").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, page, reqStr } from './types.ts';

export const ListResourceTags: Operation = {
  name: 'ListResourceTags',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, Limit: { t: 'int', min: 1, max: 50 }, Marker: { t: 'string', min: 1, max: 1024 } },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ListResourceTags', { aliases: false });
    const { items, out } = page(r.key.tags, input, 50);
    return { Tags: items, ...out };
  },
};
