// loadImage and measureImage: the host-side readers. Both check magic, size, version, length and
// checksum and the whole structure before anything else is looked at (image/format.ts), so a
// damaged or foreign file fails with a typed error and nothing of it is used.
import type { Manifest } from './manifest.ts';
import type { RuntimeDescriptor } from './runtime.ts';
import { ImageBadSignatureError } from './errors.ts';
import { measureLayout, type Measurements } from './image/measure.ts';
import { readImage, type ParsedImage } from './image/read.ts';
import { checkSignature, readSignatureSection, type SignatureContent } from './image/signature.ts';
import { measure } from '../attestation/index.ts';

export interface LoadedImage {
  readonly formatVersion: number;
  readonly runtime: RuntimeDescriptor;
  readonly manifest: Manifest;
  /** The bundled bootstrap module (what the host evaluates first in the enclave process). */
  readonly bootstrap: Uint8Array;
  /** The bundled application module. */
  readonly application: Uint8Array;
  readonly measurements: Measurements;
  /** Present when the image is signed; its signature has been verified. */
  readonly signature?: SignatureContent;
}

function measurementsOf(bytes: Uint8Array, parsed: ParsedImage): { measurements: Measurements; signature?: SignatureContent } {
  const m = measureLayout(parsed.layout);
  if (!parsed.layout.signature) return { measurements: m };
  const signature = readSignatureSection(parsed.layout.signature.data);
  return { measurements: { ...m, pcr8: measure(signature.certificate) }, signature };
}

/**
 * PCR0/1/2 (and PCR8 when signed) of an image, after checking checksum and structure. The
 * signature itself is not verified here (as `nitro-cli describe-eif` still prints the PCRs of an
 * image whose signature fails); `loadImage` verifies it.
 */
export function measureImage(bytes: Uint8Array): Measurements {
  return measurementsOf(bytes, readImage(bytes)).measurements;
}

/** Verifies checksum, structure, descriptors and (when present) the signature, then returns the parts. */
export function loadImage(bytes: Uint8Array): LoadedImage {
  const parsed = readImage(bytes);
  const { measurements, signature } = measurementsOf(bytes, parsed);
  if (signature) {
    const check = checkSignature(signature, measurements.pcr0);
    if (!check.ok) throw new ImageBadSignatureError({ cause: new Error(check.reason, check.cause === undefined ? undefined : { cause: check.cause }) });
  }
  // Copies: the caller may keep these after reusing or zeroing the image buffer.
  return {
    formatVersion: parsed.layout.version,
    runtime: parsed.runtime,
    manifest: parsed.manifest,
    bootstrap: parsed.layout.bootstrap.data.slice(),
    application: parsed.layout.application.data.slice(),
    measurements,
    ...(signature ? { signature } : {}),
  };
}
