// The host's end of an enclave's channel: the socket the host got from spawn()'s stdio 'pipe' on
// fd 3 (child.stdio[3]). The enclave opens the other end with openEnclaveChannel().
import type { Duplex } from 'node:stream';
import { Channel, VsockError, type ChannelOptions } from '../../enclave/index.ts';

export type HostChannelOptions = Omit<ChannelOptions, 'role'>;

export function openHostChannel(stream: Duplex | null | undefined, options: HostChannelOptions = {}): Channel {
  if (!stream || typeof stream.write !== 'function' || typeof stream.on !== 'function') {
    throw new VsockError('ERR_VSOCK_INVALID_ARGUMENT', 'the channel needs the child process stream on fd 3 (stdio: [..., "pipe"])');
  }
  return new Channel(stream, { ...options, role: 'host' });
}
