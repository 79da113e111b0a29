// Public surface of the attestation domain: CBOR/COSE codec, attestation documents, the local PKI,
// the NSM device model and the verifier. Everything else in this folder is private.
export * from './errors.ts';
export { abytes, equalBytes, fromHex, toHex } from './bytes.ts';
export { PCR_COUNT, PCR_LENGTH, LOCKED_AT_BOOT, extendPcr, isZero, measure, measureText, zeroPcr } from './pcr.ts';
export { COSE_SIGN1_TAG, ES384, ES384_PROTECTED, decodeCoseSign1, signCoseSign1, verifyCoseSign1, type CoseSign1 } from './cose.ts';
export { decodeCbor, encodeCbor, type CborValue } from './cbor.ts';
