// Attested sessions: the wire protocol shared by the enclave (server) and its clients. A client
// sends a fresh nonce and an ephemeral ECDH P-384 public key; the enclave answers with an
// attestation document whose `nonce` is that nonce and whose `public_key` is its own ephemeral
// P-384 key (SPKI DER), and `user_data` is SHA-384 of the client's hello, binding the two halves.
// Both derive, with HKDF-SHA384 over the ECDH secret and the transcript, one AES-256-GCM key per
// direction. Every record carries a sequence number that must be exactly the next one: replayed,
// reordered, dropped or cross-session records fail. The host in between carries ciphertext only.
//
// Framing: u32 big-endian length, then the record. Records:
//   0x01 HELLO     : version u8 (1) ‖ nonce (32) ‖ client SPKI (DER)
//   0x02 ATTEST    : attestation document (COSE_Sign1)
//   0x03 DATA      : seq u64 ‖ AES-256-GCM(ciphertext ‖ tag 16); IV = 4 zero bytes ‖ seq,
//                    AAD = session id (32) ‖ direction byte ‖ seq
//   0x04 ERROR     : UTF-8 reason (plaintext; sent before a session exists)
import { createHash, generateKeyPair, hkdfSync, type KeyObject } from 'node:crypto';
import { SessionError } from '../errors.ts';

export const SESSION_VERSION = 1;
export const NONCE_LENGTH = 32;
export const MAX_RECORD = 16 << 20;
/** The largest payload one DATA record carries: the record less its type byte, seq and GCM tag. */
export const MAX_PAYLOAD = MAX_RECORD - 1 - 8 - 16;
export const RECORD = { HELLO: 0x01, ATTEST: 0x02, DATA: 0x03, ERROR: 0x04 } as const;
/** Direction bytes in the AAD: a record cannot be reflected back to its sender. */
export const DIR = { CLIENT_TO_ENCLAVE: 0x43, ENCLAVE_TO_CLIENT: 0x45 } as const;

export function frame(type: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt32BE(body.length + 1, 0);
  out[4] = type;
  out.set(body, 5);
  return out;
}

/**
 * Splits a byte stream into records; refuses oversize or empty ones. Chunks are kept as a list and
 * joined once per complete record, so a 16 MiB record arriving in 64 KiB chunks is copied once,
 * not once per chunk.
 */
export class RecordReader {
  #chunks: Buffer[] = [];
  #have = 0;
  /** Bytes of the record being read (length field included), once its length field is in. */
  #need = 0;

  push(chunk: Buffer): { type: number; body: Buffer }[] {
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    const out: { type: number; body: Buffer }[] = [];
    for (;;) {
      if (this.#need === 0) {
        if (this.#have < 4) break;
        if (this.#chunks[0]!.length < 4) this.#chunks = [Buffer.concat(this.#chunks, this.#have)];
        const len = this.#chunks[0]!.readUInt32BE(0);
        if (len < 1 || len > MAX_RECORD) throw new SessionError('ERR_SESSION_PROTOCOL', `record length ${len} out of range`);
        this.#need = 4 + len;
      }
      if (this.#have < this.#need) break;
      const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#have);
      out.push({ type: buf[4]!, body: buf.subarray(5, this.#need) });
      const rest = buf.subarray(this.#need);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#have = rest.length;
      this.#need = 0;
    }
    return out;
  }
}

export interface SessionKeys {
  readonly sessionId: Buffer;
  readonly clientToEnclave: Buffer;
  readonly enclaveToClient: Buffer;
}

/** HKDF-SHA384 over the ECDH secret; the transcript (hello ‖ document) is the salt and names the session. */
export function deriveKeys(secret: Buffer, hello: Uint8Array, document: Uint8Array): SessionKeys {
  const transcript = createHash('sha384').update(hello).update(document).digest();
  const okm = Buffer.from(hkdfSync('sha384', secret, transcript, 'nitro-sandbox attested session v1', 96));
  return {
    sessionId: okm.subarray(0, 32),
    clientToEnclave: okm.subarray(32, 64),
    enclaveToClient: okm.subarray(64, 96),
  };
}

export function helloDigest(hello: Uint8Array): Buffer {
  return createHash('sha384').update(hello).digest();
}

/**
 * A fresh ECDH P-384 key pair for one session, made on libuv's thread pool: the enclave makes one
 * per client hello, and a synchronous keygen would stall every other session meanwhile.
 */
export function ephemeralKeyPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'P-384' }, (err, publicKey, privateKey) => (err ? reject(err) : resolve({ publicKey, privateKey })));
  });
}
