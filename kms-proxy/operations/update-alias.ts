// UpdateAlias (KMS API Reference, "UpdateAlias").
import { kmsError } from '../errors.ts';
import { AliasNameField, checkAliasName, existingAlias, TargetField } from './lib/aliases.ts';
import { type Operation, reqStr } from './types.ts';

export const UpdateAlias: Operation = {
  name: 'UpdateAlias',
  quota: 'write',
  readOnly: false,
  shape: { AliasName: AliasNameField, TargetKeyId: TargetField },
  async run({ svc, caller, input, trail }) {
    const name = reqStr(input, 'AliasName');
    checkAliasName(name);
    const a = await existingAlias(svc, caller, name);
    const old = await svc.getKeyOrThrow(a.keyId, a);
    const r = await svc.resolve(reqStr(input, 'TargetKeyId'), caller, { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize({ key: old }, caller, 'kms:UpdateAlias');
    await svc.authorize(r, caller, 'kms:UpdateAlias');
    svc.requireNotPendingDeletion(r.key);
    // An alias may only move between keys of the same type and usage (UpdateAlias docs).
    if (old.keySpec !== r.key.keySpec || old.keyUsage !== r.key.keyUsage) {
      throw kmsError('ValidationException', `${r.key.arn} has a different key spec or key usage than the key alias ${name} currently points to.`);
    }
    await svc.store.putAlias({ ...a, keyId: r.key.keyId, lastUpdatedDate: svc.clock() }, { maxPerKey: svc.limits.aliasesPerKey });
    return {};
  },
};
