// ListKeyRotations (KMS API Reference, "ListKeyRotations", "RotationsListEntry").
import { importedMaterials } from '../imported.ts';
import type { KeyRecord, Material } from '../model.ts';
import { requireRotatable } from './lib/rotation.ts';
import { KeyIdField } from '../shapes.ts';
import { authorizedKey, type Operation, page, reqStr } from './types.ts';

/**
 * The entries of a key with imported material: every material associated with it, with its import
 * state, expiry and description ("This field is only present for symmetric encryption KMS keys with
 * EXTERNAL origin"); RotationDate and RotationType only for a material an on-demand rotation made
 * current ("not present for the first key material or an imported key material in PENDING_ROTATION
 * state"). The default ROTATIONS_ONLY lists only those; ALL_KEY_MATERIAL adds "the first key material
 * and any imported key material pending rotation".
 */
function importedEntries(key: KeyRecord, rows: readonly Material[], all: boolean): Record<string, unknown>[] {
  return importedMaterials(key, rows)
    .filter((m) => all || m.rotationDate !== undefined)
    .map((m) => ({
      KeyId: key.arn,
      KeyMaterialId: m.id,
      ...(m.description !== undefined ? { KeyMaterialDescription: m.description } : {}),
      ImportState: m.imported ? 'IMPORTED' : 'PENDING_IMPORT',
      KeyMaterialState: m.state,
      ...(m.expirationModel !== undefined ? { ExpirationModel: m.expirationModel } : {}),
      ...(m.validTo !== undefined ? { ValidTo: m.validTo / 1000 } : {}),
      ...(m.rotationDate !== undefined ? { RotationDate: m.rotationDate / 1000, RotationType: 'ON_DEMAND' } : {}),
    }));
}

/** The entries of a key with KMS-generated material: its versions, the newest current. */
function generatedEntries(key: KeyRecord, rows: readonly Material[], all: boolean): Record<string, unknown>[] {
  const newest = rows.at(-1)?.version;
  return rows
    .filter((m) => all || m.rotationType !== undefined)
    .map((m) => ({
      KeyId: key.arn,
      KeyMaterialId: m.id,
      KeyMaterialState: m.version === newest ? 'CURRENT' : 'NON_CURRENT',
      ...(m.rotationType ? { RotationDate: m.createdAt / 1000, RotationType: m.rotationType } : {}),
    }));
}

export const ListKeyRotations: Operation = {
  name: 'ListKeyRotations',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, IncludeKeyMaterial: { t: 'string', enum: ['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'] }, Limit: { t: 'int', min: 1, max: 1000 }, Marker: { t: 'string', min: 1, max: 1024 } },
  async run({ svc, caller, input, trail }) {
    const { key } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ListKeyRotations', { aliases: false });
    requireRotatable(key);
    const all = input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL';
    const rows = await svc.store.listMaterials(key);
    const entries = key.origin === 'EXTERNAL' ? importedEntries(key, rows, all) : generatedEntries(key, rows, all);
    const { items, out } = page(entries, input);
    return { Rotations: items, ...out };
  },
};
