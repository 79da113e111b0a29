// Encryption: `encryptStream` (a node Transform: plaintext in, envelope out) and `encrypt` (bytes in,
// bytes out). Both ask the key source for materials once per message, derive the content key from
// the data key with HKDF over a fresh random message id, write the header, then frames.
//
// The stream holds at most one frame of plaintext (plus the chunk being written): a regular frame is
// written once more than `frameSize` bytes are buffered, so the last frame (0 … frameSize bytes) is
// always the final one and the stream never needs to look back. Backpressure is the Transform's:
// the writable side waits while the readable side is full.
import { Transform, type TransformCallback } from 'node:stream';
import { serializeContext, type EncryptionContext } from './context.ts';
import { EnvelopeDataKeyError, EnvelopeError, EnvelopeInvalidArgumentError, EnvelopeLimitError } from './errors.ts';
import { FrameEncryptor } from './frames.ts';
import { checkFrameSize, DEFAULT_FRAME_SIZE, deriveKeys, headerDigest, headerTag, newMessageId, serializeHeaderBody } from './format.ts';
import { toMaterialsManager, type EncryptionMaterials, type KeySource } from './provider.ts';

export interface EncryptOptions {
  /** Plaintext bytes per frame, 1 B … 16 MiB; default 1 MiB. The decryptor buffers one frame. */
  readonly frameSize?: number;
  /**
   * The message's size when known in advance. A data-key cache counts it against maxBytesEncrypted
   * (without it the cache is bypassed, as in the ESDK); writing more than this is refused.
   */
  readonly plaintextLength?: number;
}

interface Prepared {
  readonly header: Buffer;
  readonly frames: FrameEncryptor;
}

async function prepare(keys: KeySource, context: EncryptionContext, contextBytes: Uint8Array, frameSize: number, plaintextLength: number | undefined): Promise<Prepared> {
  let materials: EncryptionMaterials;
  try {
    materials = await toMaterialsManager(keys).encryptionMaterials(context, plaintextLength);
  } catch (e) {
    // A custom materials manager's own failure still reaches the caller as a typed error.
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeDataKeyError('the materials manager could not provide a data key', { cause: e });
  }
  if (!(materials?.dataKey instanceof Uint8Array) || materials.dataKey.length !== 32 || !Array.isArray(materials.encryptedDataKeys)) {
    throw new EnvelopeDataKeyError('the materials manager returned no 32-byte data key and encrypted data keys');
  }
  try {
    const messageId = newMessageId();
    const { contentKey, commitment } = deriveKeys(materials.dataKey, messageId);
    const body = serializeHeaderBody({ frameSize, messageId, contextBytes, encryptedDataKeys: materials.encryptedDataKeys, commitment });
    const header = Buffer.concat([body, headerTag(contentKey, body)]);
    return { header, frames: new FrameEncryptor(contentKey, headerDigest(body), messageId, frameSize) };
  } finally {
    materials.dataKey.fill(0);
  }
}

function checkOptions(opts: EncryptOptions): { frameSize: number; plaintextLength: number | undefined } {
  const frameSize = checkFrameSize(opts.frameSize ?? DEFAULT_FRAME_SIZE);
  const plaintextLength = opts.plaintextLength;
  if (plaintextLength !== undefined && (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0)) {
    throw new EnvelopeInvalidArgumentError('plaintextLength must be a non-negative integer');
  }
  return { frameSize, plaintextLength };
}

export class EnvelopeEncryptStream extends Transform {
  readonly #frameSize: number;
  readonly #plaintextLength: number | undefined;
  #ready: Promise<Prepared> | undefined;
  #prepare: () => Promise<Prepared>;
  #prepared: Prepared | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #total = 0;

  constructor(keys: KeySource, context: EncryptionContext, opts: EncryptOptions = {}) {
    super();
    // Argument errors are thrown here, synchronously, before any stream exists.
    const contextBytes = serializeContext(context);
    const { frameSize, plaintextLength } = checkOptions(opts);
    toMaterialsManager(keys);
    this.#frameSize = frameSize;
    this.#plaintextLength = plaintextLength;
    this.#prepare = () => prepare(keys, context, contextBytes, frameSize, plaintextLength);
  }

  /** Materials are fetched on the first write (or at end for an empty message), not before. */
  async #materials(): Promise<Prepared> {
    if (this.#prepared) return this.#prepared;
    this.#ready ??= this.#prepare();
    const p = await this.#ready;
    if (!this.#prepared) {
      this.#prepared = p;
      this.push(p.header);
    }
    return p;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.#prepared) {
      callback(this.#absorb(this.#prepared, chunk));
      return;
    }
    this.#materials().then(
      (p) => callback(this.#absorb(p, chunk)),
      (e: unknown) => callback(e as Error),
    );
  }

  #absorb(p: Prepared, chunk: Buffer): Error | null {
    try {
      this.#total += chunk.length;
      if (this.#plaintextLength !== undefined && this.#total > this.#plaintextLength) {
        throw new EnvelopeLimitError(`more plaintext than the declared plaintextLength (${this.#plaintextLength})`);
      }
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      // Strictly more than one frame buffered: this frame is not the last, so it is a regular one.
      while (this.#pendingBytes > this.#frameSize) this.#emit(p, this.#take(this.#frameSize), this.#frameSize, false);
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  /** Removes exactly `n` bytes from the front of the pending list, splitting a chunk if needed. */
  #take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.#pending[0] as Buffer;
      if (head.length <= need) {
        out.push(head);
        this.#pending.shift();
        need -= head.length;
      } else {
        out.push(head.subarray(0, need));
        this.#pending[0] = head.subarray(need);
        need = 0;
      }
    }
    this.#pendingBytes -= n;
    return out;
  }

  readonly #push = (b: Buffer) => {
    this.push(b);
  };

  #emit(p: Prepared, pieces: Buffer[], length: number, final: boolean): void {
    p.frames.frame(pieces, length, final, this.#push);
  }

  override _flush(callback: TransformCallback): void {
    this.#materials().then(
      (p) => {
        try {
          const length = this.#pendingBytes;
          this.#emit(p, this.#take(length), length, true);
          p.frames.destroy();
          callback();
        } catch (e) {
          callback(e as Error);
        }
      },
      (e: unknown) => callback(e as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#prepared?.frames.destroy();
    // A destroy while materials are still in flight: zero the key once they arrive.
    if (!this.#prepared && this.#ready) this.#ready.then((p) => p.frames.destroy(), () => {});
    callback(error);
  }
}

/** A Transform that encrypts what is written to it into one envelope. */
export function encryptStream(keys: KeySource, context: EncryptionContext, opts: EncryptOptions = {}): EnvelopeEncryptStream {
  return new EnvelopeEncryptStream(keys, context, opts);
}

/**
 * Views of [start, end) in 64 KiB pieces: cipher output buffers of that size stay below the
 * allocator's mmap threshold and in cache, which measured faster than one update per frame.
 */
function slices(b: Uint8Array, start: number, end: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = start; o < end; o += 65536) out.push(b.subarray(o, Math.min(end, o + 65536)));
  return out;
}

/** Encrypts `plaintext` into one envelope (the cache sees its exact length). */
export async function encrypt(keys: KeySource, context: EncryptionContext, plaintext: Uint8Array, opts: Omit<EncryptOptions, 'plaintextLength'> = {}): Promise<Buffer> {
  if (!(plaintext instanceof Uint8Array)) throw new EnvelopeInvalidArgumentError('plaintext must be a Uint8Array');
  const contextBytes = serializeContext(context);
  const { frameSize } = checkOptions(opts);
  const p = await prepare(keys, context, contextBytes, frameSize, plaintext.length);
  try {
    const out: Buffer[] = [p.header];
    const collect = (b: Buffer) => {
      out.push(b);
    };
    let o = 0;
    // Same framing as the stream: full regular frames while more than a frame remains, then final.
    while (plaintext.length - o > frameSize) {
      p.frames.frame(slices(plaintext, o, o + frameSize), frameSize, false, collect);
      o += frameSize;
    }
    p.frames.frame(slices(plaintext, o, plaintext.length), plaintext.length - o, true, collect);
    return Buffer.concat(out);
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeInvalidArgumentError('encryption failed', { cause: e });
  } finally {
    p.frames.destroy();
  }
}
