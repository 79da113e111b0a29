// Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. KMS keys have exactly one policy,
// named "default" (KMS API Reference, PutKeyPolicy: "PolicyName … The only valid name is default").
// Helpers shared by the policies operations, which live one per file in operations/.
import { kmsError } from '../../errors.ts';

export const PolicyNameField = { t: 'string', min: 1, max: 128, pattern: '[\\w]+' } as const;

export function checkName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') throw kmsError('NotFoundException', `No such policy exists: ${name}`);
}
