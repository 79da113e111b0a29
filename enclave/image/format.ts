// The image container: a fixed header, then typed sections with explicit lengths. Layout, field by
// field, in ../IMAGE_FORMAT.md. Written by hand (no library) because the point is that every byte
// is specified: the parser accepts exactly one encoding of each image and refuses everything else
// with an error naming what is wrong, before any section is interpreted.
import { crc32 } from 'node:zlib';
import {
  EnclaveInvalidArgumentError,
  ImageBadChecksumError,
  ImageBadMagicError,
  ImageMalformedError,
  ImageTooLargeError,
  ImageTruncatedError,
  ImageUnknownSectionError,
  ImageUnsupportedVersionError,
} from '../errors.ts';

/**
 * `\x89NSX\r\n\x1a\n`: a high byte, then line endings and ^Z, so text-mode mangling is caught (as
 * PNG does). A typed array cannot be frozen; callers get a copy from `imageMagic()`.
 */
const IMAGE_MAGIC = Uint8Array.of(0x89, 0x4e, 0x53, 0x58, 0x0d, 0x0a, 0x1a, 0x0a);
export function imageMagic(): Uint8Array {
  return IMAGE_MAGIC.slice();
}
/**
 * 2: PCRs by EIF's rules (section data only; the manifest outside every PCR). Version 1 measured
 * byte ranges with section headers and the manifest inside PCR0; its PCRs mean something else,
 * so version-1 images are refused rather than re-measured.
 */
export const IMAGE_FORMAT_VERSION = 2;
export const HEADER_SIZE = 24;
export const SECTION_HEADER_SIZE = 8;
/** 64 MiB: an enclave app is one bundled module; anything bigger is a mistake or an attack. */
export const MAX_IMAGE_SIZE = 64 * 1024 * 1024;

export const SECTION = Object.freeze({
  RUNTIME: 1,
  BOOTSTRAP: 2,
  APPLICATION: 3,
  MANIFEST: 4,
  SIGNATURE: 5,
} as const);
export type SectionType = (typeof SECTION)[keyof typeof SECTION];

export const SECTION_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: 'RUNTIME',
  2: 'BOOTSTRAP',
  3: 'APPLICATION',
  4: 'MANIFEST',
  5: 'SIGNATURE',
});

/** The only section sequences an image may have. */
const ORDER: readonly number[] = [SECTION.RUNTIME, SECTION.BOOTSTRAP, SECTION.APPLICATION, SECTION.MANIFEST, SECTION.SIGNATURE];

export interface SectionRef {
  readonly type: SectionType;
  /** Offset of the section header in the image. */
  readonly start: number;
  /** Offset just past the section's data. */
  readonly end: number;
  /** The section's data: a view into the image, not a copy. */
  readonly data: Uint8Array;
}

export interface ImageLayout {
  readonly version: number;
  /** True when the header CRC matches; `parseLayout` only returns false if asked not to enforce it. */
  readonly checksumOk: boolean;
  readonly runtime: SectionRef;
  readonly bootstrap: SectionRef;
  readonly application: SectionRef;
  readonly manifest: SectionRef;
  readonly signature: SectionRef | undefined;
}

/** CRC-32 (IEEE 802.3, as zlib and EIF's CheckCRC) of the image with the CRC field itself left out. */
export function imageCrc(bytes: Uint8Array): number {
  return crc32(bytes.subarray(HEADER_SIZE), crc32(bytes.subarray(0, HEADER_SIZE - 4)));
}

/**
 * Reads the header and the section table. Checks, in this order, so each fault gets its own code:
 * magic, size limit, version, header and declared length, checksum, reserved fields, every section
 * header (type, length), section order. Section contents are not interpreted here.
 */
export function parseLayout(bytes: Uint8Array, opts: { enforceChecksum?: boolean } = {}): ImageLayout {
  if (!(bytes instanceof Uint8Array)) throw new EnclaveInvalidArgumentError('image must be a Uint8Array');
  const n = bytes.length;
  for (let i = 0; i < Math.min(n, IMAGE_MAGIC.length); i++) {
    if (bytes[i] !== IMAGE_MAGIC[i]) throw new ImageBadMagicError('not an enclave image: bad magic number');
  }
  if (n < IMAGE_MAGIC.length) throw new ImageTruncatedError(`image truncated: ${n} bytes, shorter than the magic number`);
  if (n > MAX_IMAGE_SIZE) throw new ImageTooLargeError(`image is ${n} bytes, more than the ${MAX_IMAGE_SIZE}-byte maximum`);
  if (n < 10) throw new ImageTruncatedError(`image truncated: ${n} bytes, the header is ${HEADER_SIZE}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8);
  // Checked before the rest of the header: a later version may lay the header out differently.
  if (version === 1) {
    throw new ImageUnsupportedVersionError('image format version 1 is no longer supported: its PCRs were measured by other rules (section headers and manifest included); rebuild the image with build-enclave');
  }
  if (version !== IMAGE_FORMAT_VERSION) throw new ImageUnsupportedVersionError(`image format version ${version} is not supported (this build reads ${IMAGE_FORMAT_VERSION})`);
  if (n < HEADER_SIZE) throw new ImageTruncatedError(`image truncated: ${n} bytes, the header is ${HEADER_SIZE}`);
  const declared = view.getUint32(16);
  if (declared > MAX_IMAGE_SIZE) throw new ImageTooLargeError(`image declares ${declared} bytes, more than the ${MAX_IMAGE_SIZE}-byte maximum`);
  if (n < declared) throw new ImageTruncatedError(`image truncated: ${n} of ${declared} bytes`);
  if (n > declared) throw new ImageMalformedError(`${n - declared} unexpected bytes after the end of the image`);
  const checksumOk = view.getUint32(20) === imageCrc(bytes);
  if (!checksumOk && opts.enforceChecksum !== false) throw new ImageBadChecksumError('image checksum (CRC32) does not match: the file is damaged or was altered');
  if (view.getUint16(10) !== 0 || view.getUint16(14) !== 0) throw new ImageMalformedError('image header: reserved fields must be zero');
  const count = view.getUint16(12);
  const sections: SectionRef[] = [];
  let off = HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (off + SECTION_HEADER_SIZE > n) throw new ImageTruncatedError(`image truncated: section ${i} header at offset ${off} runs past the end`);
    const type = view.getUint16(off);
    const flags = view.getUint16(off + 2);
    const len = view.getUint32(off + 4);
    const name = SECTION_NAMES[type];
    if (name === undefined) throw new ImageUnknownSectionError(`unknown section type ${type} (section ${i}, offset ${off})`);
    if (flags !== 0) throw new ImageMalformedError(`${name} section: reserved flags must be zero`);
    const dataStart = off + SECTION_HEADER_SIZE;
    if (len > n - dataStart) throw new ImageTruncatedError(`image truncated: ${name} section needs ${len} bytes, ${n - dataStart} remain`);
    sections.push({ type: type as SectionType, start: off, end: dataStart + len, data: bytes.subarray(dataStart, dataStart + len) });
    off = dataStart + len;
  }
  if (off !== n) throw new ImageMalformedError(`${n - off} bytes after the last of ${count} sections`);
  const types = sections.map((s) => s.type);
  const wellOrdered = (types.length === 4 || types.length === 5) && types.every((t, i) => t === ORDER[i]);
  if (!wellOrdered) {
    const got = types.map((t) => SECTION_NAMES[t]).join(', ') || 'none';
    throw new ImageMalformedError(`sections must be RUNTIME, BOOTSTRAP, APPLICATION, MANIFEST[, SIGNATURE] in this order; got ${got}`);
  }
  for (const s of sections) {
    if (s.data.length === 0) throw new ImageMalformedError(`${SECTION_NAMES[s.type]} section is empty`);
  }
  const [runtime, bootstrap, application, manifest, signature] = sections as [SectionRef, SectionRef, SectionRef, SectionRef, SectionRef | undefined];
  return { version, checksumOk, runtime, bootstrap, application, manifest, signature };
}

/** Lays sections out after a header and fills in the length and the CRC. */
export function writeImage(sections: readonly { readonly type: SectionType; readonly data: Uint8Array }[]): Uint8Array {
  let total = HEADER_SIZE;
  for (const s of sections) total += SECTION_HEADER_SIZE + s.data.length;
  if (total > MAX_IMAGE_SIZE) throw new ImageTooLargeError(`image would be ${total} bytes, more than the ${MAX_IMAGE_SIZE}-byte maximum`);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(IMAGE_MAGIC, 0);
  view.setUint16(8, IMAGE_FORMAT_VERSION);
  view.setUint16(12, sections.length);
  view.setUint32(16, total);
  let off = HEADER_SIZE;
  for (const s of sections) {
    view.setUint16(off, s.type);
    view.setUint32(off + 4, s.data.length);
    out.set(s.data, off + SECTION_HEADER_SIZE);
    off += SECTION_HEADER_SIZE + s.data.length;
  }
  view.setUint32(20, imageCrc(out));
  return out;
}
