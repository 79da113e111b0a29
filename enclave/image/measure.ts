// PCRs of an image, as Nitro computes them (reference/nitro.md, "PCRs"): each is
// extend(0⁴⁸, SHA384(the bytes it covers)). Here every PCR covers a contiguous run of the image,
// section headers included (IMAGE_FORMAT.md explains why), so `dd … | openssl dgst -sha384` over
// the same offsets reproduces it.
import { measure } from '../../attestation/index.ts';
import type { ImageLayout } from './format.ts';

export interface Measurements {
  /** The whole measured image: RUNTIME, BOOTSTRAP, APPLICATION and MANIFEST sections. */
  readonly pcr0: Uint8Array;
  /** Runtime (Node version + isolation) and bootstrap. */
  readonly pcr1: Uint8Array;
  /** The application module. */
  readonly pcr2: Uint8Array;
  /** The signing certificate; present only for signed images (zero on Nitro when unsigned). */
  readonly pcr8?: Uint8Array;
}

/** The byte ranges [start, end) of the image each PCR covers. */
export function measuredRanges(layout: ImageLayout): { pcr0: [number, number]; pcr1: [number, number]; pcr2: [number, number] } {
  return {
    pcr0: [layout.runtime.start, layout.manifest.end],
    pcr1: [layout.runtime.start, layout.bootstrap.end],
    pcr2: [layout.application.start, layout.application.end],
  };
}

export function measureLayout(bytes: Uint8Array, layout: ImageLayout): { pcr0: Uint8Array; pcr1: Uint8Array; pcr2: Uint8Array } {
  const r = measuredRanges(layout);
  // subarray: views, so a 1 MiB app is hashed in place, never copied.
  return {
    pcr0: measure(bytes.subarray(...r.pcr0)),
    pcr1: measure(bytes.subarray(...r.pcr1)),
    pcr2: measure(bytes.subarray(...r.pcr2)),
  };
}
