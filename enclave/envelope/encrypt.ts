// Encryption: `createEncryptor` (incremental, shaped like node:crypto's Cipher: header, update,
// final), `encryptStream` (a node Transform over an encryptor: plaintext in, envelope out) and
// `encrypt` (bytes in, bytes out, over an encryptor). Each envelope asks the key source for
// materials once, derives the content key from the data key with HKDF over a fresh random message
// id, writes the header, then frames.
//
// An encryptor holds at most one frame of plaintext (plus the chunk being written): a regular frame
// is written once more than `frameSize` bytes are held, so the last frame (0 … frameSize bytes) is
// always the final one and nothing needs to look back. The stream's backpressure is the
// Transform's: the writable side waits while the readable side is full.
import { Transform, type TransformCallback } from 'node:stream';
import { serializeContext, type EncryptionContext } from './context.ts';
import { EnvelopeDataKeyError, EnvelopeError, EnvelopeInvalidArgumentError, EnvelopeLimitError } from './errors.ts';
import { FrameEncryptor } from './frames.ts';
import { checkFrameSize, DATA_KEY_LENGTH, DEFAULT_FRAME_SIZE, deriveKeys, headerDigest, headerTag, newMessageId, serializeHeaderBody } from './format.ts';
import { askManager, toMaterialsManager, type KeySource, type MaterialsManager } from './provider.ts';

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

async function prepare(manager: MaterialsManager, context: EncryptionContext, contextBytes: Uint8Array, frameSize: number, plaintextLength: number | undefined): Promise<Prepared> {
  const materials = await askManager(() => manager.encryptionMaterials(context, plaintextLength), 'the materials manager could not provide a data key');
  if (!(materials?.dataKey instanceof Uint8Array) || materials.dataKey.length !== DATA_KEY_LENGTH || !Array.isArray(materials.encryptedDataKeys)) {
    throw new EnvelopeDataKeyError(`the materials manager returned no ${DATA_KEY_LENGTH}-byte data key and encrypted data keys`);
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

/**
 * Incremental encryption of one envelope, shaped like node:crypto's Cipher: write `header` first,
 * then what each `update` returns, then what `final` returns. `update` holds the plaintext of the
 * frame in progress (references to the given chunks, not copies; do not modify a chunk until the
 * call that returns its frame) and returns the wire bytes of every frame the chunk completed, so
 * memory stays bounded by one frame whatever the payload's size. Made by `createEncryptor`.
 */
export class EnvelopeEncryptor {
  /** The envelope's header: the first bytes to write. */
  readonly header: Buffer;
  readonly #frames: FrameEncryptor;
  readonly #frameSize: number;
  readonly #plaintextLength: number | undefined;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #total = 0;
  #out: Buffer[] = [];
  #state: 'open' | 'finished' | 'failed' = 'open';
  readonly #collect = (b: Buffer) => {
    this.#out.push(b);
  };

  /** @internal Use `createEncryptor`. */
  constructor(prepared: Prepared, frameSize: number, plaintextLength: number | undefined) {
    this.header = prepared.header;
    this.#frames = prepared.frames;
    this.#frameSize = frameSize;
    this.#plaintextLength = plaintextLength;
  }

  /** Plaintext bytes taken so far. */
  get bytesWritten(): number {
    return this.#total;
  }

  /**
   * Takes the next plaintext bytes; returns the frames they completed (often none). A regular
   * frame is made once more than a frame's worth is held, so the last frame is always the final one.
   */
  update(chunk: Uint8Array): Buffer[] {
    this.#open();
    if (!(chunk instanceof Uint8Array)) throw new EnvelopeInvalidArgumentError('update takes a Uint8Array');
    const total = this.#total + chunk.length;
    if (this.#plaintextLength !== undefined && total > this.#plaintextLength) {
      this.#fail();
      throw new EnvelopeLimitError(`more plaintext than the declared plaintextLength (${this.#plaintextLength})`);
    }
    this.#total = total;
    if (chunk.length === 0) return [];
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes <= this.#frameSize) return [];
    // Strictly more than one frame held: the first frame is not the last, so it is a regular one.
    try {
      while (this.#pendingBytes > this.#frameSize) this.#frames.frame(this.#take(this.#frameSize), this.#frameSize, false, this.#collect);
    } catch (e) {
      this.#fail();
      throw e;
    }
    return this.#drain();
  }

  /** Writes the final frame with what is held; returns its bytes and zeroes the content key. */
  final(): Buffer[] {
    this.#open();
    try {
      const length = this.#pendingBytes;
      this.#frames.frame(this.#take(length), length, true, this.#collect);
    } catch (e) {
      this.#fail();
      throw e;
    }
    this.#state = 'finished';
    this.#frames.destroy();
    return this.#drain();
  }

  /** Abandons the envelope: zeroes the content key and drops held plaintext references. */
  destroy(): void {
    if (this.#state === 'open') this.#fail();
  }

  #open(): void {
    if (this.#state !== 'open') throw new EnvelopeInvalidArgumentError(`the encryptor is ${this.#state === 'finished' ? 'finished' : 'destroyed or failed'}`);
  }

  #fail(): void {
    this.#state = 'failed';
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#out = [];
    this.#frames.destroy();
  }

  #drain(): Buffer[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Removes exactly `n` bytes from the front of the held pieces, splitting one if needed. */
  #take(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let need = n;
    while (need > 0) {
      const head = this.#pending[0] as Uint8Array;
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
}

/**
 * Asks the key source for a data key (once per envelope), derives the content key and makes the
 * header; the returned encryptor then works synchronously. Argument errors are thrown before the
 * key source is asked.
 */
export async function createEncryptor(keys: KeySource, context: EncryptionContext, opts: EncryptOptions = {}): Promise<EnvelopeEncryptor> {
  const contextBytes = serializeContext(context);
  const { frameSize, plaintextLength } = checkOptions(opts);
  const p = await prepare(toMaterialsManager(keys), context, contextBytes, frameSize, plaintextLength);
  return new EnvelopeEncryptor(p, frameSize, plaintextLength);
}

export class EnvelopeEncryptStream extends Transform {
  #ready: Promise<EnvelopeEncryptor> | undefined;
  readonly #create: () => Promise<EnvelopeEncryptor>;
  #encryptor: EnvelopeEncryptor | undefined;

  constructor(keys: KeySource, context: EncryptionContext, opts: EncryptOptions = {}) {
    super();
    // Argument errors are thrown here, synchronously, before any stream exists.
    const contextBytes = serializeContext(context);
    const { frameSize, plaintextLength } = checkOptions(opts);
    const manager = toMaterialsManager(keys);
    this.#create = async () => new EnvelopeEncryptor(await prepare(manager, context, contextBytes, frameSize, plaintextLength), frameSize, plaintextLength);
  }

  /** The encryptor is made on the first write (or at end for an empty message), not before. */
  async #materials(): Promise<EnvelopeEncryptor> {
    if (this.#encryptor) return this.#encryptor;
    this.#ready ??= this.#create();
    const e = await this.#ready;
    if (!this.#encryptor) {
      this.#encryptor = e;
      this.push(e.header);
    }
    return e;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.#encryptor) {
      callback(this.#absorb(this.#encryptor, chunk));
      return;
    }
    this.#materials().then(
      (e) => callback(this.#absorb(e, chunk)),
      (e: unknown) => callback(e as Error),
    );
  }

  #absorb(e: EnvelopeEncryptor, chunk: Buffer): Error | null {
    try {
      const out = e.update(chunk);
      for (let i = 0; i < out.length; i++) this.push(out[i]);
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  override _flush(callback: TransformCallback): void {
    this.#materials().then(
      (e) => {
        try {
          for (const b of e.final()) this.push(b);
          callback();
        } catch (err) {
          callback(err as Error);
        }
      },
      (err: unknown) => callback(err as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#encryptor?.destroy();
    // A destroy while materials are still in flight: zero the key once they arrive.
    if (!this.#encryptor && this.#ready) this.#ready.then((e) => e.destroy(), () => {});
    callback(error);
  }
}

/** A Transform that encrypts what is written to it into one envelope. */
export function encryptStream(keys: KeySource, context: EncryptionContext, opts: EncryptOptions = {}): EnvelopeEncryptStream {
  return new EnvelopeEncryptStream(keys, context, opts);
}

/**
 * The one-shot path feeds the encryptor 64 KiB views of the plaintext: cipher output buffers of
 * that size stay below the allocator's mmap threshold and in cache, which measured faster than one
 * update per frame.
 */
const ONE_SHOT_PIECE = 65536;

/** Encrypts `plaintext` into one envelope (the cache sees its exact length). */
export async function encrypt(keys: KeySource, context: EncryptionContext, plaintext: Uint8Array, opts: Omit<EncryptOptions, 'plaintextLength'> = {}): Promise<Buffer> {
  if (!(plaintext instanceof Uint8Array)) throw new EnvelopeInvalidArgumentError('plaintext must be a Uint8Array');
  const e = await createEncryptor(keys, context, { frameSize: opts.frameSize, plaintextLength: plaintext.length });
  try {
    const out: Buffer[] = [e.header];
    for (let o = 0; o < plaintext.length; o += ONE_SHOT_PIECE) out.push(...e.update(plaintext.subarray(o, o + ONE_SHOT_PIECE)));
    out.push(...e.final());
    return Buffer.concat(out);
  } catch (err) {
    if (err instanceof EnvelopeError) throw err;
    throw new EnvelopeInvalidArgumentError('encryption failed', { cause: err });
  } finally {
    e.destroy();
  }
}
