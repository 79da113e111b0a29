// UntagResource (KMS API Reference, "UntagResource").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const UntagResource: Operation = {
  name: 'UntagResource',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, TagKeys: { t: 'strings', required: true, itemMin: 1, itemMax: 128 } },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:UntagResource', { aliases: false, extra: { 'aws:TagKeys': [...new Set(input.TagKeys as string[])] } });
    svc.requireNotPendingDeletion(r.key);
    const drop = new Set(input.TagKeys as string[]);
    await svc.store.putKey({ ...r.key, tags: r.key.tags.filter((t) => !drop.has(t.TagKey)) });
    return {};
  },
};
