// Tags: TagResource, UntagResource, ListResourceTags (KMS API Reference; "Tagging keys").
// Helpers shared by the tags operations, which live one per file in operations/.
import { kmsError } from '../../errors.ts';
import type { Tag } from '../../model.ts';
import type { ContextValues } from '../../service.ts';

export const MAX_TAGS = 50;

/** Tag rules KMS enforces beyond the shape: reserved `aws:` prefix, at most 50 per key. */
export function checkTags(tags: readonly Tag[]): void {
  for (const t of tags) {
    if (t.TagKey.toLowerCase().startsWith('aws:')) throw kmsError('TagException', 'Tags beginning with aws: are reserved.');
  }
  if (new Set(tags.map((t) => t.TagKey)).size > MAX_TAGS) throw kmsError('LimitExceededException', `A key can have at most ${MAX_TAGS} tags.`);
}

/** `aws:RequestTag/<key>` for each tag of a request and `aws:TagKeys` (IAM, "AWS global condition context keys"). */
export function requestTagValues(tags: readonly Tag[]): ContextValues {
  const out: Record<string, string | readonly string[]> = {};
  for (const t of tags) out[`aws:RequestTag/${t.TagKey}`] = t.TagValue;
  const keys = [...new Set(tags.map((t) => t.TagKey))];
  if (keys.length > 0) out['aws:TagKeys'] = keys;
  return out;
}
