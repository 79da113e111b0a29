// `sign-eif` for EIF files, as nitro-cli's `EifSigner::sign_image` (aws-nitro-enclaves-image-format,
// src/utils/eif_signer.rs): measure the file, sign its PCR0, then either replace the SIGNATURE
// section (a signed file; it is the last section, EifBuilder's order) or append one, update the
// section table, and rewrite the CRC over the whole file. In place: an EIF may be GiBs, and
// nothing before the signature moves. A damaged file (bad CRC, bad structure) is refused before
// anything is written.
import { ftruncateSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { ImageMalformedError } from '../errors.ts';
import type { Measurements } from '../image/measure.ts';
import { EIF_HEADER_SIZE, EIF_MAX_SECTIONS, EIF_SECTION, EIF_SECTION_HEADER_SIZE, readEif } from './format.ts';
import { eifPcr8, eifSignatureSection, readEifSignature } from './signature.ts';
import { fileSource, type ByteSource } from './source.ts';

const CHUNK = 4 * 1024 * 1024;

function crcOf(src: ByteSource, header: Uint8Array): number {
  let crc = crc32(header.subarray(0, EIF_HEADER_SIZE - 4));
  for (let at = EIF_HEADER_SIZE; at < src.size; at += CHUNK) crc = crc32(src.read(at, Math.min(CHUNK, src.size - at)), crc);
  return crc;
}

/** Signs (or re-signs) the EIF at `path` in place; returns its measurements, PCR8 included. */
export function signEifFile(path: string, certificatePem: string, privateKeyPem: string): Measurements {
  const src = fileSource(path, 'r+');
  try {
    const eif = readEif(src);
    const section = eifSignatureSection(eif.pcrs.pcr0, certificatePem, privateKeyPem);
    const last = eif.sections[eif.sections.length - 1];
    const replacing = last?.type === EIF_SECTION.SIGNATURE;
    const index = replacing ? eif.sections.length - 1 : eif.sections.length;
    if (index >= EIF_MAX_SECTIONS) throw new ImageMalformedError(`EIF already has ${EIF_MAX_SECTIONS} sections: no room for a signature`);
    const at = replacing && last ? last.offset : src.size;
    const sh = new Uint8Array(EIF_SECTION_HEADER_SIZE);
    const sv = new DataView(sh.buffer);
    sv.setUint16(0, EIF_SECTION.SIGNATURE);
    sv.setBigUint64(4, BigInt(section.length));
    writeSync(src.fd, sh, 0, sh.length, at);
    writeSync(src.fd, section, 0, section.length, at + sh.length);
    ftruncateSync(src.fd, at + sh.length + section.length);
    const header = src.read(0, EIF_HEADER_SIZE).slice();
    const hv = new DataView(header.buffer);
    hv.setUint16(26, index + 1);
    hv.setBigUint64(28 + 8 * index, BigInt(at));
    hv.setBigUint64(28 + 8 * EIF_MAX_SECTIONS + 8 * index, BigInt(section.length));
    const grown = fileSource(path);
    try {
      hv.setUint32(EIF_HEADER_SIZE - 4, crcOf(grown, header));
    } finally {
      grown.close();
    }
    writeSync(src.fd, header, 0, header.length, 0);
  } finally {
    src.close();
  }
  // Read back as any reader will: structure, CRC, and the signature just written.
  const check = fileSource(path);
  try {
    const eif = readEif(check);
    const sig = readEifSignature(eif.signature as Uint8Array);
    return { ...eif.pcrs, pcr8: eifPcr8(sig) };
  } finally {
    check.close();
  }
}
