// GetKeyPolicy (KMS API Reference, "GetKeyPolicy").
import { KeyIdField } from '../shapes.ts';
import { checkName, PolicyNameField } from './lib/policies.ts';
import { authorizedKey, type Operation, reqStr, str } from './types.ts';

export const GetKeyPolicy: Operation = {
  name: 'GetKeyPolicy',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField, PolicyName: PolicyNameField },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:GetKeyPolicy', { aliases: false });
    checkName(str(input, 'PolicyName'));
    return { Policy: r.key.policy, PolicyName: 'default' };
  },
};
