// Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
// ListKeyRotations (KMS Developer Guide, "Rotating AWS KMS keys"). Rotation adds a material
// version; ciphertext names its version, so old ciphertext keeps decrypting.
import { kmsError } from '../errors.ts';
import type { KeyRecord } from '../model.ts';
import { DAY_MS, type Service } from '../service.ts';
import { KeyIdField } from '../shapes.ts';
import { int, page, reqStr, type Operation } from './types.ts';

export const MAX_ON_DEMAND_ROTATIONS = 25;

function requireRotatable(key: KeyRecord): void {
  // Only symmetric encryption keys with KMS-generated material rotate automatically.
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' && !key.keySpec.startsWith('HMAC_')) throw kmsError('UnsupportedOperationException', `${key.arn} key spec ${key.keySpec} does not support rotation.`);
  if (key.origin !== 'AWS_KMS') throw kmsError('UnsupportedOperationException', `${key.arn} origin is ${key.origin} which is not valid for this operation.`);
}

async function rotationKey(svc: Service, id: string): Promise<KeyRecord> {
  const r = await svc.resolve(id, { aliases: false });
  return r.key;
}

export const EnableKeyRotation: Operation = {
  name: 'EnableKeyRotation',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, RotationPeriodInDays: { t: 'int', min: 90, max: 2560 } },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:EnableKeyRotation');
    svc.requireEnabled(key);
    requireRotatable(key);
    const days = int(input, 'RotationPeriodInDays') ?? 365;
    const nextRotationDate = svc.clock() + days * DAY_MS;
    await svc.store.putKey({ ...key, rotationEnabled: true, rotationPeriodInDays: days, nextRotationDate });
    svc.schedule(nextRotationDate);
    return {};
  },
};

export const DisableKeyRotation: Operation = {
  name: 'DisableKeyRotation',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:DisableKeyRotation');
    svc.requireEnabled(key);
    requireRotatable(key);
    const { nextRotationDate: _n, ...rest } = key;
    await svc.store.putKey({ ...rest, rotationEnabled: false });
    return {};
  },
};

export const GetKeyRotationStatus: Operation = {
  name: 'GetKeyRotationStatus',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:GetKeyRotationStatus');
    svc.requireNotPendingDeletion(key);
    return {
      KeyRotationEnabled: key.rotationEnabled,
      KeyId: key.arn,
      ...(key.rotationEnabled ? { RotationPeriodInDays: key.rotationPeriodInDays, NextRotationDate: (key.nextRotationDate ?? 0) / 1000 } : {}),
    };
  },
};

export const RotateKeyOnDemand: Operation = {
  name: 'RotateKeyOnDemand',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:RotateKeyOnDemand');
    svc.requireEnabled(key);
    requireRotatable(key);
    const materials = await svc.store.listMaterials(key.keyId);
    if (materials.filter((m) => m.rotationType === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
      throw kmsError('LimitExceededException', `${key.arn} has reached the maximum number of on-demand rotations (${MAX_ON_DEMAND_ROTATIONS}).`);
    }
    const version = (materials.at(-1)?.version ?? -1) + 1;
    await svc.store.addMaterial(key, svc.newMaterial(key, version, 'ON_DEMAND'));
    return { KeyId: key.arn };
  },
};

export const ListKeyRotations: Operation = {
  name: 'ListKeyRotations',
  quota: 'list',
  readOnly: true,
  shape: { KeyId: KeyIdField, IncludeKeyMaterial: { t: 'string', enum: ['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'] }, Limit: { t: 'int', min: 1, max: 1000 }, Marker: { t: 'string', min: 1, max: 1024 } },
  async run({ svc, caller, input, trail }) {
    const key = await rotationKey(svc, reqStr(input, 'KeyId'));
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:ListKeyRotations');
    requireRotatable(key);
    const all = input.IncludeKeyMaterial === 'ALL_KEY_MATERIAL';
    const rotations = (await svc.store.listMaterials(key.keyId)).filter((m) => all || m.rotationType !== undefined);
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
