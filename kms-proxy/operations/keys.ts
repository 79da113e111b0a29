// Key lifecycle: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion,
// CancelKeyDeletion, UpdateKeyDescription (KMS API Reference, one section each).
import { kmsError } from '../errors.ts';
import { SPECS } from '../keyspec.ts';
import { KEY_SPECS, KEY_USAGES, ORIGINS, type KeyRecord, type KeySpec, type KeyUsage, type Origin, type Tag } from '../model.ts';
import { defaultKeyPolicy, parsePolicy } from '../policy/document.ts';
import { evaluate } from '../policy/evaluate.ts';
import { DAY_MS, type Caller, type Service } from '../service.ts';
import { KeyIdField, LimitField, MarkerField } from '../shapes.ts';
import { checkTags } from './tags.ts';
import { bool, page, reqStr, str, type Operation } from './types.ts';

export const PolicyField = { t: 'string', min: 1, max: 131072, pattern: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+' } as const;

/**
 * PutKeyPolicy/CreateKey "policy lockout safety check": the new policy must still let the caller
 * change it, unless BypassPolicyLockoutSafetyCheck is set (message as AWS answers).
 */
export function lockoutCheck(svc: Service, policyText: string, key: Pick<KeyRecord, 'arn' | 'keySpec' | 'keyUsage' | 'origin' | 'tags'>, caller: Caller, bypass: boolean | undefined): void {
  const policy = parsePolicy(policyText);
  if (bypass) return;
  const d = evaluate(policy, [], {
    principalArn: caller.principalArn,
    principalAccount: caller.account,
    action: 'kms:PutKeyPolicy',
    resourceArn: key.arn,
    context: svc.requestContext(key as KeyRecord, caller, {}),
  });
  if (!d.allowed) {
    throw kmsError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
}

export const CreateKey: Operation = {
  name: 'CreateKey',
  quota: 'write',
  readOnly: false,
  shape: {
    Policy: PolicyField,
    Description: { t: 'string', min: 0, max: 8192 },
    KeyUsage: { t: 'string', enum: KEY_USAGES },
    CustomerMasterKeySpec: { t: 'string', enum: KEY_SPECS.slice(0, 12) },
    KeySpec: { t: 'string', enum: KEY_SPECS },
    Origin: { t: 'string', enum: ORIGINS },
    CustomKeyStoreId: { t: 'string', min: 1, max: 64 },
    BypassPolicyLockoutSafetyCheck: { t: 'bool' },
    Tags: { t: 'tags' },
    MultiRegion: { t: 'bool' },
    XksKeyId: { t: 'string', min: 1, max: 128 },
  },
  async run({ svc, caller, input, trail }) {
    const specIn = str(input, 'KeySpec');
    const cmkSpec = str(input, 'CustomerMasterKeySpec');
    if (specIn !== undefined && cmkSpec !== undefined) {
      throw kmsError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.');
    }
    const keySpec = (specIn ?? cmkSpec ?? 'SYMMETRIC_DEFAULT') as KeySpec;
    const info = SPECS[keySpec];
    if (!info) throw kmsError('UnsupportedOperationException', `KeySpec ${keySpec} is not supported by this KMS.`);
    const origin = (str(input, 'Origin') ?? 'AWS_KMS') as Origin;
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') throw kmsError('UnsupportedOperationException', `Origin ${origin} is not supported by this KMS: it has no custom key stores.`);
    if (str(input, 'CustomKeyStoreId') !== undefined || str(input, 'XksKeyId') !== undefined) {
      throw kmsError('UnsupportedOperationException', 'Custom key stores are not supported by this KMS.');
    }
    if (bool(input, 'MultiRegion')) throw kmsError('UnsupportedOperationException', 'Multi-Region keys are not supported by this KMS.');
    const usageIn = str(input, 'KeyUsage') as KeyUsage | undefined;
    if (usageIn === undefined && keySpec !== 'SYMMETRIC_DEFAULT') {
      throw kmsError('ValidationException', 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.');
    }
    const keyUsage = usageIn ?? 'ENCRYPT_DECRYPT';
    if (!info.usages.includes(keyUsage)) throw kmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`);
    const tags = (input.Tags as Tag[] | undefined) ?? [];
    checkTags(tags);
    const keyId = svc.newKeyId();
    const arn = svc.keyArn(keyId);
    const policy = str(input, 'Policy') ?? defaultKeyPolicy(svc.account);
    const draft = { arn, keySpec, keyUsage, origin, tags };
    lockoutCheck(svc, policy, draft, caller, bool(input, 'BypassPolicyLockoutSafetyCheck'));
    const key: KeyRecord = {
      keyId,
      arn,
      account: svc.account,
      region: svc.region,
      creationDate: svc.clock(),
      description: str(input, 'Description') ?? '',
      keySpec,
      keyUsage,
      origin,
      state: origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
      policy,
      rotationEnabled: false,
      tags: dedupeTags(tags),
    };
    const material = origin === 'EXTERNAL' ? undefined : svc.newMaterial(key, 0);
    await svc.store.createKey(key, material);
    trail.keyArn = arn;
    return { KeyMetadata: svc.keyMetadata(key, material?.id) };
  },
};

function dedupeTags(tags: readonly Tag[]): Tag[] {
  const m = new Map<string, string>();
  for (const t of tags) m.set(t.TagKey, t.TagValue);
  return [...m].map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
}

export const DescribeKey: Operation = {
  name: 'DescribeKey',
  quota: 'management',
  readOnly: true,
  shape: { KeyId: KeyIdField, GrantTokens: { t: 'strings', min: 0, max: 10, itemMin: 1, itemMax: 8192 } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'));
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:DescribeKey');
    const cur = await svc.store.currentMaterial(r.key.keyId);
    return { KeyMetadata: svc.keyMetadata(r.key, cur?.id) };
  },
};

export const ListKeys: Operation = {
  name: 'ListKeys',
  quota: 'list',
  readOnly: true,
  shape: { Limit: LimitField, Marker: MarkerField },
  async run({ svc, input }) {
    await svc.maintain();
    const keys = await svc.store.listKeys();
    const { items, out } = page(keys, input);
    return { Keys: items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), ...out };
  },
};

export const EnableKey: Operation = {
  name: 'EnableKey',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:EnableKey');
    const k = r.key;
    if (k.state === 'PendingDeletion' || k.state === 'PendingImport') throw kmsError('KMSInvalidStateException', `${k.arn} is ${k.state === 'PendingDeletion' ? 'pending deletion' : 'pending import'}.`);
    await svc.store.putKey({ ...k, state: 'Enabled' });
    if (k.nextRotationDate !== undefined) svc.schedule(k.nextRotationDate);
    return {};
  },
};

export const DisableKey: Operation = {
  name: 'DisableKey',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:DisableKey');
    const k = r.key;
    if (k.state === 'PendingDeletion' || k.state === 'PendingImport') throw kmsError('KMSInvalidStateException', `${k.arn} is ${k.state === 'PendingDeletion' ? 'pending deletion' : 'pending import'}.`);
    await svc.store.putKey({ ...k, state: 'Disabled' });
    return {};
  },
};

export const ScheduleKeyDeletion: Operation = {
  name: 'ScheduleKeyDeletion',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, PendingWindowInDays: { t: 'int', min: 7, max: 30 } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:ScheduleKeyDeletion');
    svc.requireNotPendingDeletion(r.key);
    const days = (input.PendingWindowInDays as number | undefined) ?? 30;
    const deletionDate = svc.clock() + days * DAY_MS;
    await svc.store.putKey({ ...r.key, state: 'PendingDeletion', deletionDate, pendingWindowInDays: days });
    svc.schedule(deletionDate);
    return { KeyId: r.key.arn, DeletionDate: deletionDate / 1000, KeyState: 'PendingDeletion', PendingWindowInDays: days };
  },
};

export const CancelKeyDeletion: Operation = {
  name: 'CancelKeyDeletion',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:CancelKeyDeletion');
    if (r.key.state !== 'PendingDeletion') throw kmsError('KMSInvalidStateException', `${r.key.arn} is not pending deletion.`);
    const { deletionDate: _d, pendingWindowInDays: _p, ...rest } = r.key;
    // AWS leaves a cancelled key Disabled; a key without material goes back to PendingImport.
    const hasMaterial = (await svc.store.currentMaterial(r.key.keyId)) !== undefined;
    await svc.store.putKey({ ...rest, state: hasMaterial ? 'Disabled' : 'PendingImport' });
    return { KeyId: r.key.arn };
  },
};

export const UpdateKeyDescription: Operation = {
  name: 'UpdateKeyDescription',
  quota: 'write',
  readOnly: false,
  shape: { KeyId: KeyIdField, Description: { t: 'string', min: 0, max: 8192, required: true } },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'), { aliases: false });
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:UpdateKeyDescription');
    svc.requireNotPendingDeletion(r.key);
    await svc.store.putKey({ ...r.key, description: reqStr(input, 'Description') });
    return {};
  },
};
