// CreateKey (KMS API Reference, "CreateKey").
import { kmsError } from '../errors.ts';
import { SPECS } from '../keyspec.ts';
import { KEY_SPECS, KEY_USAGES, type KeyRecord, type KeySpec, type KeyUsage, type Origin, ORIGINS, type Tag } from '../model.ts';
import { defaultKeyPolicy } from '../policy/document.ts';
import { dedupeTags, lockoutCheck, PolicyField } from './lib/keys.ts';
import { checkTags } from './lib/tags.ts';
import { bool, type Operation, str } from './types.ts';

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
    // IAM-only on AWS; the key is the caller's account's, as its default policy says.
    svc.authorizeIdentity(caller, 'kms:CreateKey');
    // Keys whose deletion window has ended are gone before the key quota counts them.
    await svc.maintain();
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
    const usageIn = str(input, 'KeyUsage') as KeyUsage | undefined;
    if (usageIn === undefined && keySpec !== 'SYMMETRIC_DEFAULT') {
      throw kmsError('ValidationException', 'You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.');
    }
    const keyUsage = usageIn ?? 'ENCRYPT_DECRYPT';
    if (!info.usages.includes(keyUsage)) throw kmsError('ValidationException', `KeyUsage ${keyUsage} is not compatible with KeySpec ${keySpec}`);
    const tags = (input.Tags as Tag[] | undefined) ?? [];
    checkTags(tags);
    // A multi-Region primary key (multi-region.ts): an `mrk-` id, replicated with ReplicateKey.
    const multiRegion = bool(input, 'MultiRegion') === true;
    const keyId = svc.newKeyId(multiRegion);
    const scope = svc.scopeOf(caller);
    const arn = svc.keyArn(scope, keyId);
    const policy = str(input, 'Policy') ?? defaultKeyPolicy(caller.account);
    const mrk = multiRegion ? ({ multiRegionKeyType: 'PRIMARY' } as const) : {};
    const draft = { arn, keySpec, keyUsage, origin, tags, ...mrk };
    lockoutCheck(svc, policy, draft, caller, bool(input, 'BypassPolicyLockoutSafetyCheck'));
    const key: KeyRecord = {
      keyId,
      arn,
      ...scope,
      creationDate: svc.clock(),
      description: str(input, 'Description') ?? '',
      keySpec,
      keyUsage,
      origin,
      state: origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
      policy,
      rotationEnabled: false,
      tags: dedupeTags(tags),
      ...mrk,
    };
    const material = origin === 'EXTERNAL' ? undefined : await svc.newMaterial(key, 0);
    await svc.store.createKey(key, material, { maxKeys: svc.limits.keysPerAccount });
    trail.keyArn = arn;
    return { KeyMetadata: svc.keyMetadata(key, material?.id) };
  },
};
