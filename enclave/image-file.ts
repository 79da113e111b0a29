// Reading an image from disk for the host and the CLI: the size limit is checked on the file's
// length before its bytes are read, so a huge file is refused without being loaded into memory.
import { closeSync, openSync, readSync, fstatSync, readFileSync } from 'node:fs';
import { ImageBadMagicError, ImageEifNotRunnableError, ImageTooLargeError } from './errors.ts';
import { looksLikeEif } from './eif/format.ts';
import { MAX_IMAGE_SIZE, imageMagic } from './image/format.ts';

export function readImageFile(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const eifHead = new Uint8Array(4);
    if (readSync(fd, eifHead, 0, 4, 0) === 4 && looksLikeEif(eifHead)) {
      throw new ImageEifNotRunnableError(
        `${path} is an AWS EIF file (a Linux kernel and ramdisks): describe-eif, pcr and sign-eif read it, but this sandbox runs only images made by nitro-sandbox build-enclave`,
      );
    }
    if (size > MAX_IMAGE_SIZE) {
      // A foreign file is reported as such, whatever its size.
      const magic = imageMagic();
      const head = new Uint8Array(magic.length);
      readSync(fd, head, 0, head.length, 0);
      if (!head.every((b, i) => b === magic[i])) throw new ImageBadMagicError('not an enclave image: bad magic number');
      throw new ImageTooLargeError(`image file is ${size} bytes, more than the ${MAX_IMAGE_SIZE}-byte maximum`);
    }
    return new Uint8Array(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}
