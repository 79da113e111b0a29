// Decryption: `decryptStream` (a node Transform: envelope in, plaintext out) and `decrypt` (bytes
// in). Order of checks: header structure (ERR_ENVELOPE_BAD_HEADER, as soon as the bytes present are
// wrong) → the caller's expected context (ERR_ENVELOPE_CONTEXT_MISMATCH, before any key service is
// asked) → the data key from the key source (ERR_ENVELOPE_DATA_KEY, or ERR_ENVELOPE_TAMPERED when it
// proves the encrypted key inauthentic) → key commitment and header tag (ERR_ENVELOPE_TAMPERED) →
// each frame's sequence number, IV and tag, before any of its plaintext is released
// (ERR_ENVELOPE_TAMPERED) → the end: no final frame (ERR_ENVELOPE_TRUNCATED), bytes after it
// (ERR_ENVELOPE_TRAILING_DATA).
import { Transform, type TransformCallback } from 'node:stream';
import { contextContains, contextEquals, type EncryptionContext } from './context.ts';
import { EnvelopeContextMismatchError, EnvelopeDataKeyError, EnvelopeError, EnvelopeInvalidArgumentError, EnvelopeTruncatedError } from './errors.ts';
import { FrameDecoder } from './frames.ts';
import { DATA_KEY_LENGTH, DEFAULT_HEADER_LIMITS, openHeader, parseHeader, scanHeader, type EncryptedDataKey, type EnvelopeHeader, type HeaderLimits } from './format.ts';
import { askManager, toMaterialsManager, type KeySource, type MaterialsManager } from './provider.ts';

export interface DecryptOptions extends Partial<HeaderLimits> {
  /** Refuse envelopes whose encryption context is not this one (see `contextMatch`). */
  readonly expectedContext?: EncryptionContext;
  /**
   * `exact` (default): the envelope's context must equal `expectedContext`. `subset`: it must
   * contain every entry of `expectedContext` (the ESDK's "required encryption context").
   */
  readonly contextMatch?: 'exact' | 'subset';
}

/** What the header says, for callers (the context to act on, which key, the framing). */
export interface EnvelopeInfo {
  readonly version: number;
  readonly suiteId: number;
  readonly frameSize: number;
  readonly messageId: Uint8Array;
  readonly context: EncryptionContext;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly headerLength: number;
}

function info(h: EnvelopeHeader): EnvelopeInfo {
  return Object.freeze({
    version: h.version,
    suiteId: h.suiteId,
    frameSize: h.frameSize,
    messageId: h.messageId,
    context: h.context,
    encryptedDataKeys: h.encryptedDataKeys,
    headerLength: h.length,
  });
}

interface Settings {
  readonly limits: HeaderLimits;
  readonly expected: EncryptionContext | undefined;
  readonly subset: boolean;
}

function settings(opts: DecryptOptions): Settings {
  const limits: HeaderLimits = {
    maxHeaderBytes: opts.maxHeaderBytes ?? DEFAULT_HEADER_LIMITS.maxHeaderBytes,
    maxFrameSize: opts.maxFrameSize ?? DEFAULT_HEADER_LIMITS.maxFrameSize,
    maxEncryptedDataKeys: opts.maxEncryptedDataKeys ?? DEFAULT_HEADER_LIMITS.maxEncryptedDataKeys,
  };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new EnvelopeInvalidArgumentError(`${k} must be a positive integer`);
  }
  if (opts.contextMatch !== undefined && opts.contextMatch !== 'exact' && opts.contextMatch !== 'subset') {
    throw new EnvelopeInvalidArgumentError('contextMatch must be "exact" or "subset"');
  }
  return { limits, expected: opts.expectedContext, subset: opts.contextMatch === 'subset' };
}

function checkContext(s: Settings, context: EncryptionContext): void {
  if (s.expected === undefined) return;
  const ok = s.subset ? contextContains(context, s.expected) : contextEquals(context, s.expected);
  if (!ok) throw new EnvelopeContextMismatchError('the envelope was not encrypted under the expected encryption context');
}

async function openWith(manager: MaterialsManager, header: EnvelopeHeader): Promise<FrameDecoder> {
  const dataKey = await askManager(() => manager.decryptionKey(header.encryptedDataKeys, header.context), 'the materials manager could not decrypt the data key');
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_LENGTH) throw new EnvelopeDataKeyError(`the materials manager returned no ${DATA_KEY_LENGTH}-byte data key`);
  try {
    const { contentKey, digest } = openHeader(header, dataKey);
    return new FrameDecoder(contentKey, digest, header.messageId, header.frameSize);
  } finally {
    dataKey.fill(0);
  }
}

export class EnvelopeDecryptStream extends Transform {
  readonly #manager: MaterialsManager;
  readonly #settings: Settings;
  #headerBuffer = Buffer.alloc(0);
  #headerLength = 0;
  #need = 0;
  #header: EnvelopeHeader | undefined;
  #decoder: FrameDecoder | undefined;
  readonly #emit = (pieces: Buffer[]) => {
    for (const p of pieces) this.push(p);
  };

  constructor(keys: KeySource, opts: DecryptOptions = {}) {
    super();
    this.#manager = toMaterialsManager(keys);
    this.#settings = settings(opts);
  }

  /**
   * Collects header bytes. The scan says how many bytes it needs before it can say more; only that
   * many are copied before it looks again, so a header dribbled in tiny chunks costs no more than
   * one that arrives whole, and the bytes after the header are never copied.
   */
  #takeHeader(chunk: Buffer): { header: EnvelopeHeader; rest: Buffer } | undefined {
    const limits = this.#settings.limits;
    if (this.#headerLength === 0) {
      const scan = scanHeader(chunk, limits);
      if ('length' in scan) return { header: parseHeader(chunk, limits) as EnvelopeHeader, rest: chunk.subarray(scan.length) };
      this.#need = scan.need;
    }
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, this.#need - this.#headerLength);
      this.#append(chunk.subarray(off, off + take));
      off += take;
      if (this.#headerLength < this.#need) break;
      const bytes = this.#headerBuffer.subarray(0, this.#headerLength);
      const scan = scanHeader(bytes, limits);
      // `need` only ever asks for bytes up to the end of the header, so a complete header is exactly `bytes`.
      if ('length' in scan) return { header: parseHeader(bytes, limits) as EnvelopeHeader, rest: chunk.subarray(off) };
      this.#need = scan.need;
    }
    return undefined;
  }

  #append(chunk: Buffer): void {
    const end = this.#headerLength + chunk.length;
    if (end > this.#headerBuffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(end, 2 * this.#headerBuffer.length, 256));
      this.#headerBuffer.copy(grown, 0, 0, this.#headerLength);
      this.#headerBuffer = grown;
    }
    chunk.copy(this.#headerBuffer, this.#headerLength);
    this.#headerLength = end;
  }

  /** The header once it has been authenticated (also emitted as the `header` event), before any plaintext. */
  get header(): EnvelopeInfo | undefined {
    return this.#header && info(this.#header);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.#decoder) {
        this.#decoder.write(chunk, this.#emit);
        callback();
        return;
      }
      const found = this.#takeHeader(chunk);
      if (!found) {
        callback();
        return;
      }
      const { header, rest } = found;
      this.#headerBuffer = Buffer.alloc(0);
      checkContext(this.#settings, header.context);
      openWith(this.#manager, header).then(
        (decoder) => {
          if (this.destroyed) {
            decoder.destroy();
            return;
          }
          this.#decoder = decoder;
          // Only now is the header authenticated (commitment and tag): show it to callers.
          this.#header = header;
          this.emit('header', info(header));
          try {
            if (rest.length > 0) decoder.write(rest, this.#emit);
            callback();
          } catch (e) {
            callback(e as Error);
          }
        },
        (e: unknown) => callback(e as Error),
      );
    } catch (e) {
      callback(e as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.#decoder) throw new EnvelopeTruncatedError({ cause: new Error('the input ends inside the header') });
      this.#decoder.end();
      callback();
    } catch (e) {
      callback(e as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#decoder?.destroy();
    callback(error);
  }
}

/** A Transform that decrypts one envelope written to it; plaintext is released frame by frame. */
export function decryptStream(keys: KeySource, opts: DecryptOptions = {}): EnvelopeDecryptStream {
  return new EnvelopeDecryptStream(keys, opts);
}

export interface Decrypted {
  readonly plaintext: Buffer;
  readonly context: EncryptionContext;
  readonly header: EnvelopeInfo;
}

/** Decrypts one whole envelope held in memory. */
export async function decrypt(keys: KeySource, envelope: Uint8Array, opts: DecryptOptions = {}): Promise<Decrypted> {
  if (!(envelope instanceof Uint8Array)) throw new EnvelopeInvalidArgumentError('envelope must be a Uint8Array');
  const manager = toMaterialsManager(keys);
  const s = settings(opts);
  const bytes = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  const header = parseHeader(bytes, s.limits);
  if (!header) throw new EnvelopeTruncatedError({ cause: new Error('the input ends inside the header') });
  checkContext(s, header.context);
  const decoder = await openWith(manager, header);
  const out: Buffer[] = [];
  try {
    decoder.write(bytes.subarray(header.length), (pieces) => out.push(...pieces));
    decoder.end();
  } catch (e) {
    for (const p of out) p.fill(0);
    decoder.destroy();
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeInvalidArgumentError('decryption failed', { cause: e });
  }
  return { plaintext: Buffer.concat(out), context: header.context, header: info(header) };
}
