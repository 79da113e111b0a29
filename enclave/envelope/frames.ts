// The frame layer shared by the streaming and one-shot paths: a synchronous encryptor that turns
// plaintext pieces into frames, and a synchronous decoder state machine that verifies each frame
// before handing out its plaintext (GCM releases plaintext before the tag is checked, so a frame's
// plaintext is held until `final()` succeeds; memory is therefore bounded by one frame).
import { createCipheriv, createDecipheriv, timingSafeEqual, type DecipherGCM } from 'node:crypto';
import { EnvelopeInvalidArgumentError, EnvelopeLimitError, EnvelopeTamperedError, EnvelopeTrailingDataError, EnvelopeTruncatedError } from './errors.ts';
import { FINAL_FRAME_MARKER, frameAad, frameIv, IV_LENGTH, MAX_FRAMES, TAG_LENGTH } from './format.ts';

export class FrameEncryptor {
  readonly #key: Buffer;
  readonly #digest: Buffer;
  readonly #messageId: Uint8Array;
  readonly #frameSize: number;
  #seq = 1;

  constructor(contentKey: Buffer, digest: Buffer, messageId: Uint8Array, frameSize: number) {
    this.#key = contentKey;
    this.#digest = digest;
    this.#messageId = messageId;
    this.#frameSize = frameSize;
  }

  /**
   * Encrypts one frame from `pieces` (together exactly frameSize bytes for a regular frame, 0 …
   * frameSize for the final one) and hands its wire bytes to `emit` as they are made: the head,
   * each ciphertext piece, the tag. Emitting each piece at once, rather than the frame as a list,
   * keeps one output buffer alive at a time for a synchronous consumer (measured equal or slightly
   * faster than returning the list, within this machine's noise).
   */
  frame(pieces: readonly Uint8Array[], length: number, final: boolean, emit: (b: Buffer) => void): void {
    // Precondition: regular frames are exactly frameSize bytes, the final one at most that.
    if (final ? length > this.#frameSize : length !== this.#frameSize) throw new EnvelopeInvalidArgumentError(`a ${final ? 'final' : 'regular'} frame of ${length} bytes with frame size ${this.#frameSize}`);
    const seq = this.#seq;
    if (seq > MAX_FRAMES) throw new EnvelopeLimitError('a message holds at most 2^32 − 2 frames; use a larger frame size');
    this.#seq++;
    const iv = frameIv(seq);
    const c = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_LENGTH });
    c.setAAD(frameAad(this.#digest, this.#messageId, seq, final, length));
    let head: Buffer;
    if (final) {
      head = Buffer.allocUnsafe(4 + 4 + IV_LENGTH + 4);
      head.writeUInt32BE(FINAL_FRAME_MARKER, 0);
      head.writeUInt32BE(seq, 4);
      head.set(iv, 8);
      head.writeUInt32BE(length, 8 + IV_LENGTH);
    } else {
      head = Buffer.allocUnsafe(4 + IV_LENGTH);
      head.writeUInt32BE(seq, 0);
      head.set(iv, 4);
    }
    emit(head);
    for (const p of pieces) if (p.length > 0) emit(c.update(p));
    c.final();
    emit(c.getAuthTag());
  }

  /** Zeroes the content key; the encryptor is unusable afterwards. */
  destroy(): void {
    this.#key.fill(0);
  }
}

/** Decoder states: reading a frame's head, its ciphertext, its tag; done after the final frame. */
const S = { HEAD: 0, BODY: 1, TAG: 2, DONE: 3 } as const;
type State = (typeof S)[keyof typeof S];

/**
 * Verifies and decrypts the frames that follow a header. `write` hands out the plaintext of each
 * frame only after its tag verified, as a list of pieces; `end` refuses a stream that stops before
 * the final frame.
 */
export class FrameDecoder {
  readonly #key: Buffer;
  readonly #digest: Buffer;
  readonly #messageId: Uint8Array;
  readonly #frameSize: number;
  #state: State = S.HEAD;
  #expected = 1;
  readonly #head = Buffer.alloc(4 + 4 + IV_LENGTH + 4);
  #headHave = 0;
  #final = false;
  #remaining = 0;
  #decipher: DecipherGCM | undefined;
  #plain: Buffer[] = [];
  readonly #tag = Buffer.alloc(TAG_LENGTH);
  #tagHave = 0;

  constructor(contentKey: Buffer, digest: Buffer, messageId: Uint8Array, frameSize: number) {
    this.#key = contentKey;
    this.#digest = digest;
    this.#messageId = messageId;
    this.#frameSize = frameSize;
  }

  get done(): boolean {
    return this.#state === S.DONE;
  }

  write(chunk: Buffer, emit: (pieces: Buffer[]) => void): void {
    let o = 0;
    const n = chunk.length;
    while (o < n) {
      switch (this.#state) {
        case S.HEAD: {
          // The first 4 bytes say which head this is: a sequence number or the final marker.
          const want = this.#headHave < 4 ? 4 : this.#final ? 24 : 16;
          const take = Math.min(want - this.#headHave, n - o);
          chunk.copy(this.#head, this.#headHave, o, o + take);
          this.#headHave += take;
          o += take;
          if (this.#headHave === 4) this.#final = this.#head.readUInt32BE(0) === FINAL_FRAME_MARKER;
          if (this.#headHave === (this.#final ? 24 : 16)) this.#startFrame();
          break;
        }
        case S.BODY: {
          const take = Math.min(this.#remaining, n - o);
          this.#plain.push((this.#decipher as DecipherGCM).update(chunk.subarray(o, o + take)));
          this.#remaining -= take;
          o += take;
          if (this.#remaining === 0) this.#state = S.TAG;
          break;
        }
        case S.TAG: {
          const take = Math.min(TAG_LENGTH - this.#tagHave, n - o);
          chunk.copy(this.#tag, this.#tagHave, o, o + take);
          this.#tagHave += take;
          o += take;
          if (this.#tagHave === TAG_LENGTH) emit(this.#finishFrame());
          break;
        }
        default:
          throw new EnvelopeTrailingDataError();
      }
    }
  }

  end(): void {
    if (this.#state !== S.DONE) {
      this.#wipe();
      throw new EnvelopeTruncatedError();
    }
  }

  #startFrame(): void {
    const h = this.#head;
    const seq = this.#final ? h.readUInt32BE(4) : h.readUInt32BE(0);
    const iv = this.#final ? h.subarray(8, 8 + IV_LENGTH) : h.subarray(4, 4 + IV_LENGTH);
    const length = this.#final ? h.readUInt32BE(8 + IV_LENGTH) : this.#frameSize;
    if (seq !== this.#expected || this.#expected > MAX_FRAMES) {
      throw new EnvelopeTamperedError({ cause: new Error(`frame ${seq} where frame ${this.#expected} belongs (reordered, dropped or duplicated)`) });
    }
    const expectedIv = frameIv(seq);
    if (!timingSafeEqual(iv, expectedIv)) throw new EnvelopeTamperedError({ cause: new Error(`frame ${seq} carries the wrong IV`) });
    if (length > this.#frameSize) throw new EnvelopeTamperedError({ cause: new Error(`final frame length ${length} exceeds the frame size`) });
    const d = createDecipheriv('aes-256-gcm', this.#key, expectedIv, { authTagLength: TAG_LENGTH }) as DecipherGCM;
    d.setAAD(frameAad(this.#digest, this.#messageId, seq, this.#final, length));
    this.#decipher = d;
    this.#remaining = length;
    this.#state = length === 0 ? S.TAG : S.BODY;
  }

  #finishFrame(): Buffer[] {
    const d = this.#decipher as DecipherGCM;
    d.setAuthTag(this.#tag);
    try {
      d.final();
    } catch (e) {
      this.#wipe();
      throw new EnvelopeTamperedError({ cause: new Error(`frame ${this.#expected} does not authenticate`, { cause: e }) });
    }
    const plain = this.#plain;
    this.#plain = [];
    this.#decipher = undefined;
    this.#headHave = 0;
    this.#tagHave = 0;
    if (this.#final) {
      this.#state = S.DONE;
      this.#key.fill(0);
    } else {
      this.#state = S.HEAD;
      this.#expected++;
    }
    this.#final = false;
    return plain;
  }

  /** Drops unverified plaintext and the key after a failure. */
  #wipe(): void {
    for (const p of this.#plain) p.fill(0);
    this.#plain = [];
    this.#key.fill(0);
  }

  destroy(): void {
    this.#wipe();
  }
}
