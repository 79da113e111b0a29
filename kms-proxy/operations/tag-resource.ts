// TagResource (KMS API Reference, "TagResource").
import type { Tag } from '../model.ts';
import { KeyIdField } from '../shapes.ts';
import { checkRequestTags, checkTagCount, requestTagValues } from './lib/tags.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const TagResource: Operation = {
  name: 'TagResource',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, Tags: { t: 'tags', required: true } },
  async run({ svc, caller, input, trail }) {
    const add = input.Tags as Tag[];
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:TagResource', { aliases: false, extra: requestTagValues(add) });
    svc.requireNotPendingDeletion(r.key);
    checkRequestTags(add);
    const m = new Map(r.key.tags.map((t) => [t.TagKey, t.TagValue]));
    for (const t of add) m.set(t.TagKey, t.TagValue);
    const tags = [...m].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    checkTagCount(tags.length);
    await svc.store.putKey({ ...r.key, tags });
    return {};
  },
};
