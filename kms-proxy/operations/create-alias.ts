// CreateAlias (KMS API Reference, "CreateAlias").
import { kmsError } from '../errors.ts';
import { AliasNameField, checkAliasName, TargetField } from './lib/aliases.ts';
import { authorizedKey, type Operation, reqStr } from './types.ts';

export const CreateAlias: Operation = {
  name: 'CreateAlias',
  quota: 'write',
  readOnly: false,
  shape: { AliasName: AliasNameField, TargetKeyId: TargetField },
  async run({ svc, caller, input, trail }) {
    const name = reqStr(input, 'AliasName');
    checkAliasName(name);
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'TargetKeyId'), 'kms:CreateAlias', { aliases: false });
    svc.requireNotPendingDeletion(r.key);
    if (await svc.store.getAlias(name)) throw kmsError('AlreadyExistsException', `An alias with the name ${svc.aliasArn(name)} already exists`);
    const now = svc.clock();
    await svc.store.putAlias({ name, keyId: r.key.keyId, creationDate: now, lastUpdatedDate: now });
    return {};
  },
};
