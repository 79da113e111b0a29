// describe-eif: the JSON `nitro-cli describe-eif` prints (aws-nitro-enclaves-cli 1.5,
// src/common/json_output.rs `EifDescribeInfo`, `MetadataDescribeInfo`; aws-nitro-enclaves-image-format
// src/utils/eif_reader.rs `SignCertificateInfo`), field for field: {EifVersion, Measurements,
// IsSigned, SigningCertificate?, CheckCRC, SignatureCheck?, ImageName?, ImageVersion?, Metadata?},
// for our images and for real EIF files. As nitro-cli, a CRC mismatch is reported (CheckCRC:
// false) rather than refused; every other defect is still an error.
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { toHex } from '../attestation/index.ts';
import { ImageBadSignatureError } from './errors.ts';
import { measureLayout, type Measurements } from './image/measure.ts';
import { readImage } from './image/read.ts';
import { checkSignature, readSignatureSection } from './image/signature.ts';
import { measure } from '../attestation/index.ts';
import { readImageFile } from './image-file.ts';
import type { Manifest } from './manifest.ts';
import type { RuntimeDescriptor } from './runtime.ts';
import { looksLikeEif, readEif } from './eif/format.ts';
import { describeEifMetadata, readEifMetadata, type MetadataDescription } from './eif/metadata.ts';
import { checkEifSignature, eifPcr8, readEifSignature } from './eif/signature.ts';
import { fileSource, type ByteSource } from './eif/source.ts';

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
  /** Absent for an EIF without a metadata section (EIF version < 4), as nitro-cli omits them. */
  readonly ImageName?: string;
  readonly ImageVersion?: string;
  readonly Metadata?: MetadataDescription;
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

/**
 * The Metadata of one of our images in nitro-cli's `MetadataDescribeInfo` shape. Fields that mean
 * something else here get fixed, reproducible values: no build records a time (builds are
 * byte-reproducible), so BuildTime is the Unix epoch; the enclave's "kernel" is Node (RUNTIME, the
 * PCR1 part), so OperatingSystem is "Node.js" and KernelVersion its version; DockerInfo, which on
 * Nitro describes the Docker image in PCR2, describes the bundle in PCR2: the bundler.
 */
export function imageMetadata(manifest: Manifest, runtime: RuntimeDescriptor): MetadataDescription {
  return {
    BuildTime: FIXED_BUILD_TIME,
    BuildTool: manifest.build.tool,
    BuildToolVersion: manifest.build.toolVersion,
    OperatingSystem: 'Node.js',
    KernelVersion: runtime.node,
    DockerInfo: { Bundler: manifest.build.bundler },
    ...manifest.metadata,
  };
}

/** chrono's `to_rfc3339()` of the Unix epoch, the form nitro-cli writes BuildTime in. */
export const FIXED_BUILD_TIME = '1970-01-01T00:00:00+00:00';

/** describe-eif of one of our images (in memory, at most MAX_IMAGE_SIZE). */
export function describeImage(bytes: Uint8Array): ImageDescription {
  const parsed = readImage(bytes, { enforceChecksum: false });
  const m = measureLayout(parsed.layout);
  const man = parsed.manifest;
  const common = { ImageName: man.name, ImageVersion: man.version, Metadata: imageMetadata(man, parsed.runtime) };
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

/** describe-eif of a real EIF file, field for field what nitro-cli's `describe_eif` prints. */
export function describeEif(src: ByteSource): ImageDescription {
  const eif = readEif(src, { enforceChecksum: false });
  const identity = eif.metadata ? readEifMetadata(eif.metadata) : undefined;
  const common = identity ? { ImageName: identity.imageName, ImageVersion: identity.imageVersion, Metadata: describeEifMetadata(identity) } : {};
  if (!eif.signature) return { EifVersion: eif.version, Measurements: nitroMeasurements(eif.pcrs), IsSigned: false, CheckCRC: eif.checksumOk, ...common };
  const sig = readEifSignature(eif.signature);
  return {
    EifVersion: eif.version,
    Measurements: nitroMeasurements({ ...eif.pcrs, pcr8: eifPcr8(sig) }),
    IsSigned: true,
    SigningCertificate: signingCertificateInfo(sig.certificateDer),
    CheckCRC: eif.checksumOk,
    SignatureCheck: checkEifSignature(sig, eif.pcrs.pcr0),
    ...common,
  };
}

/**
 * describe-eif of a file of either format, told apart by the magic number. EIF files are read in
 * bounded chunks (they can be GiBs); our images are at most MAX_IMAGE_SIZE and read whole.
 */
export function describeImageFile(path: string): ImageDescription {
  const src = fileSource(path);
  try {
    if (looksLikeEif(src.read(0, Math.min(src.size, 4)))) return describeEif(src);
  } finally {
    src.close();
  }
  return describeImage(readImageFile(path));
}
