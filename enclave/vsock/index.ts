// Public surface of the vsock channel (enclave side and shared pieces the host builds on).
export { Channel, MAX_NSM_IN_FLIGHT, VMADDR_PORT_ANY, assertPort } from './channel.ts';
export type { ChannelOptions, ChannelRole, ConnectionHandler, NsmHandler, VsockListener } from './channel.ts';
export { VsockConnection } from './connection.ts';
export type { ConnectionOptions, ConnectionState } from './connection.ts';
export {
  ConnectionRefusedError,
  ConnectionResetError,
  MalformedFrameError,
  ProtocolError,
  VsockError,
} from './errors.ts';
export type { VsockErrorCode } from './errors.ts';
export { FrameDecoder, FrameType, HEADER_SIZE, MAX_DATA_PAYLOAD, NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE } from './frame.ts';
export type { FrameSink } from './frame.ts';
export { CHANNEL_FD, PARENT_CID, openEnclaveChannel } from './transport.ts';
export type { EnclaveChannelOptions } from './transport.ts';
