// Synthetic EIF files, written from the format's specification (aws-nitro-enclaves-image-format at
// 935dc626530bfcfd1dff634187372cb0b0f778a0: src/defs/mod.rs `EifHeader::to_be_bytes`,
// `EifSectionHeader`, src/utils/mod.rs `EifBuilder::write_to` and `compute_crc`,
// src/utils/eif_signer.rs, src/defs/mod.rs `PcrInfo`/`PcrSignature` through serde_cbor) with
// this file's own byte layout, CBOR and CRC-32 (fixtures.ts), never enclave/eif/*. The expected
// PCRs are computed here with node:crypto over the known section payloads.
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { crc32, pcrOf } from './fixtures.ts';

export const KERNEL = 1;
export const CMDLINE = 2;
export const RAMDISK = 3;
export const SIGNATURE = 4;
export const METADATA = 5;

export interface EifSpec {
  kernel: Uint8Array;
  cmdline: Uint8Array;
  ramdisks: Uint8Array[];
  metadata?: Uint8Array;
  /** Raw SIGNATURE section data (see `signatureSection`). */
  signature?: Uint8Array;
  version?: number;
  flags?: number;
}

/** Sections in EifBuilder's order: kernel, cmdline, metadata, ramdisks, signature. */
export function eifSections(spec: EifSpec): { type: number; data: Uint8Array }[] {
  return [
    { type: KERNEL, data: spec.kernel },
    { type: CMDLINE, data: spec.cmdline },
    ...(spec.metadata ? [{ type: METADATA, data: spec.metadata }] : []),
    ...spec.ramdisks.map((data) => ({ type: RAMDISK, data })),
    ...(spec.signature ? [{ type: SIGNATURE, data: spec.signature }] : []),
  ];
}

/** Lays out an EIF: 548-byte header (offset/size tables for 32 sections), 12-byte section headers, CRC. */
export function writeEif(spec: EifSpec, sections = eifSections(spec)): Uint8Array {
  const total = 548 + sections.reduce((n, s) => n + 12 + s.data.length, 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set([0x2e, 0x65, 0x69, 0x66]); // ".eif"
  v.setUint16(4, spec.version ?? 4);
  v.setUint16(6, spec.flags ?? 0);
  v.setBigUint64(8, 1024n * 1024n * 1024n); // default_mem, as EifBuilder
  v.setBigUint64(16, 2n); // default_cpus
  v.setUint16(26, sections.length);
  let off = 548;
  sections.forEach((s, i) => {
    v.setBigUint64(28 + 8 * i, BigInt(off));
    v.setBigUint64(28 + 256 + 8 * i, BigInt(s.data.length));
    v.setUint16(off, s.type);
    v.setBigUint64(off + 4, BigInt(s.data.length));
    out.set(s.data, off + 12);
    off += 12 + s.data.length;
  });
  return fixEifCrc(out);
}

/** CRC-32 of everything but the header's last 4 bytes, written there (compute_crc). */
export function fixEifCrc(eif: Uint8Array): Uint8Array {
  new DataView(eif.buffer, eif.byteOffset, eif.byteLength).setUint32(544, crc32(eif.subarray(0, 544), eif.subarray(548)));
  return eif;
}

/** Section header offsets, walking the file per the specification. */
export function eifSectionOffsets(eif: Uint8Array): { type: number; offset: number; size: number }[] {
  const v = new DataView(eif.buffer, eif.byteOffset, eif.byteLength);
  const out: { type: number; offset: number; size: number }[] = [];
  for (let off = 548; off < eif.length; ) {
    const size = Number(v.getBigUint64(off + 4));
    out.push({ type: v.getUint16(off), offset: off, size });
    off += 12 + size;
  }
  return out;
}

/** nitro-cli's PCRs for these sections, by EIF's rules, with node:crypto. */
export function expectedEifPcrs(spec: EifSpec): { PCR0: string; PCR1: string; PCR2: string } {
  const [first, ...rest] = spec.ramdisks as [Uint8Array, ...Uint8Array[]];
  return {
    PCR0: pcrOf(Buffer.concat([spec.kernel, spec.cmdline, ...spec.ramdisks])),
    PCR1: pcrOf(Buffer.concat([spec.kernel, spec.cmdline, first])),
    PCR2: pcrOf(Buffer.concat(rest)),
  };
}

// CBOR, by hand (RFC 8949 heads, shortest form, as serde_cbor writes them).
function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 256) return [m | 24, n];
  if (n < 65536) return [m | 25, n >> 8, n & 255];
  return [m | 26, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}
const text = (s: string): number[] => [...head(3, Buffer.byteLength(s)), ...Buffer.from(s)];
const bstr = (b: Uint8Array): number[] => [...head(2, b.length), ...b];
/** serde_cbor's Vec<u8>: an array of unsigned integers. */
const intArray = (b: Uint8Array): number[] => [...head(4, b.length), ...Array.from(b).flatMap((x) => head(0, x))];

/** serde_cbor(PcrInfo { register_index: 0, register_value: pcr0 }). */
export function pcrInfo(pcr0Hex: string): Uint8Array {
  return Uint8Array.from([...head(5, 2), ...text('register_index'), 0, ...text('register_value'), ...intArray(Buffer.from(pcr0Hex, 'hex'))]);
}

/** COSE_Sign1 (untagged, protected {1: -35}, unprotected {}) over `payload`, signed with node:crypto. */
export function coseSign1(payload: Uint8Array, keyPem: string): Uint8Array {
  const prot = Uint8Array.from([0xa1, 0x01, 0x38, 0x22]);
  const toBeSigned = Uint8Array.from([...head(4, 4), ...text('Signature1'), ...bstr(prot), ...bstr(new Uint8Array(0)), ...bstr(payload)]);
  const sig = sign('sha384', toBeSigned, { key: createPrivateKey(keyPem), dsaEncoding: 'ieee-p1363' });
  return Uint8Array.from([...head(4, 4), ...bstr(prot), 0xa0, ...bstr(payload), ...bstr(sig)]);
}

/** serde_cbor(vec![PcrSignature { signing_certificate: PEM bytes, signature: COSE bytes }]). */
export function signatureSection(certPem: string, cose: Uint8Array): Uint8Array {
  return Uint8Array.from([...head(4, 1), ...head(5, 2), ...text('signing_certificate'), ...intArray(Buffer.from(certPem)), ...text('signature'), ...intArray(cose)]);
}

/** EifIdentityInfo as serde_json writes it (struct field order). */
export function identityJson(custom: unknown = null, docker: unknown = { Id: 'sha256:00', RepoTags: ['hello:latest'] }): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      ImageName: 'hello',
      ImageVersion: '1.0',
      BuildMetadata: { BuildTime: '2025-04-01T13:00:00.123456789+00:00', BuildTool: 'nitro-cli', BuildToolVersion: '1.5.0', OperatingSystem: 'Linux', KernelVersion: '6.12.0' },
      DockerInfo: docker,
      CustomMetadata: custom,
    }),
  );
}

/** Deterministic pseudo-random bytes (a SHA-384 counter stream), so sizes can be large and cheap. */
export function bytesOf(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, off = 0; off < n; i++, off += 48) out.set(createHash('sha384').update(`${label}:${i}`).digest().subarray(0, Math.min(48, n - off)), off);
  return out;
}
