// ListRetirableGrants (KMS API Reference, "ListRetirableGrants").
import { accessDenied, principalAccountOf } from '../identity.ts';
import { grantView, PrincipalField } from './lib/grants.ts';
import { type Operation, pageRequest, pageResponse, readChunked, reqStr } from './types.ts';

export const ListRetirableGrants: Operation = {
  name: 'ListRetirableGrants',
  quota: 'list',
  readOnly: true,
  shape: { Limit: { t: 'int', min: 1, max: 100 }, Marker: { t: 'string', min: 1, max: 1024 }, RetiringPrincipal: { ...PrincipalField, required: true } },
  // "You must specify a principal in your AWS account": the authorized resource is the retiring
  // principal, so one of another account is AccessDeniedException and its grants stay unseen. The
  // grants returned may be on keys of any account (their retiring principal is the caller's), in the
  // request's Region ("all grants in the Amazon Web Services account and Region").
  async run({ svc, caller, input }) {
    const rp = reqStr(input, 'RetiringPrincipal');
    svc.authorizeIdentity(caller, 'kms:ListRetirableGrants', rp);
    const owner = /^\d{12}$/.test(rp) ? rp : principalAccountOf(rp);
    if (owner !== caller.account) {
      throw accessDenied(caller, 'kms:ListRetirableGrants', rp, 'cross-account', `the retiring principal is not in the caller's account ${caller.account}`);
    }
    const page = await readChunked(svc.listPacer, pageRequest(input, 50), (p) => svc.store.listRetirableGrants(rp, svc.regionOf(caller), p));
    const grants = [];
    for (const g of page.items) grants.push(grantView(g, (await svc.store.getKey(g))?.arn ?? g.keyId));
    return { Grants: grants, ...pageResponse(page) };
  },
};
