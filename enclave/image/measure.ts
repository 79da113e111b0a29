// PCRs by EIF's rules (aws-nitro-enclaves-image-format, src/utils/mod.rs `EifBuilder::measure`,
// src/utils/eif_reader.rs `EifReader::from_eif`): only section *data* is hashed, in file order.
//
//   PCR0 = extend(0⁴⁸, SHA384(boot parts ‖ app parts))   EIF: kernel ‖ cmdline ‖ every ramdisk
//   PCR1 = extend(0⁴⁸, SHA384(boot parts))               EIF: kernel ‖ cmdline ‖ first ramdisk
//   PCR2 = extend(0⁴⁸, SHA384(app parts))                EIF: the other ramdisks
//
// Metadata and signature sections are outside every PCR. Boot parts all come before app parts in
// both formats, so PCR1's hash is a copy of PCR0's hash state taken at the boundary (SHA-384 is
// Merkle–Damgård): the boot bytes are hashed once, the app bytes twice (PCR0 and PCR2), as any
// EIF measurement must. One hasher serves our images (in memory) and EIF files (streamed).
import { createHash, type Hash } from 'node:crypto';
import { extendPcr, zeroPcr } from '../../attestation/index.ts';
import type { ImageLayout } from './format.ts';

export interface Measurements {
  /** The whole measured image: runtime, bootstrap and application data (EIF: kernel, cmdline, ramdisks). */
  readonly pcr0: Uint8Array;
  /** Runtime (Node version + isolation) and bootstrap (EIF: kernel, cmdline, first ramdisk). */
  readonly pcr1: Uint8Array;
  /** The application module (EIF: the ramdisks after the first). */
  readonly pcr2: Uint8Array;
  /** The signing certificate; present only for signed images (zero on Nitro when unsigned). */
  readonly pcr8?: Uint8Array;
}

/** Feeds section data in file order: every boot part, then every app part. */
export class PcrHasher {
  readonly #image: Hash = createHash('sha384');
  readonly #app: Hash = createHash('sha384');
  #boot: Buffer | undefined;

  /** Data measured into PCR0 and PCR1. */
  boot(chunk: Uint8Array): void {
    if (this.#boot) throw new Error('PcrHasher: boot data after app data');
    this.#image.update(chunk);
  }

  /** Data measured into PCR0 and PCR2. */
  app(chunk: Uint8Array): void {
    this.#boot ??= this.#image.copy().digest();
    this.#image.update(chunk);
    this.#app.update(chunk);
  }

  digest(): { pcr0: Uint8Array; pcr1: Uint8Array; pcr2: Uint8Array } {
    const boot = this.#boot ?? this.#image.copy().digest();
    const zero = zeroPcr();
    return {
      pcr0: extendPcr(zero, new Uint8Array(this.#image.digest())),
      pcr1: extendPcr(zero, new Uint8Array(boot)),
      pcr2: extendPcr(zero, new Uint8Array(this.#app.digest())),
    };
  }
}

/** PCR0/1/2 of data held in memory: `boot` parts then `app` parts, each hashed in place (no copy). */
export function measureParts(boot: readonly Uint8Array[], app: readonly Uint8Array[]): { pcr0: Uint8Array; pcr1: Uint8Array; pcr2: Uint8Array } {
  const h = new PcrHasher();
  for (const b of boot) h.boot(b);
  for (const a of app) h.app(a);
  return h.digest();
}

/** PCR0/1/2 of one of our images (IMAGE_FORMAT.md, "Measurements"): RUNTIME, BOOTSTRAP | APPLICATION. */
export function measureLayout(layout: Pick<ImageLayout, 'runtime' | 'bootstrap' | 'application'>): { pcr0: Uint8Array; pcr1: Uint8Array; pcr2: Uint8Array } {
  return measureParts([layout.runtime.data, layout.bootstrap.data], [layout.application.data]);
}
