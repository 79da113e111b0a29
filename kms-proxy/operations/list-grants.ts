// ListGrants (KMS API Reference, "ListGrants").
import { KeyIdField } from '../shapes.ts';
import { grantView, NOT_FOR_AWS_RESOURCE, PrincipalField } from './lib/grants.ts';
import { authorizedKey, list, type Operation, page, reqStr, str } from './types.ts';

export const ListGrants: Operation = {
  name: 'ListGrants',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, Limit: { t: 'int', min: 1, max: 100 }, Marker: { t: 'string', min: 1, max: 1024 }, GrantId: { t: 'string', min: 1, max: 128 }, GranteePrincipal: PrincipalField },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ListGrants', { aliases: false, extra: NOT_FOR_AWS_RESOURCE });
    const id = str(input, 'GrantId');
    const grantee = str(input, 'GranteePrincipal');
    const grants = (await svc.store.listGrants(r.key.keyId)).filter((g) => (id === undefined || g.grantId === id) && (grantee === undefined || g.granteePrincipal === grantee));
    const { items, out } = page(grants, input, 50);
    return { Grants: items.map((g) => grantView(g, r.key.arn, svc.account)), ...out };
  },
};
