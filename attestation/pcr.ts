// PCR arithmetic as the Nitro hypervisor and nitro-cli do it (reference/nitro.md, "PCRs"):
// extend(old, data) = SHA384(old ‖ data); a section's PCR is extend(0⁴⁸, SHA384(section bytes)).
import { createHash } from 'node:crypto';
import { abytes } from './bytes.ts';

export const PCR_LENGTH = 48;
export const PCR_COUNT = 32;
/** PCR0–15 are set from measurements and locked at boot. */
export const LOCKED_AT_BOOT = 16;

export function zeroPcr(): Uint8Array {
  return new Uint8Array(PCR_LENGTH);
}

export function extendPcr(old: Uint8Array, data: Uint8Array): Uint8Array {
  abytes(old, 'pcr', { len: PCR_LENGTH });
  abytes(data, 'data');
  return new Uint8Array(createHash('sha384').update(old).update(data).digest());
}

/** extend(0, SHA384(chunks…)): the PCR value of a measured image part, as `nitro-cli pcr` prints. */
export function measure(...chunks: Uint8Array[]): Uint8Array {
  const h = createHash('sha384');
  for (const c of chunks) h.update(abytes(c, 'measured data'));
  return extendPcr(zeroPcr(), new Uint8Array(h.digest()));
}

/** PCR3/PCR4 style: SHA384(0⁴⁸ ‖ text), for a parent's IAM role ARN or instance id. */
export function measureText(text: string): Uint8Array {
  return extendPcr(zeroPcr(), new TextEncoder().encode(text));
}

export function isZero(x: Uint8Array): boolean {
  for (const b of x) if (b !== 0) return false;
  return true;
}
