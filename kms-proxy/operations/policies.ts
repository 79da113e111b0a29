// Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. KMS keys have exactly one policy,
// named "default" (KMS API Reference, PutKeyPolicy: "PolicyName … The only valid name is default").
import { kmsError } from '../errors.ts';
import { KeyIdField } from '../shapes.ts';
import { lockoutCheck, PolicyField } from './keys.ts';
import { bool, page, reqStr, str, type Operation } from './types.ts';

const PolicyNameField = { t: 'string', min: 1, max: 128, pattern: '[\\w]+' } as const;

function checkName(name: string | undefined): void {
  if (name !== undefined && name !== 'default') throw kmsError('NotFoundException', `No such policy exists: ${name}`);
}

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

export const PutKeyPolicy: Operation = {
  name: 'PutKeyPolicy',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, PolicyName: PolicyNameField, Policy: { ...PolicyField, required: true }, BypassPolicyLockoutSafetyCheck: { t: 'bool' } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:PutKeyPolicy');
    checkName(str(input, 'PolicyName'));
    svc.requireNotPendingDeletion(r.key);
    const policy = reqStr(input, 'Policy');
    lockoutCheck(svc, policy, r.key, caller, bool(input, 'BypassPolicyLockoutSafetyCheck'));
    await svc.store.putKey({ ...r.key, policy });
    return {};
  },
};

export const ListKeyPolicies: Operation = {
  name: 'ListKeyPolicies',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, Limit: { t: 'int', min: 1, max: 1000 }, Marker: { t: 'string', min: 1, max: 1024 } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:ListKeyPolicies');
    const { items, out } = page(['default'], input);
    return { PolicyNames: items, ...out };
  },
};
