// The enclave's end of the channel. The host starts the enclave process with one inherited
// descriptor (spawn stdio 'pipe' on fd 3, which libuv creates as a Unix socket pair). Under
// `node --permission` with no grants at all, `new net.Socket({ fd })` still works — wrapping an
// already-open descriptor is not a network or file-system access — while net.connect/listen fail
// with ERR_ACCESS_DENIED (checked on Node 26.10; see test/vsock/permission.test.ts).
import { Socket } from 'node:net';
import { Channel, type ChannelOptions } from './channel.ts';
import { VsockError } from './errors.ts';

/** The descriptor the host passes the channel on. */
export const CHANNEL_FD = 3;
/** The parent instance's CID, the only peer an enclave can reach (VMADDR_CID_PARENT in nitro-cli). */
export const PARENT_CID = 3;

export type EnclaveChannelOptions = Omit<ChannelOptions, 'role' | 'nsmHandler' | 'remoteCid'> & { readonly fd?: number };

/** Opens the enclave side of the channel on the inherited descriptor (default fd 3). */
export function openEnclaveChannel(options: EnclaveChannelOptions = {}): Channel {
  const fd = options.fd ?? CHANNEL_FD;
  if (!Number.isInteger(fd) || fd < 0) throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', `fd must be a descriptor number, got ${fd}`);
  let socket: Socket;
  try {
    socket = new Socket({ fd, readable: true, writable: true });
  } catch (err) {
    throw new VsockError('ERR_VSOCK_CHANNEL_CLOSED', `cannot open the vsock channel on fd ${fd}`, { cause: err });
  }
  const { fd: _fd, ...rest } = options;
  return new Channel(socket, { ...rest, role: 'enclave', remoteCid: PARENT_CID });
}
