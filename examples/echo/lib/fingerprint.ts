import { createHash } from 'node:crypto';

export function fingerprint(message: string): string {
  return createHash('sha384').update(message, 'utf8').digest('hex');
}
