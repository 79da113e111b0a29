// Host-side vsock addressing: CIDs (nitro-cli's rules) and the CID → channel registry.
export {
  InvalidCidError,
  MAX_ENCLAVE_CID,
  MIN_ENCLAVE_CID,
  VMADDR_CID_ANY,
  VMADDR_CID_HOST,
  VMADDR_CID_HYPERVISOR,
  VMADDR_CID_LOCAL,
  VMADDR_CID_PARENT,
  parseEnclaveCid,
  validateEnclaveCid,
} from './cid.ts';
export type { CidRefusal } from './cid.ts';
export { VsockRegistry } from './registry.ts';
export type { VsockRegistryOptions } from './registry.ts';
export { openHostChannel } from './channel.ts';
export type { HostChannelOptions } from './channel.ts';
