// PutKeyPolicy (KMS API Reference, "PutKeyPolicy").
import { KeyIdField } from '../shapes.ts';
import { lockoutCheck, PolicyField } from './lib/keys.ts';
import { checkName, PolicyNameField } from './lib/policies.ts';
import { authorizedKey, bool, type Operation, reqStr, str } from './types.ts';

export const PutKeyPolicy: Operation = {
  name: 'PutKeyPolicy',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, PolicyName: PolicyNameField, Policy: { ...PolicyField, required: true }, BypassPolicyLockoutSafetyCheck: { t: 'bool' } },
  async run({ svc, caller, input, trail }) {
    const bypass = bool(input, 'BypassPolicyLockoutSafetyCheck') === true;
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:PutKeyPolicy', { aliases: false, extra: { 'kms:BypassPolicyLockoutSafetyCheck': String(bypass) } });
    checkName(str(input, 'PolicyName'));
    svc.requireNotPendingDeletion(r.key);
    const policy = reqStr(input, 'Policy');
    lockoutCheck(svc, policy, r.key, caller, bypass);
    await svc.store.putKey({ ...r.key, policy });
    return {};
  },
};
