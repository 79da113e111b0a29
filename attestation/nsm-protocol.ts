// The NSM wire protocol as enclave code sees it: request encoding, response decoding, the device's
// error codes. A second, light public entry of this folder (only CBOR and the error classes): the
// enclave SDK bundles it into apps, and must not drag in the PKI or the X.509 stack.
import { decodeCbor, encodeCbor, type CborLimits, type CborValue } from './cbor.ts';
import { AttestationError } from './errors.ts';
export type { CborValue } from './cbor.ts';

export const NSM_MAX_REQUEST = 4096;
export const NSM_RANDOM_BYTES = 256;
/** The response buffer the NSM driver hands the device (nsm-api `NSM_RESPONSE_MAX_SIZE`, 0x3000). */
export const NSM_RESPONSE_MAX = 0x3000;
export const NSM_VERSION = { major: 1, minor: 0, patch: 0 } as const;

/**
 * What a request may hold: the largest API request, `{"Attestation": {user_data, nonce,
 * public_key}}`, is nine items on two levels; 4096 bytes as the device takes them.
 */
export const NSM_REQUEST_LIMITS: CborLimits = { maxBytes: NSM_MAX_REQUEST, maxItems: 16, maxDepth: 2 };
/** A response: DescribeNSM with its locked PCR list is the largest by items (about 50, three levels). */
const NSM_RESPONSE_LIMITS: CborLimits = { maxBytes: NSM_RESPONSE_MAX, maxItems: 128, maxDepth: 3 };

const ERROR_CODES = [
  'InvalidArgument',
  'InvalidIndex',
  'InvalidResponse',
  'ReadOnlyIndex',
  'InvalidOperation',
  'BufferTooSmall',
  'InputTooLarge',
  'InternalError',
] as const;

export type NsmErrorCode = (typeof ERROR_CODES)[number];

/** An NSM request failed with one of the device's error codes (also the wire `{"Error": …}`). */
export class NsmError extends AttestationError {
  static override readonly code = 'ERR_NSM';
  readonly nsmCode: NsmErrorCode;
  constructor(nsmCode: NsmErrorCode, message?: string) {
    super(message ?? `NSM error: ${nsmCode}`);
    this.nsmCode = nsmCode;
  }
}

export type NsmRequest =
  | 'DescribeNSM'
  | 'GetRandom'
  | { DescribePCR: { index: number } }
  | { ExtendPCR: { index: number; data: Uint8Array } }
  | { LockPCR: { index: number } }
  | { LockPCRs: { range: number } }
  | { Attestation: { user_data: Uint8Array | null; nonce: Uint8Array | null; public_key: Uint8Array | null } };

export function encodeNsmRequest(request: NsmRequest): Uint8Array {
  return encodeCbor(request);
}

/**
 * Decodes a device response; `{"Error": code}` becomes a thrown NsmError, a response that is not
 * one of the API's shapes an NsmError('InvalidResponse').
 */
export function decodeNsmResponse(bytes: Uint8Array): CborValue {
  let r: CborValue;
  try {
    r = decodeCbor(bytes, 'NSM response', NSM_RESPONSE_LIMITS);
  } catch {
    throw new NsmError('InvalidResponse');
  }
  if (r instanceof Map && r.size === 1 && r.has('Error')) {
    const code = r.get('Error');
    throw new NsmError(ERROR_CODES.includes(code as NsmErrorCode) ? (code as NsmErrorCode) : 'InvalidResponse');
  }
  return r;
}
