// Public surface of the vsock channel: the multiplexer both ends use, the enclave's end on fd 3,
// the one bounded read-to-end helper, and the errors. The frame codec (frame.ts) stays private;
// PROTOCOL.md documents the wire format.
export { Channel, MAX_NSM_IN_FLIGHT, VMADDR_PORT_ANY, assertPort } from './channel.ts';
export type { ChannelOptions, ChannelRole, ConnectionHandler, NsmHandler, VsockListener } from './channel.ts';
export { VsockConnection } from './connection.ts';
export { readAll, type ReadAllOptions } from './read-all.ts';
export type { ConnectionOptions, ConnectionState } from './connection.ts';
export {
  ConnectionRefusedError,
  ConnectionResetError,
  MalformedFrameError,
  ProtocolError,
  VsockError,
} from './errors.ts';
export type { VsockErrorCode } from './errors.ts';
export { NSM_REQUEST_MAX_SIZE, NSM_RESPONSE_MAX_SIZE } from './frame.ts';
export { CHANNEL_FD, PARENT_CID, openEnclaveChannel } from './transport.ts';
export type { EnclaveChannelOptions } from './transport.ts';
