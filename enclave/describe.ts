// describeImage: the JSON `nitro-cli describe-eif` prints (aws-nitro-enclaves-cli,
// src/common/json_output.rs `DescribeEifInfo`; eif_utils `SignCertificateInfo`), field for field:
// {EifVersion, Measurements, IsSigned, SigningCertificate?, CheckCRC, SignatureCheck?, ImageName,
// ImageVersion, Metadata}, and our own `Files` (the file list, file-list.ts). As nitro-cli, a CRC mismatch is reported (CheckCRC: false) rather
// than refused; every other defect is still an error.
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { toHex } from '../attestation/index.ts';
import type { JsonValue } from './canonical-json.ts';
import { ImageBadSignatureError } from './errors.ts';
import { describeFileList } from './file-list.ts';
import { measureLayout, type Measurements } from './image/measure.ts';
import { readImage } from './image/read.ts';
import { checkSignature, readSignatureSection } from './image/signature.ts';
import { measure } from '../attestation/index.ts';

/** nitro-cli prints the Rust Debug form of its hasher type here, literally. */
export const HASH_ALGORITHM = 'Sha384 { ... }';

export interface NitroMeasurements {
  readonly HashAlgorithm: string;
  readonly PCR0: string;
  readonly PCR1: string;
  readonly PCR2: string;
  readonly PCR8?: string;
}

export interface SigningCertificateInfo {
  /** Issuer attributes by OpenSSL long name (`commonName`, `organizationName`, …). */
  readonly IssuerName: Readonly<Record<string, string>>;
  /** Signature algorithm long name, e.g. `ecdsa-with-SHA384`. */
  readonly Algorithm: string;
  /** OpenSSL's ASN1_TIME_print form, e.g. `Nov 23 14:00:00 2026 GMT`. */
  readonly NotBefore: string;
  readonly NotAfter: string;
  /** The certificate's signature, `XX:XX:…` upper-case hex. */
  readonly Signature: string;
}

export interface ImageDescription {
  readonly EifVersion: number;
  readonly Measurements: NitroMeasurements;
  readonly IsSigned: boolean;
  readonly SigningCertificate?: SigningCertificateInfo;
  readonly CheckCRC: boolean;
  readonly SignatureCheck?: boolean;
  readonly ImageName: string;
  readonly ImageVersion: string;
  readonly Metadata: Readonly<Record<string, JsonValue>>;
  /**
   * Ours, not nitro-cli's: every file each code section was bundled from, as
   * `{Application: [{Path, Sha384}], Bootstrap: […]}` (paths relative to the app's project root and
   * to the nitro-sandbox package), so what PCR2 and PCR1 cover can be audited file by file.
   */
  readonly Files: Readonly<Record<string, JsonValue>>;
}

/** Measurements as nitro-cli's `Measurements` object (keys in its BTreeMap order). */
export function nitroMeasurements(m: Measurements): NitroMeasurements {
  return {
    HashAlgorithm: HASH_ALGORITHM,
    PCR0: toHex(m.pcr0),
    PCR1: toHex(m.pcr1),
    PCR2: toHex(m.pcr2),
    ...(m.pcr8 ? { PCR8: toHex(m.pcr8) } : {}),
  };
}

// OpenSSL long names (OBJ_nid2ln) of the attributes certificates commonly carry; others by OID.
const LONG_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'commonName',
  '2.5.4.4': 'surname',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'countryName',
  '2.5.4.7': 'localityName',
  '2.5.4.8': 'stateOrProvinceName',
  '2.5.4.9': 'streetAddress',
  '2.5.4.10': 'organizationName',
  '2.5.4.11': 'organizationalUnitName',
  '2.5.4.12': 'title',
  '2.5.4.42': 'givenName',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'domainComponent',
};

/** The SignCertificateInfo nitro-cli prints for an EIF's signing certificate. */
export function signingCertificateInfo(der: Uint8Array): SigningCertificateInfo {
  try {
    const parsed = AsnConvert.parse(der, Certificate);
    const node = new X509Certificate(Buffer.from(der));
    const issuer: Record<string, string> = {};
    for (const rdn of parsed.tbsCertificate.issuer) {
      for (const atv of rdn) issuer[LONG_NAMES[atv.type] ?? atv.type] = atv.value.toString();
    }
    const sorted = Object.fromEntries(Object.entries(issuer).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return {
      IssuerName: sorted,
      Algorithm: node.signatureAlgorithm ?? parsed.signatureAlgorithm.algorithm,
      NotBefore: node.validFrom,
      NotAfter: node.validTo,
      Signature: Array.from(new Uint8Array(parsed.signatureValue), (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':'),
    };
  } catch (cause) {
    // A certificate we cannot even print cannot have signed anything we would accept.
    throw new ImageBadSignatureError({ cause });
  }
}

export function describeImage(bytes: Uint8Array): ImageDescription {
  const parsed = readImage(bytes, { enforceChecksum: false });
  const m = measureLayout(bytes, parsed.layout);
  const man = parsed.manifest;
  const metadata: Record<string, JsonValue> = {
    BuildTool: man.build.tool,
    BuildToolVersion: man.build.toolVersion,
    Bundler: man.build.bundler,
    NodeVersion: parsed.runtime.node,
    ...man.metadata,
  };
  const common = { ImageName: man.name, ImageVersion: man.version, Metadata: metadata, Files: describeFileList(man.files) };
  if (!parsed.layout.signature) {
    return { EifVersion: parsed.layout.version, Measurements: nitroMeasurements(m), IsSigned: false, CheckCRC: parsed.layout.checksumOk, ...common };
  }
  const sig = readSignatureSection(parsed.layout.signature.data);
  return {
    EifVersion: parsed.layout.version,
    Measurements: nitroMeasurements({ ...m, pcr8: measure(sig.certificate) }),
    IsSigned: true,
    SigningCertificate: signingCertificateInfo(sig.certificate),
    CheckCRC: parsed.layout.checksumOk,
    SignatureCheck: checkSignature(sig, m.pcr0).ok,
    ...common,
  };
}
