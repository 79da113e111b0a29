// `sign-eif`: signs an image file in place, or replaces its signature, as `nitro-cli sign-eif`
// (src/lib.rs `sign_eif`). Both formats: one of our images gets a new SIGNATURE section in our
// format (IMAGE_FORMAT.md), a real EIF nitro-cli's (eif/sign.ts). PCR0–2 never move; PCR8 becomes
// the new certificate's.
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { looksLikeEif } from './eif/format.ts';
import { signEifFile } from './eif/sign.ts';
import { SECTION, parseLayout, writeImage } from './image/format.ts';
import { measureLayout, type Measurements } from './image/measure.ts';
import { pcr8, signatureSection } from './image/signature.ts';
import { readImageFile } from './image-file.ts';
import { loadImage } from './load.ts';

export interface SignFileOptions {
  /** PEM text of the signing certificate (ECDSA P-384 key). */
  readonly certificate: string;
  /** PEM text of its private key. */
  readonly privateKey: string;
}

/** A copy of one of our images with its SIGNATURE section made (or replaced) by this key. */
export function signImage(image: Uint8Array, signing: SignFileOptions): { image: Uint8Array; measurements: Measurements } {
  // The whole image is verified first (a bad signature being replaced is no reason to refuse).
  const layout = parseLayout(image);
  const m = measureLayout(layout);
  const sig = signatureSection(m.pcr0, signing.certificate, signing.privateKey);
  const signed = writeImage([layout.runtime, layout.bootstrap, layout.application, layout.manifest, { type: SECTION.SIGNATURE, data: sig }]);
  loadImage(signed);
  return { image: signed, measurements: { ...m, pcr8: pcr8(signing.certificate) } };
}

function isEifFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(4);
    return readSync(fd, head, 0, 4, 0) === 4 && looksLikeEif(head);
  } finally {
    closeSync(fd);
  }
}

/** Signs the image or EIF file at `path` in place and returns its measurements with PCR8. */
export function signImageFile(path: string, signing: SignFileOptions): Measurements {
  if (isEifFile(path)) return signEifFile(path, signing.certificate, signing.privateKey);
  const { image, measurements } = signImage(readImageFile(path), signing);
  writeFileSync(path, image);
  return measurements;
}
