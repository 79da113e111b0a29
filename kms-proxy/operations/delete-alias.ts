// DeleteAlias (KMS API Reference, "DeleteAlias").
import { AliasNameField, checkAliasName, existingAlias } from './lib/aliases.ts';
import { type Operation, reqStr } from './types.ts';

export const DeleteAlias: Operation = {
  name: 'DeleteAlias',
  quota: 'write',
  readOnly: false,
  shape: { AliasName: AliasNameField },
  async run({ svc, caller, input, trail }) {
    const name = reqStr(input, 'AliasName');
    checkAliasName(name);
    const a = await existingAlias(svc, caller, name);
    const key = await svc.getKeyOrThrow(a.keyId, a);
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:DeleteAlias');
    await svc.store.deleteAlias(svc.scopeOf(caller), name);
    return {};
  },
};
