// Aliases: CreateAlias, DeleteAlias, UpdateAlias, ListAliases (KMS API Reference; "Aliases").
// Helpers shared by the aliases operations, which live one per file in operations/.
import { kmsError } from '../../errors.ts';

export const AliasNameField = { t: 'string', min: 1, max: 256, pattern: '^[a-zA-Z0-9:/_-]+$', required: true } as const;
export const TargetField = { t: 'string', min: 1, max: 2048, required: true } as const;

export function checkAliasName(name: string): void {
  if (!name.startsWith('alias/')) {
    throw kmsError('ValidationException', 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html');
  }
  if (name === 'alias/' || name.startsWith('alias/aws/')) throw kmsError('InvalidAliasNameException', `The alias name ${name} is not valid: alias/aws/ is reserved for AWS managed keys.`);
}
