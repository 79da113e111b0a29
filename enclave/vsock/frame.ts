// Frame layout of the channel (see PROTOCOL.md): a 9-byte header `type u8 | id u32be | length u32be`
// followed by `length` payload bytes. Written by hand because the format is nine bytes of header and
// the decoder has to stream DATA payloads without reassembling them, which no framing library does.
import { MalformedFrameError } from './errors.ts';

export const HEADER_SIZE = 9;

export const FrameType = Object.freeze({
  OPEN: 0x01,
  ACCEPT: 0x02,
  REFUSE: 0x03,
  DATA: 0x04,
  CREDIT: 0x05,
  FIN: 0x06,
  RESET: 0x07,
  NSM_REQUEST: 0x08,
  NSM_RESPONSE: 0x09,
  NSM_ERROR: 0x0a,
});
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Largest DATA payload a decoder accepts; senders default to a smaller frame (see channel.ts). */
export const MAX_DATA_PAYLOAD = 1 << 20;
/** Linux `include/uapi/linux/nsm.h`: NSM_REQUEST_MAX_SIZE 0x1000, NSM_RESPONSE_MAX_SIZE 0x3000. */
export const NSM_REQUEST_MAX_SIZE = 0x1000;
export const NSM_RESPONSE_MAX_SIZE = 0x3000;
export const MAX_U32 = 0xffff_ffff;

export const NsmErrorReason = Object.freeze({ NO_HANDLER: 1, FAILED: 2 });

const NAMES: Record<number, string> = {
  [FrameType.OPEN]: 'OPEN',
  [FrameType.ACCEPT]: 'ACCEPT',
  [FrameType.REFUSE]: 'REFUSE',
  [FrameType.DATA]: 'DATA',
  [FrameType.CREDIT]: 'CREDIT',
  [FrameType.FIN]: 'FIN',
  [FrameType.RESET]: 'RESET',
  [FrameType.NSM_REQUEST]: 'NSM_REQUEST',
  [FrameType.NSM_RESPONSE]: 'NSM_RESPONSE',
  [FrameType.NSM_ERROR]: 'NSM_ERROR',
};

export function frameTypeName(type: number): string {
  return NAMES[type] ?? `0x${type.toString(16).padStart(2, '0')}`;
}

/**
 * Checks what can be checked from the header alone, so a hostile length is refused before a single
 * payload byte is buffered. Returns nothing; throws MalformedFrameError.
 */
export function checkHeader(type: number, id: number, length: number): void {
  if (id === 0) throw new MalformedFrameError(`${frameTypeName(type)} frame with id 0`);
  let ok: boolean;
  switch (type) {
    case FrameType.OPEN:
      ok = length === 12;
      break;
    case FrameType.ACCEPT:
    case FrameType.CREDIT:
      ok = length === 4;
      break;
    case FrameType.REFUSE:
    case FrameType.FIN:
    case FrameType.RESET:
      ok = length === 0;
      break;
    case FrameType.DATA:
      ok = length >= 1 && length <= MAX_DATA_PAYLOAD;
      break;
    case FrameType.NSM_REQUEST:
      ok = length >= 1 && length <= NSM_REQUEST_MAX_SIZE;
      break;
    case FrameType.NSM_RESPONSE:
      ok = length >= 1 && length <= NSM_RESPONSE_MAX_SIZE;
      break;
    case FrameType.NSM_ERROR:
      ok = length === 1;
      break;
    default:
      throw new MalformedFrameError(`unknown frame type ${frameTypeName(type)}`);
  }
  if (!ok) throw new MalformedFrameError(`${frameTypeName(type)} frame with invalid length ${length}`);
}

/** Receives decoded frames. Control payloads are complete; DATA payloads arrive in order, in pieces. */
export interface FrameSink {
  onControl(type: number, id: number, payload: Buffer): void;
  onData(id: number, piece: Buffer, frameEnd: boolean): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Streaming decoder. DATA payloads are handed on as soon as bytes arrive (no reassembly, so a 1 MiB
 * frame costs no extra memory); control payloads are at most NSM_RESPONSE_MAX_SIZE and are
 * reassembled. After a malformed frame the decoder stays failed: every later push throws the same error.
 */
export class FrameDecoder {
  readonly #sink: FrameSink;
  readonly #hdr = Buffer.alloc(HEADER_SIZE);
  #hdrFill = 0;
  #inBody = false;
  #type = 0;
  #id = 0;
  #remaining = 0;
  #body: Buffer | null = null;
  #bodyFill = 0;
  #failed: MalformedFrameError | null = null;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** True when no partial frame is pending (the stream may end here cleanly). */
  get idle(): boolean {
    return !this.#inBody && this.#hdrFill === 0;
  }

  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failed;
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      if (!this.#inBody) {
        let type: number;
        let id: number;
        let length: number;
        if (this.#hdrFill === 0 && n - off >= HEADER_SIZE) {
          type = chunk[off]!;
          id = chunk.readUInt32BE(off + 1);
          length = chunk.readUInt32BE(off + 5);
          off += HEADER_SIZE;
        } else {
          const take = Math.min(HEADER_SIZE - this.#hdrFill, n - off);
          chunk.copy(this.#hdr, this.#hdrFill, off, off + take);
          this.#hdrFill += take;
          off += take;
          if (this.#hdrFill < HEADER_SIZE) return;
          this.#hdrFill = 0;
          type = this.#hdr[0]!;
          id = this.#hdr.readUInt32BE(1);
          length = this.#hdr.readUInt32BE(5);
        }
        try {
          checkHeader(type, id, length);
        } catch (err) {
          this.#failed = err as MalformedFrameError;
          throw err;
        }
        if (length === 0) {
          this.#sink.onControl(type, id, EMPTY);
          continue;
        }
        this.#type = type;
        this.#id = id;
        if (type !== FrameType.DATA && n - off >= length) {
          // Whole control payload in this chunk: hand on a view, no copy.
          const payload = chunk.subarray(off, off + length);
          off += length;
          this.#sink.onControl(type, id, payload);
          continue;
        }
        this.#inBody = true;
        this.#remaining = length;
        if (type !== FrameType.DATA) {
          this.#body = Buffer.allocUnsafe(length);
          this.#bodyFill = 0;
        }
      } else if (this.#type === FrameType.DATA) {
        const take = Math.min(this.#remaining, n - off);
        this.#remaining -= take;
        const end = this.#remaining === 0;
        if (end) this.#inBody = false;
        const piece = chunk.subarray(off, off + take);
        off += take;
        this.#sink.onData(this.#id, piece, end);
      } else {
        const body = this.#body!;
        const take = Math.min(this.#remaining, n - off);
        chunk.copy(body, this.#bodyFill, off, off + take);
        this.#bodyFill += take;
        this.#remaining -= take;
        off += take;
        if (this.#remaining === 0) {
          this.#inBody = false;
          this.#body = null;
          this.#sink.onControl(this.#type, this.#id, body);
        }
      }
    }
  }
}

// Encoders. Each returns one buffer (header and payload together) except DATA, whose payload is the
// caller's bytes and travels as a second buffer so bulk data is never copied.

function header(type: number, id: number, length: number, extra = 0): Buffer {
  // allocUnsafe draws small buffers from Node's shared pool: no per-frame allocation of its own.
  const b = Buffer.allocUnsafe(HEADER_SIZE + extra);
  b[0] = type;
  b.writeUInt32BE(id, 1);
  b.writeUInt32BE(length, 5);
  return b;
}

export function encodeOpen(id: number, dstPort: number, srcPort: number, window: number): Buffer {
  const b = header(FrameType.OPEN, id, 12, 12);
  b.writeUInt32BE(dstPort, 9);
  b.writeUInt32BE(srcPort, 13);
  b.writeUInt32BE(window, 17);
  return b;
}

export function encodeAccept(id: number, window: number): Buffer {
  const b = header(FrameType.ACCEPT, id, 4, 4);
  b.writeUInt32BE(window, 9);
  return b;
}

export function encodeCredit(id: number, increment: number): Buffer {
  const b = header(FrameType.CREDIT, id, 4, 4);
  b.writeUInt32BE(increment, 9);
  return b;
}

export function encodeEmpty(type: number, id: number): Buffer {
  return header(type, id, 0);
}

export function encodeDataHeader(id: number, length: number): Buffer {
  return header(FrameType.DATA, id, length);
}

/** DATA frame whose payload is copied behind the header: cheaper than two buffers for small payloads. */
export function encodeDataSmall(id: number, payload: Uint8Array): Buffer {
  const b = header(FrameType.DATA, id, payload.length, payload.length);
  b.set(payload, HEADER_SIZE);
  return b;
}

export function encodeWithPayload(type: number, id: number, payload: Uint8Array): Buffer {
  const b = header(type, id, payload.length, payload.length);
  b.set(payload, HEADER_SIZE);
  return b;
}
