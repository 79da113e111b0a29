// ListKeyRotations (KMS API Reference, "ListKeyRotations").
import { KeyIdField } from '../shapes.ts';
import { requireRotatable } from './lib/rotation.ts';
import { authorizedKey, int, type Operation, page, reqStr } from './types.ts';

export const ListKeyRotations: Operation = {
  name: 'ListKeyRotations',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, IncludeKeyMaterial: { t: 'string', enum: ['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'] }, Limit: { t: 'int', min: 1, max: 1000 }, Marker: { t: 'string', min: 1, max: 1024 } },
  async run({ svc, caller, input, trail }) {
    const { key } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ListKeyRotations', { aliases: false });
    requireRotatable(key);
    const all = input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL';
    const rotations = (await svc.store.listMaterials(key)).filter((m) => all || m.rotationType !== undefined);
    const { items, out } = page(rotations, input);
    return {
      Rotations: items.map((m) => ({
        KeyId: key.arn,
        KeyMaterialId: m.id,
        ...(m.rotationType ? { RotationDate: m.createdAt / 1000, RotationType: m.rotationType } : {}),
        KeyMaterialState: m.version === rotations.at(-1)?.version ? 'CURRENT' : 'NON_CURRENT',
      })),
      ...out,
    };
  },
};
