// Public surface of the attestation domain: CBOR/COSE codec, attestation documents, the local PKI,
// the NSM device model and the verifier. Everything else in this folder is private.
export * from './errors.ts';
export { abytes, equalBytes, fromHex, toHex } from './bytes.ts';
export { PCR_COUNT, PCR_LENGTH, LOCKED_AT_BOOT, extendPcr, isZero, measure, measureText, zeroPcr } from './pcr.ts';
export { COSE_SIGN1_TAG, ES384, MAX_DOCUMENT_BYTES, decodeCoseSign1, signCoseSign1, verifyCoseSign1, type CoseSign1 } from './cose.ts';
export { decodeCbor, encodeCbor, scanCbor, type CborLimits, type CborValue } from './cbor.ts';
export {
  MAX_OPTIONAL_FIELD,
  decodeDocument,
  decodePayload,
  documentBytesFromFile,
  encodePayload,
  makeDocument,
  signDocument,
  type AttestationDocument,
  type DecodedDocument,
} from './document.ts';
export { DATA_DIR_MARKER, LEAF_LIFETIME_MS, SandboxPki, defaultDataDir, sandboxRootPath, type LeafCredential, type PkiOptions } from './pki.ts';
export { NsmDevice, type AttestationRequest, type DocumentFields, type DocumentSigner, type NsmDescription, type NsmDeviceOptions } from './nsm.ts';
// nsm-protocol.ts is also a public entry on its own: the light one enclave bundles import.
export {
  NSM_MAX_REQUEST,
  NSM_RANDOM_BYTES,
  NSM_REQUEST_LIMITS,
  NSM_RESPONSE_MAX,
  NsmError,
  decodeNsmResponse,
  encodeNsmRequest,
  type NsmErrorCode,
  type NsmRequest,
} from './nsm-protocol.ts';
export { AttestationAuthority, type CreateDeviceOptions } from './authority.ts';
export { NsmScheduler } from './nsm-scheduler.ts';
export { ChainCache, validateChain, type ValidatedChain } from './chain.ts';
export { awsNitroRoot, derSha256, isDebugDocument, verifyAttestation, type TrustAnchor, type VerifiedDocument, type VerifyOptions } from './verify.ts';
export { AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256 } from './roots.ts';
export { describeDocument, type CertificateSummary } from './describe.ts';
