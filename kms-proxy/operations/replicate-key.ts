// ReplicateKey (KMS API Reference, "ReplicateKey"; Developer Guide, "Creating multi-Region replica
// keys"): a replica of a multi-Region primary key in another Region of this KMS, with the primary's
// key id, key material, key spec, key usage, origin and rotation status, and its own key policy,
// description and tags. It is Creating for `transientStateMs` (AWS: "a few seconds"), then Enabled
// (PendingImport for imported material, which is never copied: "You must import the same key
// material that you imported into the primary key").
import { kmsError } from '../errors.ts';
import type { KeyRecord, Tag } from '../model.ts';
import { requirePrimary, transient } from '../multi-region.ts';
import { defaultKeyPolicy } from '../policy/document.ts';
import { REGION_PATTERN } from '../regions.ts';
import { KeyIdField } from '../shapes.ts';
import { dedupeTags, lockoutCheck, PolicyField } from './lib/keys.ts';
import { checkTags } from './lib/tags.ts';
import { authorizedKey, bool, type Operation, reqStr, str } from './types.ts';

export const RegionField = { t: 'string', min: 1, max: 32, pattern: REGION_PATTERN, required: true } as const;

export const ReplicateKey: Operation = {
  name: 'ReplicateKey',
  quota: 'write',
  readOnly: false,
  shape: {
    KeyId: KeyIdField,
    ReplicaRegion: RegionField,
    Policy: PolicyField,
    BypassPolicyLockoutSafetyCheck: { t: 'bool' },
    Description: { t: 'string', min: 0, max: 8192 },
    Tags: { t: 'tags' },
  },
  async run({ svc, caller, input, trail }) {
    const replicaRegion = reqStr(input, 'ReplicaRegion');
    const tags = (input.Tags as Tag[] | undefined) ?? [];
    // Required permissions: kms:ReplicateKey in the primary's key policy; kms:CreateKey (and
    // kms:TagResource with Tags) in an IAM policy, which here is the caller's identity policy.
    const { key: primary } = await authorizedKey({ svc, caller, trail }, reqStr(input, 'KeyId'), 'kms:ReplicateKey', { aliases: false, extra: { 'kms:ReplicaRegion': replicaRegion } });
    svc.authorizeIdentity(caller, 'kms:CreateKey');
    if (tags.length > 0) svc.authorizeIdentity(caller, 'kms:TagResource');
    requirePrimary(primary);
    svc.requireSettled(primary);
    svc.requireEnabled(primary);
    const replicaScope = { account: primary.account, region: replicaRegion };
    const replicaArn = svc.keyArn(replicaScope, primary.keyId);
    if (!svc.regions.has(replicaRegion)) {
      throw kmsError('UnsupportedOperationException', `${replicaRegion} is not a Region this KMS serves (${[...svc.regions].join(', ')}): start it with --region ${replicaRegion}.`);
    }
    // "You cannot create more than one replica of a primary key in any Region. If the Region already
    // includes a replica of the key you're trying to replicate, ReplicateKey returns an
    // AlreadyExistsException error." The primary's own Region holds its key id too.
    const related = await svc.store.relatedKeys(primary.keyId);
    const there = related.find((k) => k.region === replicaRegion);
    if (there) {
      throw kmsError('AlreadyExistsException', there.multiRegionKeyType === 'PRIMARY' ? `${replicaRegion} is the Region of the primary key ${there.arn}: a replica must be in another Region.` : `The replica key ${there.arn} already exists.`);
    }
    checkTags(tags);
    const policy = str(input, 'Policy') ?? defaultKeyPolicy(primary.account);
    const now = svc.clock();
    const ready = primary.origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled';
    const base: KeyRecord = {
      keyId: primary.keyId,
      arn: replicaArn,
      ...replicaScope,
      creationDate: now,
      description: str(input, 'Description') ?? '',
      keySpec: primary.keySpec,
      keyUsage: primary.keyUsage,
      origin: primary.origin,
      state: ready,
      policy,
      rotationEnabled: primary.rotationEnabled,
      ...(primary.rotationPeriodInDays !== undefined ? { rotationPeriodInDays: primary.rotationPeriodInDays } : {}),
      ...(primary.nextRotationDate !== undefined ? { nextRotationDate: primary.nextRotationDate } : {}),
      tags: dedupeTags(tags),
      multiRegionKeyType: 'REPLICA',
      // "You must import the same key material that you imported into the primary key."
      ...(primary.importedMaterialDigest !== undefined ? { importedMaterialDigest: primary.importedMaterialDigest } : {}),
    };
    lockoutCheck(svc, policy, base, caller, bool(input, 'BypassPolicyLockoutSafetyCheck'));
    const replica = transient(base, 'Creating', ready, now + svc.transientStateMs, now);
    // The replica and its copy of every material version in one transaction: ciphertext of any
    // version decrypts in the replica's Region.
    const materials = primary.origin === 'EXTERNAL' ? [] : await svc.store.listMaterials(primary);
    await svc.store.writeKeys({ create: [replica], materials: materials.map((material) => ({ key: replica, material })) }, { maxKeys: svc.limits.keysPerAccount });
    if (replica.settles) svc.schedule(replica.settles.at);
    return {
      ReplicaKeyMetadata: svc.keyMetadata(replica, materials.at(-1)?.id, [...related, replica]),
      ReplicaPolicy: policy,
      ReplicaTags: replica.tags,
    };
  },
};
