// ListKeyPolicies (KMS API Reference, "ListKeyPolicies").
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, page, reqStr } from './types.ts';

export const ListKeyPolicies: Operation = {
  name: 'ListKeyPolicies',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, Limit: { t: 'int', min: 1, max: 1000 }, Marker: { t: 'string', min: 1, max: 1024 } },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ListKeyPolicies', { aliases: false });
    const { items, out } = page(['default'], input);
    return { PolicyNames: items, ...out };
  },
};
