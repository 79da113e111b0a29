// The enclave side of attested sessions: listen on a vsock port, answer each client's hello with
// an attestation document bound to its nonce and to a fresh session key, then serve encrypted
// requests with `handler`. Uses only the NSM device and node:crypto (it is bundled into apps).
import { createPublicKey, diffieHellman } from 'node:crypto';
import type { VsockConnection } from '../vsock/index.ts';
import { nsmClient } from '../sdk/nsm.ts';
import type { EnclaveServices } from '../services.ts';
import { DIR, NONCE_LENGTH, RECORD, RecordReader, SESSION_VERSION, deriveKeys, ephemeralKeyPair, frame, helloDigest } from './protocol.ts';
import { RecordCipher } from './record-cipher.ts';
import { SessionError } from '../errors.ts';

export type SessionHandler = (request: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export function serveAttestedSessions(ctx: Pick<EnclaveServices, 'vsock' | 'nsm' | 'log'>, port: number, handler: SessionHandler): { close(): void } {
  const nsm = nsmClient(ctx);
  const listener = ctx.vsock.listen(port, (conn) => {
    handle(conn, nsm, handler).catch((e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      ctx.log.warn('attested session ended:', msg);
      conn.destroy();
    });
  });
  return { close: () => listener.close() };
}

async function handle(conn: VsockConnection, nsm: ReturnType<typeof nsmClient>, handler: SessionHandler): Promise<void> {
  const reader = new RecordReader();
  let recv: RecordCipher | undefined;
  let send: RecordCipher | undefined;
  let queue = Promise.resolve();
  let failure: Error | undefined;
  conn.on('error', () => undefined);
  // destroyOnReturn false: a refusal's `conn.end(ERROR)` then `return` must close cleanly (FIN after
  // the record), not reset the stream under the record it just wrote.
  for await (const chunk of conn.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    for (const { type, body } of reader.push(chunk)) {
      if (!recv) {
        if (type !== RECORD.HELLO || body.length < 2 + NONCE_LENGTH || body[0] !== SESSION_VERSION) {
          conn.end(frame(RECORD.ERROR, Buffer.from('expected HELLO v1')));
          return;
        }
        const nonce = body.subarray(1, 1 + NONCE_LENGTH);
        let clientKey;
        try {
          clientKey = createPublicKey({ key: body.subarray(1 + NONCE_LENGTH), format: 'der', type: 'spki' });
        } catch {
          conn.end(frame(RECORD.ERROR, Buffer.from('client key is not an SPKI')));
          return;
        }
        if (clientKey.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
          conn.end(frame(RECORD.ERROR, Buffer.from('client key must be ECDH P-384')));
          return;
        }
        const mine = await ephemeralKeyPair();
        const spki = mine.publicKey.export({ type: 'spki', format: 'der' });
        const document = await nsm.attestation({ nonce, publicKey: spki, userData: helloDigest(body) });
        const keys = deriveKeys(diffieHellman({ privateKey: mine.privateKey, publicKey: clientKey }), body, document);
        recv = new RecordCipher(keys.clientToEnclave, keys.sessionId, DIR.CLIENT_TO_ENCLAVE);
        send = new RecordCipher(keys.enclaveToClient, keys.sessionId, DIR.ENCLAVE_TO_CLIENT);
        conn.write(frame(RECORD.ATTEST, document));
        continue;
      }
      if (type !== RECORD.DATA) throw new SessionError('ERR_SESSION_PROTOCOL', `unexpected record type ${type}`);
      const request = recv.open(body); // throws on replay, reorder, forgery: the session ends
      const s = send!;
      // Answers go out in request order even when the handler is async. A failing handler (or
      // an answer that is not bytes) ends this session only: caught here, it would otherwise be an
      // unhandled rejection, which the bootstrap treats as the whole enclave crashing.
      queue = queue
        .then(async () => {
          if (!failure) conn.write(frame(RECORD.DATA, s.seal(await handler(request))));
        })
        .catch((e: unknown) => {
          failure ??= e instanceof Error ? e : new Error(String(e));
          conn.destroy(failure);
        });
    }
  }
  await queue;
  if (failure) throw failure;
  conn.end();
}
