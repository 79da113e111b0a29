// Key material ids and imported key material rotation, as AWS KMS answers them today (API
// Reference: ImportKeyMaterial, DeleteImportedKeyMaterial, RotateKeyOnDemand, ListKeyRotations,
// KeyMetadata.CurrentKeyMaterialId; localstack's test_kms.snapshot.json, recorded against AWS:
// test_import_key_symmetric, test_rotate_key_on_demand_updates_current_key_material_for_external_keys,
// test_import_key_material_raises_if_there_is_already_key_material_pending,
// test_rotate_key_on_demand_raises_for_no_pending_key_material), through the unmodified SDK.
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import {
  CreateKeyCommand, DecryptCommand, DeleteImportedKeyMaterialCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand,
  GenerateDataKeyPairCommand, GenerateDataKeyPairWithoutPlaintextCommand, GenerateDataKeyWithoutPlaintextCommand, GetParametersForImportCommand,
  ImportKeyMaterialCommand, ListKeyRotationsCommand, ReEncryptCommand, RotateKeyOnDemandCommand, type ImportKeyMaterialCommandInput, type KeyMetadata, type KeySpec, type KeyUsageType,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { failure, startFixture, type Fixture } from './helpers.ts';

let f: Fixture;
let now = Date.UTC(2026, 5, 1);
beforeAll(async () => {
  f = await startFixture({ clock: () => now });
});
afterAll(async () => {
  await f.stop();
});

async function createKey(input: { Origin?: 'EXTERNAL'; KeySpec?: KeySpec; KeyUsage?: KeyUsageType } = {}) {
  const m = (await f.kms.send(new CreateKeyCommand(input))).KeyMetadata;
  return { KeyId: m?.KeyId ?? '', Arn: m?.Arn ?? '', created: m };
}

/** Wraps `material` under fresh import parameters (RSAES_OAEP_SHA_256) and imports it with `extra`. */
async function importMaterial(KeyId: string, material: Buffer, extra: Partial<ImportKeyMaterialCommandInput> = { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }) {
  const p = await f.kms.send(new GetParametersForImportCommand({ KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' }));
  const EncryptedKeyMaterial = publicEncrypt({ key: Buffer.from(p.PublicKey ?? []), format: 'der', type: 'spki', padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, material);
  return f.kms.send(new ImportKeyMaterialCommand({ KeyId, ImportToken: p.ImportToken, EncryptedKeyMaterial, ...extra }));
}

const describeKey = async (KeyId: string): Promise<KeyMetadata> => (await f.kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata ?? { KeyId };
const encrypt = async (KeyId: string) => (await f.kms.send(new EncryptCommand({ KeyId, Plaintext: Buffer.from('secret') }))).CiphertextBlob ?? new Uint8Array();
const decryptedWith = async (CiphertextBlob: Uint8Array) => (await f.kms.send(new DecryptCommand({ CiphertextBlob }))).KeyMaterialId;
const rotations = async (KeyId: string, all = false) =>
  ((await f.kms.send(new ListKeyRotationsCommand({ KeyId, ...(all ? { IncludeKeyMaterial: 'ALL_KEY_MATERIAL' as const } : {}) }))).Rotations ?? []).map((r) => ({ ...r }));

describe('key material ids', () => {
  test('CurrentKeyMaterialId only for symmetric encryption keys; the other key specs have none', async () => {
    const sym = await createKey();
    expect(sym.created?.CurrentKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    expect((await describeKey(sym.KeyId)).CurrentKeyMaterialId).toBe(sym.created?.CurrentKeyMaterialId);
    for (const [KeySpec, KeyUsage] of [['HMAC_256', 'GENERATE_VERIFY_MAC'], ['ECC_NIST_P256', 'SIGN_VERIFY'], ['RSA_2048', 'ENCRYPT_DECRYPT']] as const) {
      const k = await createKey({ KeySpec, KeyUsage });
      expect(k.created, KeySpec).not.toHaveProperty('CurrentKeyMaterialId');
      expect(await describeKey(k.KeyId), KeySpec).not.toHaveProperty('CurrentKeyMaterialId');
    }
  });

  test('Decrypt, GenerateDataKey(WithoutPlaintext), GenerateDataKeyPair(WithoutPlaintext) and ReEncrypt name the material they used', async () => {
    const a = await createKey();
    const b = await createKey();
    const idA = a.created?.CurrentKeyMaterialId;
    const idB = b.created?.CurrentKeyMaterialId;
    const blob = await encrypt(a.KeyId);
    expect(await decryptedWith(blob)).toBe(idA);
    expect((await f.kms.send(new GenerateDataKeyCommand({ KeyId: a.KeyId, NumberOfBytes: 32 }))).KeyMaterialId).toBe(idA);
    expect((await f.kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: a.KeyId, KeySpec: 'AES_256' }))).KeyMaterialId).toBe(idA);
    expect((await f.kms.send(new GenerateDataKeyPairCommand({ KeyId: a.KeyId, KeyPairSpec: 'ECC_NIST_P256' }))).KeyMaterialId).toBe(idA);
    expect((await f.kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: a.KeyId, KeyPairSpec: 'ECC_NIST_P256' }))).KeyMaterialId).toBe(idA);
    const re = await f.kms.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: b.KeyId }));
    expect([re.SourceKeyMaterialId, re.DestinationKeyMaterialId]).toEqual([idA, idB]);
    // After a rotation the old ciphertext still names the old material; new ciphertext the new one.
    await f.kms.send(new RotateKeyOnDemandCommand({ KeyId: a.KeyId }));
    const rotated = (await describeKey(a.KeyId)).CurrentKeyMaterialId;
    expect(rotated).not.toBe(idA);
    expect(await decryptedWith(blob)).toBe(idA);
    expect(await decryptedWith(await encrypt(a.KeyId))).toBe(rotated);
  });

  test('an RSA key names no material in Decrypt or ReEncrypt', async () => {
    const rsa = await createKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const sym = await createKey();
    const blob = (await f.kms.send(new EncryptCommand({ KeyId: rsa.KeyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).CiphertextBlob;
    const out = await f.kms.send(new DecryptCommand({ KeyId: rsa.KeyId, CiphertextBlob: blob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(out).not.toHaveProperty('KeyMaterialId');
    const re = await f.kms.send(new ReEncryptCommand({ CiphertextBlob: blob, SourceKeyId: rsa.KeyId, SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: sym.KeyId }));
    expect(re).not.toHaveProperty('SourceKeyMaterialId');
    expect(re.DestinationKeyMaterialId).toBe(sym.created?.CurrentKeyMaterialId);
  });
});

describe('imported key material', () => {
  test('a missing ExpirationModel means KEY_MATERIAL_EXPIRES, which needs a ValidTo', async () => {
    const k = await createKey({ Origin: 'EXTERNAL' });
    const e = await failure(() => importMaterial(k.KeyId, randomBytes(32), {}));
    expect([e.name, e.message]).toEqual(['ValidationException', 'A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES']);
    // With a ValidTo and no ExpirationModel the material expires.
    await importMaterial(k.KeyId, randomBytes(32), { ValidTo: new Date(now + 86_400_000) });
    expect((await describeKey(k.KeyId)).ExpirationModel).toBe('KEY_MATERIAL_EXPIRES');
  });

  test('NEW_KEY_MATERIAL waits in PENDING_ROTATION until RotateKeyOnDemand makes it current; old ciphertext keeps its material', async () => {
    const k = await createKey({ Origin: 'EXTERNAL' });
    const first = randomBytes(32);
    const second = randomBytes(32);
    const imported1 = await importMaterial(k.KeyId, first);
    const id1 = imported1.KeyMaterialId ?? '';
    expect(id1).toMatch(/^[0-9a-f]{64}$/);
    expect(imported1.KeyId).toBe(k.Arn);
    expect((await describeKey(k.KeyId)).CurrentKeyMaterialId).toBe(id1);
    const blob1 = await encrypt(k.KeyId);

    // Nothing pending: RotateKeyOnDemand has nothing to rotate to.
    const none = await failure(() => f.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId })));
    expect([none.name, none.message]).toEqual(['KMSInvalidStateException', `No available key material pending rotation for the key: ${k.Arn}.`]);

    const imported2 = await importMaterial(k.KeyId, second, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL', KeyMaterialDescription: 'second key material' });
    const id2 = imported2.KeyMaterialId ?? '';
    expect(id2).toMatch(/^[0-9a-f]{64}$/);
    expect(id2).not.toBe(id1);
    // Still the first material in use until the rotation.
    expect((await describeKey(k.KeyId)).CurrentKeyMaterialId).toBe(id1);
    expect(await decryptedWith(await encrypt(k.KeyId))).toBe(id1);
    expect(await rotations(k.KeyId)).toEqual([]);
    expect(await rotations(k.KeyId, true)).toEqual([
      { KeyId: k.Arn, KeyMaterialId: id1, ImportState: 'IMPORTED', KeyMaterialState: 'CURRENT', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
      { KeyId: k.Arn, KeyMaterialId: id2, KeyMaterialDescription: 'second key material', ImportState: 'IMPORTED', KeyMaterialState: 'PENDING_ROTATION', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' },
    ]);

    // One pending material at a time (the message names the key by id, as recorded).
    const third = randomBytes(32);
    const busy = await failure(() => importMaterial(k.KeyId, third, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL' }));
    expect(busy.name).toBe('KMSInvalidStateException');
    expect(busy.message).toMatch(new RegExp(`^New key material \\(id: [0-9a-f]{64}\\) cannot be imported into KMS key ${k.KeyId}, because another key material \\(id: ${id2}\\) is pending rotation\\.$`));

    now += 1000;
    expect((await f.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }))).KeyId).toBe(k.Arn);
    expect((await describeKey(k.KeyId)).CurrentKeyMaterialId).toBe(id2);
    expect(await rotations(k.KeyId)).toEqual([
      { KeyId: k.Arn, KeyMaterialId: id2, KeyMaterialDescription: 'second key material', ImportState: 'IMPORTED', KeyMaterialState: 'CURRENT', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', RotationDate: new Date(now), RotationType: 'ON_DEMAND' },
    ]);
    expect((await rotations(k.KeyId, true)).map((r) => [r.KeyMaterialId, r.KeyMaterialState])).toEqual([[id1, 'NON_CURRENT'], [id2, 'CURRENT']]);
    expect(await decryptedWith(blob1)).toBe(id1);
    expect(await decryptedWith(await encrypt(k.KeyId))).toBe(id2);
  });

  test('DeleteImportedKeyMaterial keeps the material associated (and CurrentKeyMaterialId) until the same material is imported again', async () => {
    const k = await createKey({ Origin: 'EXTERNAL' });
    const first = randomBytes(32);
    const second = randomBytes(32);
    const id1 = (await importMaterial(k.KeyId, first)).KeyMaterialId ?? '';
    const blob1 = await encrypt(k.KeyId);
    const id2 = (await importMaterial(k.KeyId, second, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL' })).KeyMaterialId ?? '';
    await f.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }));
    const blob2 = await encrypt(k.KeyId);

    // Without KeyMaterialId: the current material.
    const deleted = await f.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId }));
    expect([deleted.KeyId, deleted.KeyMaterialId]).toEqual([k.Arn, id2]);
    const after = await describeKey(k.KeyId);
    expect([after.KeyState, after.Enabled, after.CurrentKeyMaterialId, after.ExpirationModel]).toEqual(['PendingImport', false, id2, undefined]);
    const pending = await failure(() => encrypt(k.KeyId));
    expect([pending.name, pending.message]).toEqual(['KMSInvalidStateException', `${k.Arn} is pending import.`]);
    expect((await rotations(k.KeyId, true)).map((r) => [r.KeyMaterialId, r.ImportState, r.KeyMaterialState])).toEqual([[id1, 'IMPORTED', 'NON_CURRENT'], [id2, 'PENDING_IMPORT', 'CURRENT']]);

    // Only that material brings the key back: another is IncorrectKeyMaterialException, so is a
    // KeyMaterialId that does not name it; NEW_KEY_MATERIAL cannot carry a KeyMaterialId.
    expect((await failure(() => importMaterial(k.KeyId, randomBytes(32)))).name).toBe('IncorrectKeyMaterialException');
    expect((await failure(() => importMaterial(k.KeyId, second, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', KeyMaterialId: id1 }))).name).toBe('IncorrectKeyMaterialException');
    expect((await failure(() => importMaterial(k.KeyId, second, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL', KeyMaterialId: id2 }))).name).toBe('ValidationException');
    const back = await importMaterial(k.KeyId, second, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'EXISTING_KEY_MATERIAL', KeyMaterialId: id2 });
    expect(back.KeyMaterialId).toBe(id2);
    expect((await describeKey(k.KeyId)).KeyState).toBe('Enabled');
    expect(await decryptedWith(blob1)).toBe(id1);
    expect(await decryptedWith(blob2)).toBe(id2);

    // A non-current material named by id: the key waits for it too.
    expect((await f.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId, KeyMaterialId: id1 }))).KeyMaterialId).toBe(id1);
    expect((await describeKey(k.KeyId)).KeyState).toBe('PendingImport');
    expect((await failure(() => decryptedWith(blob1))).name).toBe('KMSInvalidStateException');
    await importMaterial(k.KeyId, first);
    expect(await decryptedWith(blob1)).toBe(id1);
  });

  test('material pending rotation is forgotten when deleted, and the key stays usable', async () => {
    const k = await createKey({ Origin: 'EXTERNAL' });
    const id1 = (await importMaterial(k.KeyId, randomBytes(32))).KeyMaterialId ?? '';
    const id2 = (await importMaterial(k.KeyId, randomBytes(32), { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'NEW_KEY_MATERIAL' })).KeyMaterialId ?? '';
    expect((await f.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId, KeyMaterialId: id2 }))).KeyMaterialId).toBe(id2);
    expect((await describeKey(k.KeyId)).KeyState).toBe('Enabled');
    expect((await rotations(k.KeyId, true)).map((r) => r.KeyMaterialId)).toEqual([id1]);
    expect((await failure(() => f.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId })))).name).toBe('KMSInvalidStateException');
    const unknown = await failure(() => f.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId, KeyMaterialId: id2 })));
    expect(unknown.name).toBe('NotFoundException');
  });

  test('expiry: material past its ValidTo is deleted on the KMS clock; the key keeps its CurrentKeyMaterialId', async () => {
    const k = await createKey({ Origin: 'EXTERNAL' });
    const material = randomBytes(32);
    const id = (await importMaterial(k.KeyId, material, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(now + 3_600_000) })).KeyMaterialId;
    const blob = await encrypt(k.KeyId);
    expect((await describeKey(k.KeyId)).ValidTo?.getTime()).toBe(now + 3_600_000);
    now += 3_600_000;
    const expired = await describeKey(k.KeyId);
    expect([expired.KeyState, expired.CurrentKeyMaterialId, expired.ValidTo, expired.ExpirationModel]).toEqual(['PendingImport', id, undefined, undefined]);
    expect((await rotations(k.KeyId, true)).map((r) => [r.KeyMaterialId, r.ImportState])).toEqual([[id, 'PENDING_IMPORT']]);
    await importMaterial(k.KeyId, material);
    expect(await decryptedWith(blob)).toBe(id);
  });

  test('asymmetric and HMAC keys: one material, no KeyMaterialId, no ImportType', async () => {
    const k = await createKey({ Origin: 'EXTERNAL', KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const material = randomBytes(32);
    const imported = await importMaterial(k.KeyId, material);
    expect(imported).not.toHaveProperty('KeyMaterialId');
    expect(await describeKey(k.KeyId)).not.toHaveProperty('CurrentKeyMaterialId');
    expect((await failure(() => importMaterial(k.KeyId, material, { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE', ImportType: 'EXISTING_KEY_MATERIAL' }))).name).toBe('ValidationException');
    expect((await failure(() => importMaterial(k.KeyId, randomBytes(32)))).name).toBe('IncorrectKeyMaterialException');
    const deleted = await f.kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: k.KeyId }));
    expect(deleted).not.toHaveProperty('KeyMaterialId');
    expect((await describeKey(k.KeyId)).KeyState).toBe('PendingImport');
    await importMaterial(k.KeyId, material);
    expect((await describeKey(k.KeyId)).KeyState).toBe('Enabled');
    // Rotation is for symmetric encryption keys only: no message, as AWS answers.
    const rotate = await failure(() => f.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId })));
    expect(rotate.name).toBe('UnsupportedOperationException');
  });

  test('an EXTERNAL key without material: RotateKeyOnDemand is pending import, as recorded', async () => {
    const k = await createKey({ Origin: 'EXTERNAL' });
    const e = await failure(() => f.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId })));
    expect([e.name, e.message]).toEqual(['KMSInvalidStateException', `${k.Arn} is pending import.`]);
  });
});
