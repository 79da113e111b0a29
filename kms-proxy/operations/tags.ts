// Tags: TagResource, UntagResource, ListResourceTags (KMS API Reference; "Tagging keys").
import { kmsError } from '../errors.ts';
import type { Tag } from '../model.ts';
import { KeyIdField } from '../shapes.ts';
import { page, reqStr, type Operation } from './types.ts';

export const MAX_TAGS = 50;

/** Tag rules KMS enforces beyond the shape: reserved `aws:` prefix, at most 50 per key. */
export function checkTags(tags: readonly Tag[]): void {
  for (const t of tags) {
    if (t.TagKey.toLowerCase().startsWith('aws:')) throw kmsError('TagException', 'Tags beginning with aws: are reserved.');
  }
  if (new Set(tags.map((t) => t.TagKey)).size > MAX_TAGS) throw kmsError('LimitExceededException', `A key can have at most ${MAX_TAGS} tags.`);
}

export const TagResource: Operation = {
  name: 'TagResource',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, Tags: { t: 'tags', required: true } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:TagResource');
    svc.requireNotPendingDeletion(r.key);
    const add = input.Tags as Tag[];
    checkTags(add);
    const m = new Map(r.key.tags.map((t) => [t.TagKey, t.TagValue]));
    for (const t of add) m.set(t.TagKey, t.TagValue);
    const tags = [...m].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    checkTags(tags);
    await svc.store.putKey({ ...r.key, tags });
    return {};
  },
};

export const UntagResource: Operation = {
  name: 'UntagResource',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, TagKeys: { t: 'strings', required: true, itemMin: 1, itemMax: 128 } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:UntagResource');
    svc.requireNotPendingDeletion(r.key);
    const drop = new Set(input.TagKeys as string[]);
    await svc.store.putKey({ ...r.key, tags: r.key.tags.filter((t) => !drop.has(t.TagKey)) });
    return {};
  },
};

export const ListResourceTags: Operation = {
  name: 'ListResourceTags',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, Limit: { t: 'int', min: 1, max: 50 }, Marker: { t: 'string', min: 1, max: 1024 } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:ListResourceTags');
    const { items, out } = page(r.key.tags, input, 50);
    return { Tags: items, ...out };
  },
};
