// ListKeys (KMS API Reference, "ListKeys").
import { LimitField, MarkerField } from '../shapes.ts';
import { type Operation, pageRequest, pageResponse, readChunked } from './types.ts';

export const ListKeys: Operation = {
  name: 'ListKeys',
  quota: 'list',
  readOnly: true,
  shape: { Limit: LimitField, Marker: MarkerField },
  // The caller's own account and region only (ListKeys: "Cross-account use: No"), one page read
  // from the store's index: O(Limit), however many keys the account has.
  async run({ svc, caller, input }) {
    svc.authorizeIdentity(caller, 'kms:ListKeys');
    await svc.maintain();
    const scope = svc.scopeOf(caller);
    const page = await readChunked(svc.listPacer, pageRequest(input), (p) => svc.store.listKeys(scope, p));
    return { Keys: page.items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), ...pageResponse(page) };
  },
};
