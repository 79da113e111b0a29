// Aliases: CreateAlias, DeleteAlias, UpdateAlias, ListAliases (KMS API Reference; "Aliases").
// Helpers shared by the aliases operations, which live one per file in operations/.
import { kmsError, messages } from '../../errors.ts';
import type { AliasRecord } from '../../model.ts';
import type { Caller, Service } from '../../service.ts';

export const AliasNameField = { t: 'string', min: 1, max: 256, pattern: '^[a-zA-Z0-9:/_-]+$', required: true } as const;
export const TargetField = { t: 'string', min: 1, max: 2048, required: true } as const;

export function checkAliasName(name: string): void {
  if (!name.startsWith('alias/')) {
    throw kmsError('ValidationException', 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html');
  }
  if (name === 'alias/' || name.startsWith('alias/aws/')) throw kmsError('InvalidAliasNameException', `The alias name ${name} is not valid: alias/aws/ is reserved for AWS managed keys.`);
}

/**
 * The alias UpdateAlias and DeleteAlias act on, in the caller's own account and region (an alias
 * name means that account's alias); NotFoundException with AWS's message when absent.
 */
export async function existingAlias(svc: Service, caller: Caller, name: string): Promise<AliasRecord> {
  const a = await svc.store.getAlias(svc.scopeOf(caller), name);
  if (!a) throw kmsError('NotFoundException', messages.aliasNotFound(svc.aliasArn(svc.scopeOf(caller), name)));
  return a;
}
