// GetKeyPolicy (KMS API Reference, "GetKeyPolicy").
import { KeyIdField } from '../shapes.ts';
import { checkName, PolicyNameField } from './lib/policies.ts';
import { type Operation, reqStr, str } from './types.ts';

export const GetKeyPolicy: Operation = {
  name: 'GetKeyPolicy',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField, PolicyName: PolicyNameField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:GetKeyPolicy');
    checkName(str(input, 'PolicyName'));
    return { Policy: r.key.policy, PolicyName: 'default' };
  },
};
