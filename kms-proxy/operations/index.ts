// Every operation this KMS implements, by its X-Amz-Target name. Operations of the KMS model that
// are not here (multi-Region, custom key stores, …) answer UnsupportedOperationException.
import { DeriveSharedSecret, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateMac, GetPublicKey, Sign, Verify, VerifyMac } from './asymmetric.ts';
import { CreateAlias, DeleteAlias, ListAliases, UpdateAlias } from './aliases.ts';
import { CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant } from './grants.ts';
import { CancelKeyDeletion, CreateKey, DescribeKey, DisableKey, EnableKey, ListKeys, ScheduleKeyDeletion, UpdateKeyDescription } from './keys.ts';
import { DeleteImportedKeyMaterial, GetParametersForImport, ImportKeyMaterial } from './import.ts';
import { GetKeyPolicy, ListKeyPolicies, PutKeyPolicy } from './policies.ts';
import { DisableKeyRotation, EnableKeyRotation, GetKeyRotationStatus, ListKeyRotations, RotateKeyOnDemand } from './rotation.ts';
import { Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom, ReEncrypt } from './symmetric.ts';
import { ListResourceTags, TagResource, UntagResource } from './tags.ts';
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
];

export const OPERATIONS: ReadonlyMap<string, Operation> = new Map(ALL.map((o) => [o.name, o]));

/** Operations of kms-2014-11-01 this KMS does not implement. */
export const UNSUPPORTED: ReadonlySet<string> = new Set([
  'ConnectCustomKeyStore', 'CreateCustomKeyStore', 'DeleteCustomKeyStore', 'DescribeCustomKeyStores',
  'DisconnectCustomKeyStore', 'UpdateCustomKeyStore', 'ReplicateKey', 'UpdatePrimaryRegion',
  'GetKeyLastUsage', 'Encapsulate', 'Decapsulate',
]);
