// vsock context ids (CIDs) as nitro-cli assigns and checks them. Reserved values from
// linux/vm_sockets.h: VMADDR_CID_HYPERVISOR 0, VMADDR_CID_LOCAL 1, VMADDR_CID_HOST 2,
// VMADDR_CID_ANY 0xFFFFFFFF; Nitro adds VMADDR_CID_PARENT 3, the parent instance. nitro-cli's
// run-enclave refuses --enclave-cid 0, 1, 2, 3 and anything ≥ 2^32−1.
import { VsockError } from '../../enclave/index.ts';

export const VMADDR_CID_HYPERVISOR = 0;
export const VMADDR_CID_LOCAL = 1;
export const VMADDR_CID_HOST = 2;
export const VMADDR_CID_PARENT = 3;
export const VMADDR_CID_ANY = 0xffff_ffff;
/** Smallest CID an enclave may have. */
export const MIN_ENCLAVE_CID = 4;
/** Largest CID an enclave may have (2^32−2). */
export const MAX_ENCLAVE_CID = VMADDR_CID_ANY - 1;

export type CidRefusal = 'not-an-integer' | 'hypervisor' | 'local' | 'host' | 'parent' | 'out-of-range';

export class InvalidCidError extends VsockError {
  readonly cid: unknown;
  readonly reason: CidRefusal;
  constructor(cid: unknown, reason: CidRefusal) {
    super('ERR_VSOCK_INVALID_CID', `invalid enclave CID ${String(cid)} (${reason}): must be an integer in [4, 2^32-2]`);
    this.name = 'InvalidCidError';
    this.cid = cid;
    this.reason = reason;
  }
}

/** Throws InvalidCidError unless `cid` can be an enclave's CID. */
export function validateEnclaveCid(cid: unknown): asserts cid is number {
  if (typeof cid !== 'number' || !Number.isInteger(cid)) throw new InvalidCidError(cid, 'not-an-integer');
  if (cid === VMADDR_CID_HYPERVISOR) throw new InvalidCidError(cid, 'hypervisor');
  if (cid === VMADDR_CID_LOCAL) throw new InvalidCidError(cid, 'local');
  if (cid === VMADDR_CID_HOST) throw new InvalidCidError(cid, 'host');
  if (cid === VMADDR_CID_PARENT) throw new InvalidCidError(cid, 'parent');
  if (cid < 0 || cid > MAX_ENCLAVE_CID) throw new InvalidCidError(cid, 'out-of-range');
}

/**
 * Parses a `--enclave-cid` command-line value: decimal digits only (no sign, no hex, no exponent),
 * then the same rules as validateEnclaveCid.
 */
export function parseEnclaveCid(text: string): number {
  if (!/^[0-9]{1,20}$/.test(text)) throw new InvalidCidError(text, 'not-an-integer');
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new InvalidCidError(text, 'out-of-range');
  validateEnclaveCid(n);
  return n;
}
