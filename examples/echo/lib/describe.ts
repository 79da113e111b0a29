import type { AppImageInfo } from '../../../enclave/index.ts';

export function describeSelf(image: AppImageInfo): string {
  const ports = image.vsockPorts.length > 0 ? ` listening on vsock ${image.vsockPorts.join(', ')}` : '';
  return `${image.name} ${image.version}${ports}`;
}
