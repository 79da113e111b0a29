// Aliases: CreateAlias, DeleteAlias, UpdateAlias, ListAliases (KMS API Reference; "Aliases").
import { kmsError } from '../errors.ts';
import { LimitField, MarkerField, OptKeyIdField } from '../shapes.ts';
import { page, reqStr, str, type Operation } from './types.ts';

const AliasNameField = { t: 'string', min: 1, max: 256, pattern: '^[a-zA-Z0-9:/_-]+$', required: true } as const;
const TargetField = { t: 'string', min: 1, max: 2048, required: true } as const;

function checkAliasName(name: string): void {
  if (!name.startsWith('alias/')) {
    throw kmsError('ValidationException', 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html');
  }
  if (name === 'alias/' || name.startsWith('alias/aws/')) throw kmsError('InvalidAliasNameException', `The alias name ${name} is not valid: alias/aws/ is reserved for AWS managed keys.`);
}

export const CreateAlias: Operation = {
  name: 'CreateAlias',
  quota: 'write',
  readOnly: false,
  shape: { AliasName: AliasNameField, TargetKeyId: TargetField },
  async run({ svc, caller, input, trail }) {
    const name = reqStr(input, 'AliasName');
    checkAliasName(name);
    const r = await svc.resolve(reqStr(input, 'TargetKeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:CreateAlias');
    svc.requireNotPendingDeletion(r.key);
    if (await svc.store.getAlias(name)) throw kmsError('AlreadyExistsException', `An alias with the name ${svc.aliasArn(name)} already exists`);
    const now = svc.clock();
    await svc.store.putAlias({ name, keyId: r.key.keyId, creationDate: now, lastUpdatedDate: now });
    return {};
  },
};

export const DeleteAlias: Operation = {
  name: 'DeleteAlias',
  quota: 'write',
  readOnly: false,
  shape: { AliasName: AliasNameField },
  async run({ svc, caller, input, trail }) {
    const name = reqStr(input, 'AliasName');
    checkAliasName(name);
    const a = await svc.store.getAlias(name);
    if (!a) throw kmsError('NotFoundException', `Alias ${svc.aliasArn(name)} is not found.`);
    const key = await svc.getKeyOrThrow(a.keyId);
    trail.keyArn = key.arn;
    trail.decision = await svc.authorize({ key }, caller, 'kms:DeleteAlias');
    await svc.store.deleteAlias(name);
    return {};
  },
};

export const UpdateAlias: Operation = {
  name: 'UpdateAlias',
  quota: 'write',
  readOnly: false,
  shape: { AliasName: AliasNameField, TargetKeyId: TargetField },
  async run({ svc, caller, input, trail }) {
    const name = reqStr(input, 'AliasName');
    checkAliasName(name);
    const a = await svc.store.getAlias(name);
    if (!a) throw kmsError('NotFoundException', `Alias ${svc.aliasArn(name)} is not found.`);
    const old = await svc.getKeyOrThrow(a.keyId);
    const r = await svc.resolve(reqStr(input, 'TargetKeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize({ key: old }, caller, 'kms:UpdateAlias');
    await svc.authorize(r, caller, 'kms:UpdateAlias');
    svc.requireNotPendingDeletion(r.key);
    // An alias may only move between keys of the same type and usage (UpdateAlias docs).
    if (old.keySpec !== r.key.keySpec || old.keyUsage !== r.key.keyUsage) {
      throw kmsError('ValidationException', `${r.key.arn} has a different key spec or key usage than the key alias ${name} currently points to.`);
    }
    await svc.store.putAlias({ ...a, keyId: r.key.keyId, lastUpdatedDate: svc.clock() });
    return {};
  },
};

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
