// Reader for AWS Enclave Image Format files, as `nitro-cli build-enclave` writes them
// (aws-nitro-enclaves-image-format, src/defs/mod.rs `EifHeader`, `EifSectionHeader`,
// `EifSectionType`; src/utils/mod.rs `EifBuilder`; src/utils/eif_reader.rs `EifReader`). Written
// from that specification, not ported: one pass over the file, checking every field before the
// bytes it describes are touched, CRC-32 and PCRs computed on the way.
//
// Layout (big-endian):
//   header, 548 bytes: magic ".eif" (4) | version u16 | flags u16 | default_mem u64 |
//     default_cpus u64 | reserved u16 | num_sections u16 | section_offsets u64[32] |
//     section_sizes u64[32] | unused u32 | eif_crc32 u32
//   then num_sections sections back to back, each: type u16 | flags u16 | size u64 | data
//   EifBuilder writes KERNEL, CMDLINE, METADATA, RAMDISK…, SIGNATURE in this order.
//
// Stricter than nitro-cli's reader (which walks section headers until the file ends and ignores
// the header's table, flags and reserved fields): the section table must describe exactly the
// sections found, reserved fields must be zero, and sections must come in EifBuilder's order, so
// one file has one reading. Structure is checked as the file is read and the CRC at the end (the
// CRC needs every byte); interpreting metadata and signature waits for the CRC.
import { crc32 } from 'node:zlib';
import {
  ImageBadChecksumError,
  ImageBadMagicError,
  ImageMalformedError,
  ImageTooLargeError,
  ImageTruncatedError,
  ImageUnknownSectionError,
  ImageUnsupportedVersionError,
} from '../errors.ts';
import { PcrHasher } from '../image/measure.ts';
import type { ByteSource } from './source.ts';

export const EIF_MAGIC: readonly number[] = Object.freeze([0x2e, 0x65, 0x69, 0x66]); // ".eif"
export const EIF_HEADER_SIZE = 548;
export const EIF_SECTION_HEADER_SIZE = 12;
export const EIF_MAX_SECTIONS = 32;
/** The version nitro-cli 1.5 writes (V2 added the CRC, V3 the signature, V4 the metadata). */
export const EIF_CURRENT_VERSION = 4;
/** Header flag bit 0: aarch64 image (EIF_HDR_ARCH_ARM64); the other bits are unused. */
export const EIF_FLAG_ARM64 = 0x1;
/** A sanity bound on the file: enclave memory is what holds it, and no instance type has more. */
export const MAX_EIF_SIZE = 64 * 1024 ** 3;
/** Metadata is JSON nitro-cli writes from `docker inspect` plus a ≤ 4 KiB custom file. */
export const MAX_EIF_METADATA = 1024 * 1024;
/** One signature: a PEM certificate and a COSE_Sign1, CBOR with every byte as an integer. */
export const MAX_EIF_SIGNATURE = 64 * 1024;
/** Section data is read and hashed in chunks of this size. */
const CHUNK = 4 * 1024 * 1024;

export const EIF_SECTION = Object.freeze({ KERNEL: 1, CMDLINE: 2, RAMDISK: 3, SIGNATURE: 4, METADATA: 5 } as const);
export const EIF_SECTION_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'KERNEL',
  2: 'CMDLINE',
  3: 'RAMDISK',
  4: 'SIGNATURE',
  5: 'METADATA',
});

export interface EifSectionRef {
  readonly type: number;
  /** Offset of the section header. */
  readonly offset: number;
  /** Data length. */
  readonly size: number;
}

export interface EifFile {
  readonly version: number;
  readonly flags: number;
  readonly defaultMemBytes: bigint;
  readonly defaultCpus: bigint;
  readonly sections: readonly EifSectionRef[];
  readonly checksumOk: boolean;
  readonly pcrs: { readonly pcr0: Uint8Array; readonly pcr1: Uint8Array; readonly pcr2: Uint8Array };
  /** METADATA section data (JSON), when there is one. */
  readonly metadata?: Uint8Array;
  /** SIGNATURE section data (CBOR), when there is one. */
  readonly signature?: Uint8Array;
}

/** True when `head` starts like an EIF (the bytes present match the magic). */
export function looksLikeEif(head: Uint8Array): boolean {
  return head.length >= EIF_MAGIC.length && EIF_MAGIC.every((b, i) => head[i] === b);
}

function u64(view: DataView, at: number): bigint {
  return view.getBigUint64(at);
}

/** A u64 size or offset as a number, or a refusal: anything past the file cannot be real. */
function small(x: bigint, what: string, size: number): number {
  if (x > BigInt(size)) throw new ImageTruncatedError(`EIF truncated: ${what} is ${x}, the file is ${size} bytes`);
  return Number(x);
}

/**
 * What may follow a section of each kind, EifBuilder's order: KERNEL, CMDLINE, METADATA?,
 * RAMDISK+, SIGNATURE?. `start` is before the first section; MAY_END lists the kinds a file may
 * end with.
 */
const NEXT: Readonly<Record<string, readonly number[]>> = {
  start: [EIF_SECTION.KERNEL],
  1: [EIF_SECTION.CMDLINE],
  2: [EIF_SECTION.METADATA, EIF_SECTION.RAMDISK],
  5: [EIF_SECTION.RAMDISK],
  3: [EIF_SECTION.RAMDISK, EIF_SECTION.SIGNATURE],
  4: [],
};
const MAY_END = new Set<string>(['3', '4']);

/**
 * Reads and measures an EIF. Checks, in this order: magic, size limit, version, header, then each
 * section as it comes (table entry, type, flags, size, order, per-kind limits), trailing bytes,
 * and last the CRC (refused with ERR_IMAGE_BAD_CHECKSUM unless `enforceChecksum: false`, which
 * describe-eif uses to print `"CheckCRC": false` as nitro-cli does).
 */
export function readEif(src: ByteSource, opts: { enforceChecksum?: boolean } = {}): EifFile {
  const n = src.size;
  const head = src.read(0, Math.min(n, EIF_HEADER_SIZE));
  for (let i = 0; i < Math.min(head.length, EIF_MAGIC.length); i++) {
    if (head[i] !== EIF_MAGIC[i]) throw new ImageBadMagicError('not an EIF file: bad magic number');
  }
  if (n < EIF_MAGIC.length + 2) throw new ImageTruncatedError(`EIF truncated: ${n} bytes, the header is ${EIF_HEADER_SIZE}`);
  if (n > MAX_EIF_SIZE) throw new ImageTooLargeError(`EIF is ${n} bytes, more than the ${MAX_EIF_SIZE}-byte maximum`);
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = hv.getUint16(4);
  // Checked before the rest of the header: a later version may lay it out differently.
  if (version < 1 || version > EIF_CURRENT_VERSION) throw new ImageUnsupportedVersionError(`EIF version ${version} is not supported (this build reads 1–${EIF_CURRENT_VERSION})`);
  if (n < EIF_HEADER_SIZE) throw new ImageTruncatedError(`EIF truncated: ${n} bytes, the header is ${EIF_HEADER_SIZE}`);
  const flags = hv.getUint16(6);
  if ((flags & ~EIF_FLAG_ARM64) !== 0) throw new ImageMalformedError(`EIF header: unknown flags 0x${flags.toString(16)} (only bit 0, aarch64, is defined)`);
  if (hv.getUint16(24) !== 0 || hv.getUint32(540) !== 0) throw new ImageMalformedError('EIF header: reserved fields must be zero');
  const count = hv.getUint16(26);
  if (count > EIF_MAX_SECTIONS) throw new ImageMalformedError(`EIF header: ${count} sections, at most ${EIF_MAX_SECTIONS}`);
  const offsets: bigint[] = [];
  const sizes: bigint[] = [];
  for (let i = 0; i < EIF_MAX_SECTIONS; i++) {
    offsets.push(u64(hv, 28 + 8 * i));
    sizes.push(u64(hv, 28 + 8 * EIF_MAX_SECTIONS + 8 * i));
    if (i >= count && (offsets[i] !== 0n || sizes[i] !== 0n)) throw new ImageMalformedError(`EIF header: section table entry ${i} is set, but there are ${count} sections`);
  }

  let crc = crc32(head.subarray(0, EIF_HEADER_SIZE - 4));
  const hasher = new PcrHasher();
  const sections: EifSectionRef[] = [];
  let metadata: Uint8Array | undefined;
  let signature: Uint8Array | undefined;
  let ramdisks = 0;
  let previous = 'start';
  let off = EIF_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (offsets[i] !== BigInt(off)) throw new ImageMalformedError(`EIF header: section ${i} is at offset ${off}, the section table says ${offsets[i]}`);
    if (n - off < EIF_SECTION_HEADER_SIZE) throw new ImageTruncatedError(`EIF truncated: section ${i} header at offset ${off} runs past the end`);
    const sh = src.read(off, EIF_SECTION_HEADER_SIZE);
    const sv = new DataView(sh.buffer, sh.byteOffset, sh.byteLength);
    const type = sv.getUint16(0);
    const name = EIF_SECTION_NAMES[type];
    if (name === undefined) throw new ImageUnknownSectionError(`EIF: unknown section type ${type} (section ${i}, offset ${off})`);
    if (sv.getUint16(2) !== 0) throw new ImageMalformedError(`EIF ${name} section: flags must be zero`);
    const declared = u64(sv, 4);
    if (declared !== sizes[i]) throw new ImageMalformedError(`EIF ${name} section ${i}: its header says ${declared} bytes, the section table ${sizes[i]}`);
    const dataStart = off + EIF_SECTION_HEADER_SIZE;
    const size = small(declared, `${name} section size`, n);
    if (size > n - dataStart) throw new ImageTruncatedError(`EIF truncated: ${name} section needs ${size} bytes, ${n - dataStart} remain`);
    if (!(NEXT[previous] ?? []).includes(type)) {
      throw new ImageMalformedError(`EIF: a ${name} section cannot follow ${previous === 'start' ? 'the header' : `a ${EIF_SECTION_NAMES[Number(previous)]} section`} (sections must be KERNEL, CMDLINE, METADATA?, RAMDISK…, SIGNATURE?)`);
    }
    if (type === EIF_SECTION.SIGNATURE && version < 3) throw new ImageMalformedError(`EIF version ${version} has no signature section (added in version 3)`);
    if (type === EIF_SECTION.METADATA && version < 4) throw new ImageMalformedError(`EIF version ${version} has no metadata section (added in version 4)`);
    if (type === EIF_SECTION.METADATA && size > MAX_EIF_METADATA) throw new ImageTooLargeError(`EIF METADATA section is ${size} bytes, more than ${MAX_EIF_METADATA}`);
    if (type === EIF_SECTION.SIGNATURE && size > MAX_EIF_SIGNATURE) throw new ImageTooLargeError(`EIF SIGNATURE section is ${size} bytes, more than ${MAX_EIF_SIGNATURE}`);
    crc = crc32(sh, crc);
    // Kernel, cmdline and the first ramdisk: PCR0 and PCR1; later ramdisks: PCR0 and PCR2.
    const sink =
      type === EIF_SECTION.KERNEL || type === EIF_SECTION.CMDLINE || (type === EIF_SECTION.RAMDISK && ramdisks === 0)
        ? (c: Uint8Array): void => hasher.boot(c)
        : type === EIF_SECTION.RAMDISK
          ? (c: Uint8Array): void => hasher.app(c)
          : undefined;
    if (sink === undefined) {
      const data = src.read(dataStart, size).slice();
      crc = crc32(data, crc);
      if (type === EIF_SECTION.METADATA) metadata = data;
      else signature = data;
    } else {
      for (let at = 0; at < size; at += CHUNK) {
        const chunk = src.read(dataStart + at, Math.min(CHUNK, size - at));
        crc = crc32(chunk, crc);
        sink(chunk);
      }
    }
    if (type === EIF_SECTION.RAMDISK) ramdisks++;
    sections.push({ type, offset: off, size });
    previous = String(type);
    off = dataStart + size;
  }
  if (!MAY_END.has(previous)) {
    throw new ImageMalformedError(`EIF: ${count} sections end ${previous === 'start' ? 'before any section' : `with a ${EIF_SECTION_NAMES[Number(previous)]} section`}; an EIF needs KERNEL, CMDLINE and at least one RAMDISK`);
  }
  if (off !== n) throw new ImageMalformedError(`EIF: ${n - off} bytes after the last of ${count} sections`);
  const checksumOk = hv.getUint32(EIF_HEADER_SIZE - 4) === crc;
  if (!checksumOk && opts.enforceChecksum !== false) throw new ImageBadChecksumError('EIF checksum (CRC32) does not match: the file is damaged or was altered');
  return {
    version,
    flags,
    defaultMemBytes: u64(hv, 8),
    defaultCpus: u64(hv, 16),
    sections,
    checksumOk,
    pcrs: hasher.digest(),
    ...(metadata ? { metadata } : {}),
    ...(signature ? { signature } : {}),
  };
}
