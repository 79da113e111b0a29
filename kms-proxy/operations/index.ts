// Every operation this KMS implements, by its X-Amz-Target name; one file per operation, named
// after it (decrypt.ts, create-grant.ts, …), helpers shared by related operations in lib/. Operations of the KMS model that
// are not here (custom key stores, …) answer UnsupportedOperationException.
import { CancelKeyDeletion } from './cancel-key-deletion.ts';
import { CreateAlias } from './create-alias.ts';
import { CreateGrant } from './create-grant.ts';
import { CreateKey } from './create-key.ts';
import { Decrypt } from './decrypt.ts';
import { DeleteAlias } from './delete-alias.ts';
import { DeleteImportedKeyMaterial } from './delete-imported-key-material.ts';
import { DeriveSharedSecret } from './derive-shared-secret.ts';
import { DescribeKey } from './describe-key.ts';
import { DisableKey } from './disable-key.ts';
import { DisableKeyRotation } from './disable-key-rotation.ts';
import { EnableKey } from './enable-key.ts';
import { EnableKeyRotation } from './enable-key-rotation.ts';
import { Encrypt } from './encrypt.ts';
import { GenerateDataKey } from './generate-data-key.ts';
import { GenerateDataKeyPair } from './generate-data-key-pair.ts';
import { GenerateDataKeyPairWithoutPlaintext } from './generate-data-key-pair-without-plaintext.ts';
import { GenerateDataKeyWithoutPlaintext } from './generate-data-key-without-plaintext.ts';
import { GenerateMac } from './generate-mac.ts';
import { GenerateRandom } from './generate-random.ts';
import { GetKeyPolicy } from './get-key-policy.ts';
import { GetKeyRotationStatus } from './get-key-rotation-status.ts';
import { GetParametersForImport } from './get-parameters-for-import.ts';
import { GetPublicKey } from './get-public-key.ts';
import { ImportKeyMaterial } from './import-key-material.ts';
import { ListAliases } from './list-aliases.ts';
import { ListGrants } from './list-grants.ts';
import { ListKeyPolicies } from './list-key-policies.ts';
import { ListKeyRotations } from './list-key-rotations.ts';
import { ListKeys } from './list-keys.ts';
import { ListResourceTags } from './list-resource-tags.ts';
import { ListRetirableGrants } from './list-retirable-grants.ts';
import { PutKeyPolicy } from './put-key-policy.ts';
import { ReEncrypt } from './re-encrypt.ts';
import { ReplicateKey } from './replicate-key.ts';
import { RetireGrant } from './retire-grant.ts';
import { RevokeGrant } from './revoke-grant.ts';
import { RotateKeyOnDemand } from './rotate-key-on-demand.ts';
import { ScheduleKeyDeletion } from './schedule-key-deletion.ts';
import { Sign } from './sign.ts';
import { TagResource } from './tag-resource.ts';
import { UntagResource } from './untag-resource.ts';
import { UpdateAlias } from './update-alias.ts';
import { UpdateKeyDescription } from './update-key-description.ts';
import { UpdatePrimaryRegion } from './update-primary-region.ts';
import { Verify } from './verify.ts';
import { VerifyMac } from './verify-mac.ts';
import type { Operation } from './types.ts';

const ALL: readonly Operation[] = [
  CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion, UpdateKeyDescription,
  CreateAlias, DeleteAlias, UpdateAlias, ListAliases,
  TagResource, UntagResource, ListResourceTags,
  Encrypt, Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom,
  EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations,
  CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant,
  GetKeyPolicy, PutKeyPolicy, ListKeyPolicies,
  Sign, Verify, GetPublicKey, GenerateMac, VerifyMac, DeriveSharedSecret, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext,
  GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial,
  ReplicateKey, UpdatePrimaryRegion,
];

export const OPERATIONS: ReadonlyMap<string, Operation> = new Map(ALL.map((o) => [o.name, o]));

/** Operations of kms-2014-11-01 this KMS does not implement. */
export const UNSUPPORTED: ReadonlySet<string> = new Set([
  'ConnectCustomKeyStore', 'CreateCustomKeyStore', 'DeleteCustomKeyStore', 'DescribeCustomKeyStores',
  'DisconnectCustomKeyStore', 'UpdateCustomKeyStore',
  'GetKeyLastUsage', 'Encapsulate', 'Decapsulate',
]);
