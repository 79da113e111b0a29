// Reading and writing the rows of rows.ts with their MACs and seals: the part of a KeyStore that
// does not depend on the database, shared by the SQLite and PostgreSQL stores so that a row is
// checked the same way in both. Reading checks the MAC before anything of the row is used, and
// the record against its columns; writing computes the MAC (and seals material and import keys).
import type { AliasRecord, GrantRecord, ImportParameters, KeyAddress, KeyRecord, Material } from '../model.ts';
import { importAad, materialAad, seal, unseal } from './master-key.ts';
import { RecordMac, StoreIntegrityError } from './record-mac.ts';
import {
  aliasFields, aliasOf, aliasRow, grantFields, grantOf, grantRow, importFields, importRecord, keyFields, keyOf, keyRow, materialFields,
  type AliasRow, type GrantRow, type ImportRow, type KeyRow, type MaterialRow,
} from './rows.ts';

export class CheckedRows {
  readonly mac: RecordMac;
  readonly #master: Uint8Array;

  constructor(masterKey: Uint8Array) {
    this.#master = masterKey;
    this.mac = new RecordMac(masterKey);
  }

  key(r: KeyRow): KeyRecord {
    this.mac.verify('keys', keyFields(r), r.mac, `keys row ${r.key_id}`);
    const k = keyOf(r);
    if (!k) throw new StoreIntegrityError(`keys row ${r.key_id}`);
    return k;
  }

  /** A key row's listing columns (id, ARN), checked without reading its record. */
  keyRef(r: KeyRow): { keyId: string; arn: string } {
    this.mac.verify('keys', keyFields(r), r.mac, `keys row ${r.key_id}`);
    return { keyId: r.key_id, arn: r.arn };
  }

  grant(r: GrantRow): GrantRecord {
    this.mac.verify('grants', grantFields(r), r.mac, `grants row ${r.grant_id}`);
    const g = grantOf(r);
    if (!g) throw new StoreIntegrityError(`grants row ${r.grant_id}`);
    return g;
  }

  alias(r: AliasRow): AliasRecord {
    this.mac.verify('aliases', aliasFields(r), r.mac, `aliases row ${r.account}/${r.region}/${r.name}`);
    return aliasOf(r);
  }

  material(r: MaterialRow): Material {
    this.mac.verify('materials', materialFields(r), r.mac, `materials row ${r.key_id} (${r.region}) version ${r.version}`);
    return {
      keyId: r.key_id,
      version: r.version,
      id: r.id,
      createdAt: r.created_at,
      ...(r.rotation_type ? { rotationType: r.rotation_type as 'AUTOMATIC' | 'ON_DEMAND' } : {}),
      secret: unseal(this.#master, r.sealed, materialAad(r.key_id, r.version)),
    };
  }

  importParameters(r: ImportRow): ImportParameters {
    this.mac.verify('import_parameters', importFields(r), r.mac, `import_parameters row of key ${r.key_id}`);
    const rec = JSON.parse(r.record) as Omit<ImportParameters, 'privateKey'>;
    if (rec.token !== r.token || rec.keyId !== r.key_id || rec.region !== r.region) throw new StoreIntegrityError(`import_parameters row of key ${r.key_id}`);
    return { ...rec, privateKey: unseal(this.#master, r.sealed, importAad(r.token)) };
  }

  keyRow(key: KeyRecord): KeyRow & { readonly record: string; readonly mac: Uint8Array } {
    const r = keyRow(key);
    return { ...r, mac: this.mac.mac('keys', keyFields(r)) };
  }

  /** A material of the key `key` addresses (the material's key id must be its id). */
  materialRow(key: KeyAddress, m: Material): MaterialRow & { readonly mac: Uint8Array } {
    if (m.keyId !== key.keyId) throw new Error(`material of key ${m.keyId} added to key ${key.keyId}`);
    // Sealed with its key id and version as AAD; the Region is in the MAC.
    const r: MaterialRow = { key_id: m.keyId, region: key.region, version: m.version, id: m.id, created_at: m.createdAt, rotation_type: m.rotationType ?? null, sealed: seal(this.#master, m.secret, materialAad(m.keyId, m.version)) };
    return { ...r, mac: this.mac.mac('materials', materialFields(r)) };
  }

  aliasRow(a: AliasRecord): AliasRow & { readonly mac: Uint8Array } {
    const r = aliasRow(a);
    return { ...r, mac: this.mac.mac('aliases', aliasFields(r)) };
  }

  grantRow(g: GrantRecord): GrantRow & { readonly mac: Uint8Array } {
    const r = grantRow(g);
    return { ...r, mac: this.mac.mac('grants', grantFields(r)) };
  }

  importRow(p: ImportParameters): ImportRow & { readonly mac: Uint8Array } {
    const r: ImportRow = { token: p.token, key_id: p.keyId, region: p.region, record: importRecord(p), sealed: seal(this.#master, p.privateKey, importAad(p.token)) };
    return { ...r, mac: this.mac.mac('import_parameters', importFields(r)) };
  }
}
