// ListAliases (KMS API Reference, "ListAliases").
import { accessDenied } from '../identity.ts';
import { LimitField, MarkerField, OptKeyIdField } from '../shapes.ts';
import { type Operation, pageRequest, pageResponse, readChunked, str } from './types.ts';

export const ListAliases: Operation = {
  name: 'ListAliases',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: OptKeyIdField, Limit: LimitField, Marker: MarkerField },
  // IAM-only on AWS (kms:ListAliases in the identity policy, resource "*"), and of the caller's own
  // account and region only ("Cross-account use: No"): a KeyId of another account's key, which only
  // its ARN can name, is AccessDeniedException.
  async run({ svc, caller, input, trail }) {
    svc.authorizeIdentity(caller, 'kms:ListAliases');
    const keyId = str(input, 'KeyId');
    let target: string | undefined;
    if (keyId !== undefined) {
      const r = await svc.resolve(keyId, caller, { aliases: false });
      trail.keyArn = r.key.arn;
      if (r.key.account !== caller.account) {
        throw accessDenied(caller, 'kms:ListAliases', r.key.arn, 'cross-account', "ListAliases lists only the caller's own account");
      }
      target = r.key.keyId;
    }
    const scope = svc.scopeOf(caller);
    const page = await readChunked(svc.listPacer, pageRequest(input), (p) => svc.store.listAliases(scope, p, target));
    return {
      Aliases: page.items.map((a) => ({
        AliasName: a.name,
        AliasArn: svc.aliasArn(a, a.name),
        TargetKeyId: a.keyId,
        CreationDate: a.creationDate / 1000,
        LastUpdatedDate: a.lastUpdatedDate / 1000,
      })),
      ...pageResponse(page),
    };
  },
};
