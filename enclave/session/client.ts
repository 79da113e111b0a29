// The client side of attested sessions: over any byte stream that reaches the enclave (the host
// relays it), send a hello, verify the enclave's document (chain, expected PCRs, this nonce, age,
// the binding of its session key), and exchange encrypted requests and responses.
import { createPublicKey, diffieHellman, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { equalBytes, verifyAttestation, type AttestationDocument, type VerifyOptions } from '../../attestation/index.ts';
import { DIR, NONCE_LENGTH, RECORD, RecordReader, SESSION_VERSION, deriveKeys, ephemeralKeyPair, frame, helloDigest } from './protocol.ts';
import { RecordCipher } from './record-cipher.ts';
import { SessionError } from '../errors.ts';

export interface SessionOptions extends Omit<VerifyOptions, 'expectedNonce'> {
  /** Give up waiting for the enclave's document after this long (default 10 s). */
  readonly timeoutMs?: number;
}

export class AttestedSession {
  readonly document: AttestationDocument;
  /** The enclave's document as received (COSE_Sign1 bytes), e.g. for `kms explain` or an audit trail. */
  readonly documentBytes: Uint8Array;
  readonly #stream: Duplex;
  readonly #send: RecordCipher;
  readonly #recv: RecordCipher;
  readonly #reader: RecordReader;
  readonly #waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  #failure: Error | undefined;

  private constructor(stream: Duplex, document: AttestationDocument, bytes: Uint8Array, send: RecordCipher, recv: RecordCipher, reader: RecordReader) {
    this.#stream = stream;
    this.document = document;
    this.documentBytes = bytes;
    this.#send = send;
    this.#recv = recv;
    this.#reader = reader;
    stream.on('data', (c: Buffer) => this.#onData(c));
    // A failing stream is a closed session to the caller; the stream's own error is the cause.
    stream.on('error', (e: Error) => this.#fail(new SessionError('ERR_SESSION_CLOSED', 'the session stream failed', { cause: e })));
    stream.on('end', () => this.#fail(new SessionError('ERR_SESSION_CLOSED', 'the enclave closed the session')));
    stream.on('close', () => this.#fail(new SessionError('ERR_SESSION_CLOSED', 'the session stream closed')));
  }

  /**
   * Opens a session over `stream`: verifies the enclave before any payload is sent. The session
   * owns the stream: when opening fails (refused, wrong PCRs, nonce or binding, timeout), the stream
   * is destroyed, so a connection passed in inline does not leak.
   */
  static async open(stream: Duplex, options: SessionOptions): Promise<AttestedSession> {
    try {
      return await AttestedSession.#handshake(stream, options);
    } catch (e) {
      stream.destroy();
      throw e;
    }
  }

  static async #handshake(stream: Duplex, options: SessionOptions): Promise<AttestedSession> {
    const nonce = randomBytes(NONCE_LENGTH);
    const mine = await ephemeralKeyPair();
    const hello = Buffer.concat([Buffer.from([SESSION_VERSION]), nonce, mine.publicKey.export({ type: 'spki', format: 'der' })]);
    const reader = new RecordReader();
    const document = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => done(new SessionError('ERR_SESSION_TIMEOUT', 'no attestation document from the enclave')), options.timeoutMs ?? 10_000);
      const onData = (c: Buffer): void => {
        try {
          for (const r of reader.push(c)) {
            if (r.type === RECORD.ATTEST) return done(undefined, Buffer.from(r.body));
            if (r.type === RECORD.ERROR) return done(new SessionError('ERR_SESSION_REFUSED', `enclave refused the session: ${r.body.toString('utf8')}`));
            return done(new SessionError('ERR_SESSION_PROTOCOL', `unexpected record ${r.type} before the document`));
          }
        } catch (e) {
          done(e as Error);
        }
      };
      // 'close' as well as 'end': a stream destroyed without an error emits only 'close'.
      const onEnd = (): void => done(new SessionError('ERR_SESSION_CLOSED', 'the stream closed before the document'));
      const onError = (e: Error): void => done(new SessionError('ERR_SESSION_CLOSED', 'the stream failed before the document', { cause: e }));
      const done = (err?: Error, doc?: Buffer): void => {
        clearTimeout(timer);
        stream.off('data', onData);
        stream.off('error', onError);
        stream.off('end', onEnd);
        stream.off('close', onEnd);
        if (err) reject(err);
        else resolve(doc!);
      };
      stream.on('data', onData);
      stream.on('error', onError);
      stream.on('end', onEnd);
      stream.on('close', onEnd);
      stream.write(frame(RECORD.HELLO, hello));
    });
    // The document must be fresh for *this* nonce, from the expected code, and carry the key the
    // session will use, and the digest of our hello: a relay cannot splice in another session.
    const { document: doc } = verifyAttestation(document, { ...options, expectedNonce: nonce });
    if (!doc.userData || !equalBytes(doc.userData, helloDigest(hello))) {
      throw new SessionError('ERR_SESSION_BINDING', 'the document is not bound to this hello');
    }
    if (!doc.publicKey) throw new SessionError('ERR_SESSION_BINDING', 'the document carries no session key');
    let enclaveKey;
    try {
      enclaveKey = createPublicKey({ key: Buffer.from(doc.publicKey), format: 'der', type: 'spki' });
    } catch (cause) {
      throw new SessionError('ERR_SESSION_BINDING', 'the session key is not an SPKI', { cause });
    }
    if (enclaveKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1') throw new SessionError('ERR_SESSION_BINDING', 'the session key is not P-384');
    const keys = deriveKeys(diffieHellman({ privateKey: mine.privateKey, publicKey: enclaveKey }), hello, document);
    const session = new AttestedSession(
      stream,
      doc,
      new Uint8Array(document),
      new RecordCipher(keys.clientToEnclave, keys.sessionId, DIR.CLIENT_TO_ENCLAVE),
      new RecordCipher(keys.enclaveToClient, keys.sessionId, DIR.ENCLAVE_TO_CLIENT),
      reader,
    );
    return session;
  }

  /**
   * Sends one encrypted request; resolves with the enclave's decrypted response. A payload that is
   * not bytes or exceeds one record (MAX_PAYLOAD) is refused with ERR_INVALID_ARGUMENT before
   * anything is sent, and the session stays usable.
   */
  request(payload: Uint8Array): Promise<Buffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    let record: Buffer;
    try {
      // Sealed before a response is awaited: a refused payload must not leave a waiter behind,
      // which the next response would resolve.
      record = frame(RECORD.DATA, this.#send.seal(payload));
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#stream.write(record);
    });
  }

  #onData(c: Buffer): void {
    try {
      for (const r of this.#reader.push(c)) {
        if (r.type !== RECORD.DATA) throw new SessionError('ERR_SESSION_PROTOCOL', `unexpected record ${r.type}`);
        const plain = this.#recv.open(r.body);
        const w = this.#waiting.shift();
        if (!w) throw new SessionError('ERR_SESSION_PROTOCOL', 'a response nobody asked for');
        w.resolve(plain);
      }
    } catch (e) {
      this.#fail(e as Error);
      this.#stream.destroy();
    }
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const w of this.#waiting.splice(0)) w.reject(this.#failure);
  }

  close(): void {
    this.#stream.end();
  }
}
