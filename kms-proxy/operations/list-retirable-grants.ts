// ListRetirableGrants (KMS API Reference, "ListRetirableGrants").
import { grantView, PrincipalField } from './lib/grants.ts';
import { list, type Operation, page, reqStr } from './types.ts';

export const ListRetirableGrants: Operation = {
  name: 'ListRetirableGrants',
  quota: 'list',
  readOnly: true,
  shape: { Limit: { t: 'int', min: 1, max: 100 }, Marker: { t: 'string', min: 1, max: 1024 }, RetiringPrincipal: { ...PrincipalField, required: true } },
  async run({ svc, input }) {
    const rp = reqStr(input, 'RetiringPrincipal');
    const grants = (await svc.store.listGrants()).filter((g) => g.retiringPrincipal === rp);
    const { items, out } = page(grants, input, 50);
    return { Grants: items.map((g) => grantView(g, svc.keyArn(g.keyId), svc.account)), ...out };
  },
};
