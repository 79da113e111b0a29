// ListGrants (KMS API Reference, "ListGrants").
import { KeyIdField } from '../shapes.ts';
import { grantView, NOT_FOR_AWS_RESOURCE, PrincipalField } from './lib/grants.ts';
import { authorizedKey, type Operation, pageRequest, pageResponse, readChunked, reqStr, str } from './types.ts';

export const ListGrants: Operation = {
  name: 'ListGrants',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, Limit: { t: 'int', min: 1, max: 100 }, Marker: { t: 'string', min: 1, max: 1024 }, GrantId: { t: 'string', min: 1, max: 128 }, GranteePrincipal: PrincipalField },
  async run({ svc, caller, input, trail }) {
    const r = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ListGrants', { aliases: false, extra: NOT_FOR_AWS_RESOURCE });
    const grantId = str(input, 'GrantId');
    const granteePrincipal = str(input, 'GranteePrincipal');
    // One page from the store's index, the filters applied in the query (O(Limit)).
    const filter = { ...(grantId !== undefined ? { grantId } : {}), ...(granteePrincipal !== undefined ? { granteePrincipal } : {}) };
    const page = await readChunked(svc.listPacer, pageRequest(input, 50), (p) => svc.store.listGrantPage(r.key, p, filter));
    return { Grants: page.items.map((g) => grantView(g, r.key.arn)), ...pageResponse(page) };
  },
};
