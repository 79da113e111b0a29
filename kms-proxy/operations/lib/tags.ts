// Tags: TagResource, UntagResource, ListResourceTags (KMS API Reference; "Tagging keys").
// Helpers shared by the tags operations, which live one per file in operations/.
import { kmsError, messages } from '../../errors.ts';
import type { Tag } from '../../model.ts';
import type { ContextValues } from '../../service.ts';

export const MAX_TAGS = 50;

/**
 * The tags of a request (CreateKey, TagResource), as KMS checks them: each key once, none with the
 * reserved `aws:` prefix (any case), at most 50. TagException with AWS's messages (localstack's
 * test_kms.snapshot.json: "Duplicate tag keys", "Tags beginning with aws: are reserved", "Too many
 * tags", the last for 51 tags on CreateKey).
 */
export function checkRequestTags(tags: readonly Tag[]): void {
  if (new Set(tags.map((t) => t.TagKey)).size !== tags.length) throw kmsError('TagException', messages.tagDuplicate);
  for (const t of tags) {
    if (t.TagKey.toLowerCase().startsWith('aws:')) throw kmsError('TagException', messages.tagReserved);
  }
  checkTagCount(tags.length);
}

/** At most 50 tags on a key (the request's, or the key's after TagResource adds them). */
export function checkTagCount(n: number): void {
  if (n > MAX_TAGS) throw kmsError('TagException', messages.tagTooMany);
}

/** `aws:RequestTag/<key>` for each tag of a request and `aws:TagKeys` (IAM, "AWS global condition context keys"). */
export function requestTagValues(tags: readonly Tag[]): ContextValues {
  const out: Record<string, string | readonly string[]> = {};
  for (const t of tags) out[`aws:RequestTag/${t.TagKey}`] = t.TagValue;
  const keys = [...new Set(tags.map((t) => t.TagKey))];
  if (keys.length > 0) out['aws:TagKeys'] = keys;
  return out;
}
