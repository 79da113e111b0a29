// Public surface of the enclave domain: build, measure, load and describe images; the runtime
// (isolation) description the host launches from; the bootstrap; the error hierarchy.
export * from './errors.ts';
export { buildImage, bundledBootstrap, BUILD_DEFAULTS, type BuildOptions, type BuildResult, type SigningOptions } from './build.ts';
export { loadImage, measureImage, type LoadedImage } from './load.ts';
export {
  describeImage,
  describeEif,
  describeImageFile,
  imageMetadata,
  FIXED_BUILD_TIME,
  nitroMeasurements,
  signingCertificateInfo,
  HASH_ALGORITHM,
  type ImageDescription,
  type NitroMeasurements,
  type SigningCertificateInfo,
} from './describe.ts';
export { pcr8 as pcr8FromCertificate, certificateDer } from './image/signature.ts';
export type { Measurements } from './image/measure.ts';
export { IMAGE_FORMAT_VERSION, MAX_IMAGE_SIZE, SECTION, imageMagic } from './image/format.ts';
export { readImageFile } from './image-file.ts';
export { signImage, signImageFile, type SignFileOptions } from './sign.ts';
export { EIF_CURRENT_VERSION, EIF_SECTION, MAX_EIF_SIZE, looksLikeEif, readEif, type EifFile, type EifSectionRef } from './eif/format.ts';
export { memorySource, fileSource, type ByteSource } from './eif/source.ts';
export type { MetadataDescription } from './eif/metadata.ts';
export { DEFAULT_ISOLATION, LAYERS, launchArgs, runtimeDescriptor, type IsolationLayers, type IsolationPolicy, type LayerDemand, type RuntimeDescriptor } from './runtime.ts';
export { MANIFEST_LIMITS, type Manifest } from './manifest.ts';
export { startEnclave, prepareEnclave, runPrepared, importFromMemory, type PreparedEnclave, type AppContext, type AppImageInfo, type AppMain } from './bootstrap.ts';
export type { JsonValue } from './canonical-json.ts';
// The vsock channel (both ends), the boot handshake, the SDK an app bundles, envelope encryption
// and attested sessions: host code and clients import them from here.
export * from './vsock/index.ts';
export { BOOT_PORT, FRAMED_BOOT_MARKER, HEARTBEAT_MS, MAX_BOOT_IMAGES, ImageFrames, imageFrameHeader, type BootStatus } from './boot-protocol.ts';
export type { EnclaveServices } from './services.ts';
export * as envelope from './envelope/index.ts';
export * as session from './session/index.ts';
export * as sdk from './sdk/index.ts';
