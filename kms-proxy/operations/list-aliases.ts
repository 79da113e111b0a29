// ListAliases (KMS API Reference, "ListAliases").
import { LimitField, MarkerField, OptKeyIdField } from '../shapes.ts';
import { type Operation, page, str } from './types.ts';

export const ListAliases: Operation = {
  name: 'ListAliases',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: OptKeyIdField, Limit: LimitField, Marker: MarkerField },
  async run({ svc, caller, input }) {
    let aliases = await svc.store.listAliases();
    const keyId = str(input, 'KeyId');
    if (keyId !== undefined) {
      const r = await svc.resolve(keyId, { aliases: false });
      await svc.authorize(r, caller, 'kms:ListAliases');
      aliases = aliases.filter((a) => a.keyId === r.key.keyId);
    }
    const { items, out } = page(aliases, input);
    return {
      Aliases: items.map((a) => ({
        AliasName: a.name,
        AliasArn: svc.aliasArn(a.name),
        TargetKeyId: a.keyId,
        CreationDate: a.creationDate / 1000,
        LastUpdatedDate: a.lastUpdatedDate / 1000,
      })),
      ...out,
    };
  },
};
