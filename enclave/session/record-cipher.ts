// Sealing and opening DATA records with strict sequence numbers (see protocol.ts).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { EnclaveInvalidArgumentError, SessionError } from '../errors.ts';
import { MAX_PAYLOAD } from './protocol.ts';

export class RecordCipher {
  readonly #key: Buffer;
  readonly #sessionId: Buffer;
  readonly #direction: number;
  #seq = 0n;

  constructor(key: Buffer, sessionId: Buffer, direction: number) {
    this.#key = key;
    this.#sessionId = sessionId;
    this.#direction = direction;
  }

  #ivAad(seq: bigint): { iv: Buffer; aad: Buffer } {
    const iv = Buffer.alloc(12);
    iv.writeBigUInt64BE(seq, 4);
    const aad = Buffer.alloc(32 + 1 + 8);
    this.#sessionId.copy(aad, 0);
    aad[32] = this.#direction;
    aad.writeBigUInt64BE(seq, 33);
    return { iv, aad };
  }

  seal(plaintext: Uint8Array): Buffer {
    // Checked before a sequence number is spent; a larger record would be refused by the peer's
    // reader and end the session.
    if (!(plaintext instanceof Uint8Array)) throw new EnclaveInvalidArgumentError('a session payload must be a Uint8Array');
    if (plaintext.length > MAX_PAYLOAD) throw new EnclaveInvalidArgumentError(`a session payload is at most ${MAX_PAYLOAD} bytes, got ${plaintext.length}`);
    const seq = this.#seq++;
    const { iv, aad } = this.#ivAad(seq);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(aad);
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE(seq);
    return Buffer.concat([head, c.update(plaintext), c.final(), c.getAuthTag()]);
  }

  open(record: Buffer): Buffer {
    if (record.length < 8 + 16) throw new SessionError('ERR_SESSION_PROTOCOL', 'DATA record too short');
    const seq = record.readBigUInt64BE(0);
    if (seq < this.#seq) throw new SessionError('ERR_SESSION_REPLAY', `record ${seq} was already received`);
    if (seq > this.#seq) throw new SessionError('ERR_SESSION_OUT_OF_ORDER', `expected record ${this.#seq}, got ${seq}`);
    const { iv, aad } = this.#ivAad(seq);
    const d = createDecipheriv('aes-256-gcm', this.#key, iv);
    d.setAAD(aad);
    d.setAuthTag(record.subarray(record.length - 16));
    try {
      const out = Buffer.concat([d.update(record.subarray(8, record.length - 16)), d.final()]);
      this.#seq++;
      return out;
    } catch (cause) {
      throw new SessionError('ERR_SESSION_AUTH', 'record authentication failed', { cause });
    }
  }
}
