// DeleteAlias (KMS API Reference, "DeleteAlias").
import { kmsError } from '../errors.ts';
import { AliasNameField, checkAliasName } from './lib/aliases.ts';
import { type Operation, reqStr } from './types.ts';

export const DeleteAlias: Operation = {
  name: 'DeleteAlias',
  quota: 'write',
  readOnly: false,
  shape: { AliasName: AliasNameField },
  async run({ svc, caller, input, trail }) {
    const name = reqStr(input, 'AliasName');
    checkAliasName(name);
    const a = await svc.store.getAlias(name);
    if (!a) throw kmsError('NotFoundException', `Alias ${svc.aliasArn(name)} is not found.`);
    const key = await svc.getKeyOrThrow(a.keyId);
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:DeleteAlias');
    await svc.store.deleteAlias(name);
    return {};
  },
};
