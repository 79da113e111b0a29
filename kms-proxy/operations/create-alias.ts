// CreateAlias (KMS API Reference, "CreateAlias").
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
    // The alias is made in the caller's account, where its key is (authorize refuses another
    // account's key: CreateAlias is not a cross-account action); the name is unique there only.
    // Insert-only: the store's unique index decides between concurrent creators, also across
    // replicas (AlreadyExistsException for all but one).
    const now = svc.clock();
    await svc.store.putAlias({ ...svc.scopeOf(caller), name, keyId: r.key.keyId, creationDate: now, lastUpdatedDate: now }, { maxPerKey: svc.limits.aliasesPerKey, create: true });
    return {};
  },
};
