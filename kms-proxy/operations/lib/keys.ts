// Key lifecycle: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
// CancelKeyDeletion, UpdateKeyDescription (KMS API Reference, one section each).
// Helpers shared by the keys operations, which live one per file in operations/.
import { kmsError } from '../../errors.ts';
import type { KeyRecord } from '../../model.ts';
import { parsePolicy } from '../../policy/document.ts';
import { evaluate } from '../../policy/evaluate.ts';
import type { Caller, Service } from '../../service.ts';

export const PolicyField = { t: 'string', min: 1, max: 131072, pattern: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+' } as const;

/**
 * PutKeyPolicy/CreateKey "policy lockout safety check": the new policy must still let the caller
 * change it, unless BypassPolicyLockoutSafetyCheck is set (message as AWS answers).
 */
export function lockoutCheck(svc: Service, policyText: string, key: Pick<KeyRecord, 'arn' | 'keySpec' | 'keyUsage' | 'origin' | 'tags'>, caller: Caller, bypass: boolean | undefined): void {
  const policy = parsePolicy(policyText);
  if (bypass) return;
  const d = evaluate(policy, [], {
    principalArn: caller.principalArn,
    principalAccount: caller.account,
    action: 'kms:PutKeyPolicy',
    resourceArn: key.arn,
    context: svc.requestContext(key as KeyRecord, caller, {}),
  });
  if (!d.allowed) {
    throw kmsError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
}
