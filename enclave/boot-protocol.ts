// How the host and the bootstrap meet on a fresh channel. The bootstrap connects to the host's
// BOOT_PORT. The host sends image frames (a u32 big-endian length, then that many image bytes) and
// half-closes: the image to run is the last frame before the end. A cold start sends one frame and
// the end at once. A warm-pool process gets its pool's image as soon as it connects (staged: the
// bootstrap checks it while it waits), and at run only the end, when the run's image is those very
// bytes, or a second frame, the run's image, then the end. The bootstrap checks each frame as it
// completes, so a bad staged image fails the process before any run takes it.
//
// The bootstrap answers with status lines (JSON, one per line) on the same connection:
// {"status":"ready"} once the app's entry point has returned (or called ctx.ready()),
// {"status":"failed"|"crashed","code":…} (plus "message" in debug mode) when the image is refused
// or the app throws, and {"status":"alive"} every HEARTBEAT_MS while the event loop turns. Status
// lines are reports, never trusted for security.
import { BootProtocolError, ImageTooLargeError } from './errors.ts';

/** The highest port a vsock stream can name (VMADDR_PORT_ANY − 1), reserved for booting. */
export const BOOT_PORT = 0xffff_fffe;

/** How often the bootstrap reports `alive`; a host that hears nothing for a while calls it hung. */
export const HEARTBEAT_MS = 500;

export type BootStatus =
  | { readonly status: 'ready' }
  | { readonly status: 'alive' }
  /** `message` in debug mode only: outside it nothing the app wrote leaves the enclave. */
  | { readonly status: 'failed' | 'crashed'; readonly code: string; readonly message?: string };

export function encodeStatus(s: BootStatus): string {
  return `${JSON.stringify(s)}\n`;
}

/**
 * What marks a bootstrap that reads image frames: the code its ImageFrames raises for a stream with
 * no image, which every such bootstrap's bundle contains (test/enclave/boot-protocol.test.ts checks
 * the current one). A bootstrap built before frames (images of an earlier nitro-sandbox) read the
 * raw image until the end of the stream and does not contain it: the host sends it that, without
 * staging, so those images still run. A marker, not a security decision: a wrong guess can only
 * fail the boot.
 */
export const FRAMED_BOOT_MARKER = 'ERR_BOOT_NO_IMAGE';

/** Images on one boot stream at most: the one staged in a warm process, and the run's if it differs. */
export const MAX_BOOT_IMAGES = 2;

/** The frame that carries `image` on the boot stream: its length header, then the bytes themselves. */
export function imageFrameHeader(image: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(image.byteLength);
  return header;
}

/**
 * The bootstrap's reader of the boot stream: `push` each chunk as it arrives, `end` at the
 * stream's end. A frame's length is checked against `maxImageBytes` from its 4-byte header, before
 * any of its bytes are kept; `onImage` gets each frame as it completes (at most MAX_BOOT_IMAGES).
 * After an error, every later push is ignored (the rest of the stream is discarded, so the
 * connection stays open for the failure's status line).
 */
export class ImageFrames {
  readonly #maxImageBytes: number;
  readonly #onImage: (image: Buffer) => void;
  readonly #header = Buffer.alloc(4);
  #headerBytes = 0;
  #body: Buffer | undefined;
  #bodyBytes = 0;
  #images = 0;
  #failed = false;

  constructor(maxImageBytes: number, onImage: (image: Buffer) => void) {
    this.#maxImageBytes = maxImageBytes;
    this.#onImage = onImage;
  }

  /** How many images have completed. */
  get images(): number {
    return this.#images;
  }

  /** Takes the next chunk; throws the first error (ImageTooLargeError, BootProtocolError or onImage's). */
  push(chunk: Buffer): void {
    if (this.#failed) return;
    try {
      let at = 0;
      while (at < chunk.length) {
        if (this.#body === undefined) {
          const n = Math.min(4 - this.#headerBytes, chunk.length - at);
          chunk.copy(this.#header, this.#headerBytes, at, at + n);
          this.#headerBytes += n;
          at += n;
          if (this.#headerBytes < 4) return;
          this.#headerBytes = 0;
          if (this.#images === MAX_BOOT_IMAGES) throw new BootProtocolError('ERR_BOOT_TOO_MANY_IMAGES', `the host sent more than ${MAX_BOOT_IMAGES} images`);
          const length = this.#header.readUInt32BE(0);
          if (length > this.#maxImageBytes) throw new ImageTooLargeError(`the host sent an image of ${length} bytes, over the ${this.#maxImageBytes}-byte maximum`);
          // A whole frame in this chunk is used in place; otherwise its bytes are gathered.
          if (chunk.length - at >= length) {
            const image = chunk.subarray(at, at + length);
            at += length;
            this.#complete(image);
            continue;
          }
          this.#body = Buffer.allocUnsafe(length);
          this.#bodyBytes = 0;
        }
        const n = Math.min(this.#body.length - this.#bodyBytes, chunk.length - at);
        chunk.copy(this.#body, this.#bodyBytes, at, at + n);
        this.#bodyBytes += n;
        at += n;
        if (this.#bodyBytes === this.#body.length) {
          const image = this.#body;
          this.#body = undefined;
          this.#complete(image);
        }
      }
    } catch (e) {
      this.#failed = true;
      this.#body = undefined;
      throw e;
    }
  }

  #complete(image: Buffer): void {
    this.#images += 1;
    this.#onImage(image);
  }

  /** The stream ended: throws unless it ended between frames, after at least one. */
  end(): void {
    if (this.#failed) return;
    if (this.#body !== undefined || this.#headerBytes > 0) throw new BootProtocolError('ERR_BOOT_TRUNCATED', 'the boot stream ended inside an image frame');
    if (this.#images === 0) throw new BootProtocolError('ERR_BOOT_NO_IMAGE', 'the boot stream ended before any image');
  }
}
