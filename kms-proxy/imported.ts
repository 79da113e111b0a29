// Imported key material: which materials an EXTERNAL key holds and what ImportKeyMaterial,
// DeleteImportedKeyMaterial, RotateKeyOnDemand and expiry do to them (KMS Developer Guide,
// "Importing key material", "Rotate keys on demand", "List rotations and key materials"; API
// Reference: ImportKeyMaterial, DeleteImportedKeyMaterial, RotateKeyOnDemand, RotationsListEntry).
//
// A symmetric encryption key may hold several: the first import is CURRENT; ImportKeyMaterial with
// ImportType NEW_KEY_MATERIAL adds one in PENDING_ROTATION (one at a time), which RotateKeyOnDemand
// makes CURRENT, the previous one NON_CURRENT. Deleting a material, or its expiry, keeps it
// associated with the key (its KeyMaterialId, CurrentKeyMaterialId too) but not imported, and the
// key waits in PendingImport until the same material is imported again: a key is usable only while
// every material associated with it is imported. A material pending rotation is not permanently
// associated: deleting it forgets it. Asymmetric and HMAC keys hold one material, which can only be
// imported again. Every material keeps its material version, so ciphertext names the material it
// was made with across deletion and re-import.
//
// Pure functions of the key record: the operations read the key, plan here, and write the plan.
import { createHash } from 'node:crypto';
import { kmsError, messages } from './errors.ts';
import type { ImportedMaterial, KeyRecord, KeyState, Material } from './model.ts';

export type ExpirationModel = NonNullable<ImportedMaterial['expirationModel']>;

/**
 * KeyMaterialId of imported material: "based on the KMS key ID and the imported key material"
 * (ImportKeyMaterial, KeyMaterialId), so importing the same material again names the same id.
 * SHA-256 under a domain label: it reveals nothing of a 256-bit secret.
 */
export function materialIdOf(keyId: string, secret: Uint8Array): string {
  return createHash('sha256').update('nitro-sandbox/kms/key-material-id\0').update(keyId).update('\0').update(secret).digest('hex');
}

export function materialDigest(secret: Uint8Array): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * The materials of an EXTERNAL key. A record written before materials were tracked one by one
 * (`importedMaterialDigest`) holds at most one, version 0, named by its stored material row when
 * there is one (`rows`).
 */
export function importedMaterials(key: KeyRecord, rows: readonly Material[] = []): readonly ImportedMaterial[] {
  if (key.importedMaterials !== undefined) return key.importedMaterials;
  if (key.importedMaterialDigest === undefined) return [];
  const imported = key.expirationModel !== undefined;
  return [{
    version: 0,
    id: rows.find((r) => r.version === 0)?.id ?? '',
    digest: key.importedMaterialDigest,
    state: 'CURRENT',
    imported,
    ...(imported && key.expirationModel ? { expirationModel: key.expirationModel } : {}),
    ...(imported && key.validTo !== undefined ? { validTo: key.validTo } : {}),
  }];
}

/**
 * What a replica of `primary` holds of its imported materials: each one, to be imported again in
 * the replica's Region ("You must import the same key material that you imported into the primary
 * key", KMS Developer Guide, "Importing key material into multi-Region keys").
 */
export function replicaMaterials(primary: KeyRecord): Pick<KeyRecord, 'importedMaterials'> {
  const materials = importedMaterials(primary);
  if (materials.length === 0) return {};
  return { importedMaterials: materials.map(({ expirationModel: _e, validTo: _v, ...m }) => ({ ...m, imported: false })) };
}

/** The CURRENT material of a key with tracked imported materials (imported or not). */
export function currentImported(key: KeyRecord): ImportedMaterial | undefined {
  return key.importedMaterials?.find((m) => m.state === 'CURRENT');
}

/**
 * Whether ciphertext naming material `version` may be decrypted: always for KMS-generated
 * material; for imported material only while it is imported and not merely waiting for a rotation.
 */
export function decryptsWith(key: KeyRecord, version: number): boolean {
  const list = key.importedMaterials;
  return list === undefined || list.some((m) => m.version === version && m.imported && m.state !== 'PENDING_ROTATION');
}

/** The key record with `materials` (and the pre-tracking fields gone) in state `state`. */
export function withMaterials(key: KeyRecord, materials: readonly ImportedMaterial[], state: KeyState): KeyRecord {
  const { importedMaterialDigest: _d, validTo: _v, expirationModel: _e, ...rest } = key;
  return { ...rest, state, importedMaterials: materials };
}

/** Whether the key has material and every material associated with it is imported. */
export function allImported(materials: readonly ImportedMaterial[]): boolean {
  return materials.length > 0 && materials.every((m) => m.imported);
}

/** PendingImport while any associated material is not imported; out of it once all are (ImportKeyMaterial). */
function stateFor(key: KeyRecord, materials: readonly ImportedMaterial[]): KeyState {
  if (!allImported(materials)) return key.state === 'PendingDeletion' ? key.state : 'PendingImport';
  return key.state === 'PendingImport' ? 'Enabled' : key.state;
}

export interface ImportRequest {
  /** SHA-256 of the material and its KeyMaterialId (materialIdOf). */
  readonly digest: string;
  readonly id: string;
  readonly importType?: string;
  readonly keyMaterialId?: string;
  readonly description?: string;
  readonly expirationModel: ExpirationModel;
  readonly validTo?: number;
}

export interface ImportPlan {
  readonly key: KeyRecord;
  /** The material imported. */
  readonly material: ImportedMaterial;
  /** Whether its secret must be stored (false when it is stored already: a re-import that only changes its expiry). */
  readonly store: boolean;
}

function symmetricOnly(key: KeyRecord, member: string, given: unknown): void {
  // "This parameter is optional and only usable with symmetric encryption keys" (ImportKeyMaterial).
  if (given !== undefined && key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('ValidationException', `${member} is only valid for symmetric encryption KMS keys, and ${key.arn} is ${key.keySpec}.`);
}

/** ImportKeyMaterial: what importing this material does to `key`, or the error AWS answers. */
export function planImport(key: KeyRecord, materials: readonly ImportedMaterial[], req: ImportRequest): ImportPlan {
  symmetricOnly(key, 'ImportType', req.importType);
  symmetricOnly(key, 'KeyMaterialId', req.keyMaterialId);
  symmetricOnly(key, 'KeyMaterialDescription', req.description);
  // "If no key material has ever been imported into the KMS key, and this parameter is omitted, the
  // parameter defaults to NEW_KEY_MATERIAL. After the first key material is imported, if this
  // parameter is omitted then the parameter defaults to EXISTING_KEY_MATERIAL."
  const type = req.importType ?? (materials.length === 0 ? 'NEW_KEY_MATERIAL' : 'EXISTING_KEY_MATERIAL');
  const expiry = { expirationModel: req.expirationModel, ...(req.validTo !== undefined ? { validTo: req.validTo } : {}) };
  const match = materials.find((m) => m.digest === req.digest);
  if (type === 'EXISTING_KEY_MATERIAL') {
    if (!match) throw kmsError('IncorrectKeyMaterialException', 'The key material in the request is not the same key material that was previously imported into this KMS key.');
    const id = match.id === '' ? req.id : match.id;
    if (req.keyMaterialId !== undefined && req.keyMaterialId !== id) {
      throw kmsError('IncorrectKeyMaterialException', `The key material in the request is not the key material ${req.keyMaterialId} of this KMS key.`);
    }
    const { expirationModel: _e, validTo: _v, description: _d, ...rest } = match;
    const description = req.description ?? match.description;
    const material: ImportedMaterial = { ...rest, id, imported: true, ...expiry, ...(description !== undefined ? { description } : {}) };
    const next = materials.map((m) => (m === match ? material : m));
    return { key: withMaterials(key, next, stateFor(key, next)), material, store: !match.imported };
  }
  // "You cannot specify a key material ID with ImportType set to NEW_KEY_MATERIAL."
  if (req.keyMaterialId !== undefined) throw kmsError('ValidationException', 'You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL.');
  if (materials.length > 0 && key.keySpec !== 'SYMMETRIC_DEFAULT') {
    // "For asymmetric and HMAC keys, you cannot change the key material after the initial import."
    throw kmsError('IncorrectKeyMaterialException', 'The key material in the request is not the same key material that was previously imported into this KMS key.');
  }
  const pending = materials.find((m) => m.state === 'PENDING_ROTATION');
  if (pending) throw kmsError('KMSInvalidStateException', messages.materialPendingRotation(req.id, key.keyId, pending.id));
  if (match) throw kmsError('ValidationException', `The key material (id: ${match.id || req.id}) is already associated with KMS key ${key.keyId}: import it with ImportType EXISTING_KEY_MATERIAL.`);
  const version = materials.reduce((v, m) => Math.max(v, m.version + 1), 0);
  const material: ImportedMaterial = {
    version,
    id: req.id,
    digest: req.digest,
    state: materials.length === 0 ? 'CURRENT' : 'PENDING_ROTATION',
    imported: true,
    ...expiry,
    ...(req.description !== undefined ? { description: req.description } : {}),
  };
  const next = [...materials, material];
  return { key: withMaterials(key, next, stateFor(key, next)), material, store: true };
}

export interface DeletePlan {
  readonly key: KeyRecord;
  /** The material deleted, if the key had one to delete. */
  readonly material?: ImportedMaterial;
  /** Material versions whose secret goes. */
  readonly versions: readonly number[];
}

/**
 * DeleteImportedKeyMaterial: the material named (default the current one) is no longer imported,
 * or forgotten when it was only pending rotation. The key waits for it in PendingImport, unless it
 * is pending deletion ("When the specified KMS key is in the PendingDeletion state, this operation
 * does not change the KMS key's state").
 */
export function planDelete(key: KeyRecord, materials: readonly ImportedMaterial[], keyMaterialId: string | undefined): DeletePlan {
  symmetricOnly(key, 'KeyMaterialId', keyMaterialId);
  const target = keyMaterialId === undefined ? materials.find((m) => m.state === 'CURRENT') : materials.find((m) => m.id === keyMaterialId);
  if (keyMaterialId !== undefined && !target) throw kmsError('NotFoundException', `Key material '${keyMaterialId}' does not exist for ${key.arn}`);
  if (!target) return { key: withMaterials(key, materials, stateFor(key, materials)), versions: [] };
  const next =
    target.state === 'PENDING_ROTATION'
      ? materials.filter((m) => m !== target)
      : materials.map((m) => {
          if (m !== target) return m;
          const { expirationModel: _e, validTo: _v, ...rest } = m;
          return { ...rest, imported: false };
        });
  return { key: withMaterials(key, next, stateFor(key, next)), material: target, versions: target.imported ? [target.version] : [] };
}

/** Expiry (ValidTo reached, on the KMS clock): each expired material is deleted as DeleteImportedKeyMaterial would. */
export function planExpiry(key: KeyRecord, materials: readonly ImportedMaterial[], now: number): DeletePlan | undefined {
  const expired = (m: ImportedMaterial) => m.imported && m.expirationModel === 'KEY_MATERIAL_EXPIRES' && m.validTo !== undefined && m.validTo <= now;
  if (!materials.some(expired)) return undefined;
  const next: ImportedMaterial[] = [];
  for (const m of materials) {
    if (!expired(m)) next.push(m);
    else if (m.state !== 'PENDING_ROTATION') {
      const { expirationModel: _e, validTo: _v, ...rest } = m;
      next.push({ ...rest, imported: false });
    }
  }
  return { key: withMaterials(key, next, stateFor(key, next)), versions: materials.filter(expired).map((m) => m.version) };
}

/** The next time an imported material of `key` expires, if any. */
export function nextExpiry(key: KeyRecord): number | undefined {
  let next: number | undefined;
  for (const m of key.importedMaterials ?? []) {
    if (m.imported && m.expirationModel === 'KEY_MATERIAL_EXPIRES' && m.validTo !== undefined && (next === undefined || m.validTo < next)) next = m.validTo;
  }
  return next;
}

/**
 * RotateKeyOnDemand on a key with imported material: the material pending rotation becomes
 * current, the current one non-current ("you must have already imported new key material and that
 * key material's state should be PENDING_ROTATION"); KMSInvalidStateException without one.
 */
export function planRotation(key: KeyRecord, materials: readonly ImportedMaterial[], now: number): KeyRecord {
  const pending = materials.find((m) => m.state === 'PENDING_ROTATION');
  if (!pending) throw kmsError('KMSInvalidStateException', messages.noPendingRotation(key.arn));
  const next = materials.map((m): ImportedMaterial => {
    if (m === pending) return { ...m, state: 'CURRENT', rotationDate: now };
    return m.state === 'CURRENT' ? { ...m, state: 'NON_CURRENT' } : m;
  });
  return withMaterials(key, next, key.state);
}

/** On-demand rotations a key with imported material has had (the 25 per key quota counts them too). */
export function importedRotations(key: KeyRecord): number {
  return (key.importedMaterials ?? []).filter((m) => m.rotationDate !== undefined).length;
}

/**
 * The KeyMetadata members that describe a key's material: ValidTo and ExpirationModel of its
 * current imported material, and CurrentKeyMaterialId, "present for symmetric encryption keys with
 * AWS_KMS or EXTERNAL origin" (KeyMetadata) and kept while the material is deleted (localstack's
 * test_kms.snapshot.json, test_import_key_symmetric: describe-key-after-deleted-import).
 * `storedId`: the id of the newest stored material, for keys without tracked imported materials.
 */
export function materialMetadata(key: KeyRecord, storedId: string | undefined): Record<string, unknown> {
  const cur = currentImported(key);
  const validTo = cur ? cur.validTo : key.validTo;
  const model = cur ? cur.expirationModel : key.expirationModel;
  const id = key.importedMaterials !== undefined ? cur?.id : storedId;
  return {
    ...(validTo !== undefined ? { ValidTo: validTo / 1000 } : {}),
    ...(model !== undefined ? { ExpirationModel: model } : {}),
    ...(key.keySpec === 'SYMMETRIC_DEFAULT' && id !== undefined && id !== '' ? { CurrentKeyMaterialId: id } : {}),
  };
}
