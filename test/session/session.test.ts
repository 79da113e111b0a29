// Attested sessions end to end: a client verifies the enclave and talks to it through a relay the
// test controls (standing in for the untrusted host), which replays, reorders, splices and reads.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { duplexPair, type Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measure } from '../../attestation/index.ts';
import { EnclaveError, buildImage, readAll } from '../../enclave/index.ts';
import { AttestedSession, SessionError } from '../../enclave/session/index.ts';
import { RecordCipher } from '../../enclave/session/record-cipher.ts';
import { DIR, MAX_PAYLOAD, RECORD, RecordReader, frame } from '../../enclave/session/protocol.ts';
import { Host, type RunResult } from '../../host/index.ts';
import { tempDir } from '../attestation/fixtures.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = tempDir();
let host: Host;
let enclave: RunResult;
let pcrs: { 0: Uint8Array; 1: Uint8Array; 2: Uint8Array };

beforeAll(async () => {
  host = await Host.start({ dataDir: dir.path });
  const { image, measurements } = await buildImage({ entry: join(root, 'examples/sensitive-payload/main.ts') });
  pcrs = { 0: measurements.pcr0, 1: measurements.pcr1, 2: measurements.pcr2 };
  enclave = await host.runEnclave(image, { memoryMiB: 256 });
});
afterAll(async () => {
  await host?.stop();
  dir.cleanup();
});

type Hook = (dir: 'up' | 'down', type: number, record: Buffer, send: (b: Buffer) => void) => void;

/** A relay between the client and the enclave that sees every record and may alter the flow. */
async function relay(hook: Hook = (_d, _t, r, send) => send(r)): Promise<{ client: Duplex; seen: Buffer[] }> {
  const [client, inner] = duplexPair();
  const enclaveConn = await host.connect(enclave.EnclaveCID, 5007);
  const seen: Buffer[] = [];
  const wire = (from: Duplex, to: Duplex, dir: 'up' | 'down'): void => {
    const reader = new RecordReader();
    from.on('data', (c: Buffer) => {
      seen.push(Buffer.from(c));
      for (const r of reader.push(c)) hook(dir, r.type, frame(r.type, r.body), (b) => to.write(b));
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
  };
  wire(inner, enclaveConn, 'up');
  wire(enclaveConn, inner, 'down');
  enclaveConn.on('error', () => inner.destroy());
  enclaveConn.on('close', () => inner.destroy());
  return { client, seen };
}

const code = (c: string) => expect.objectContaining({ code: c });
const opts = () => ({ trustAnchors: [host.authority.rootCertificate], expectedPcrs: pcrs, maxAgeMs: 60_000 });

describe('attested session', () => {
  it('verifies the enclave, processes the payload, and the relay sees ciphertext only', async () => {
    const { client, seen } = await relay();
    const s = await AttestedSession.open(client, opts());
    expect(s.document.moduleId).toBe(enclave.EnclaveID);
    const secret = 'card 4111 1111 1111 1111 belongs to alice@example.com';
    const out = JSON.parse((await s.request(new TextEncoder().encode(secret))).toString('utf8'));
    expect(out).toEqual({ text: 'card [number] belongs to [email]', emails: 1, numbers: 1 });
    const second = JSON.parse((await s.request(new TextEncoder().encode('bob@example.org'))).toString('utf8'));
    expect(second.emails).toBe(1);
    const wire = Buffer.concat(seen);
    // Whole phrases, not '4111' alone: the handshake carries hex text (the enclave's id in the
    // attestation document), in which four hex digits turn up by chance (CI once found '4111').
    for (const marker of ['4111 1111 1111 1111', 'alice@example.com', 'belongs', '[email]', 'bob@example.org']) {
      expect(wire.includes(marker), marker).toBe(false);
    }
    s.close();
  });

  it('refuses an enclave whose PCRs differ from the expected ones (ERR_PCR_MISMATCH)', async () => {
    const { client } = await relay();
    await expect(AttestedSession.open(client, { ...opts(), expectedPcrs: { ...pcrs, 2: measure(new Uint8Array([1])) } })).rejects.toMatchObject({ code: 'ERR_PCR_MISMATCH' });
    // The session owned the stream: a failed open does not leave the connection behind.
    expect(client.destroyed).toBe(true);
  });

  it("refuses a document replayed from another session: wrong nonce (ERR_NONCE_MISMATCH)", async () => {
    // Capture a genuine document from a first session…
    let old: Buffer | undefined;
    const first = await relay((d, t, r, send) => {
      if (d === 'down' && t === RECORD.ATTEST) old = r;
      send(r);
    });
    (await AttestedSession.open(first.client, opts())).close();
    // …and hand it to the next client in place of the fresh one.
    const second = await relay((d, t, r, send) => send(d === 'down' && t === RECORD.ATTEST ? old! : r));
    await expect(AttestedSession.open(second.client, opts())).rejects.toMatchObject({ code: 'ERR_NONCE_MISMATCH' });
  });

  it('refuses a replayed response (ERR_SESSION_REPLAY)', async () => {
    const { client } = await relay((d, t, r, send) => {
      send(r);
      if (d === 'down' && t === RECORD.DATA) send(r); // every response twice
    });
    const s = await AttestedSession.open(client, opts());
    const first = s.request(new TextEncoder().encode('one'));
    const second = s.request(new TextEncoder().encode('two'));
    await expect(first).resolves.toBeInstanceOf(Buffer);
    await expect(second).rejects.toMatchObject({ code: 'ERR_SESSION_REPLAY' });
  });

  it('refuses reordered responses (ERR_SESSION_OUT_OF_ORDER)', async () => {
    let held: Buffer | undefined;
    const { client } = await relay((d, t, r, send) => {
      if (d === 'down' && t === RECORD.DATA && !held) {
        held = r; // hold response 0, send response 1 first
        return;
      }
      send(r);
      if (held && d === 'down' && t === RECORD.DATA) send(held);
    });
    const s = await AttestedSession.open(client, opts());
    const a = s.request(new TextEncoder().encode('a'));
    const b = s.request(new TextEncoder().encode('b'));
    await expect(a).rejects.toMatchObject({ code: 'ERR_SESSION_OUT_OF_ORDER' });
    await expect(b).rejects.toMatchObject({ code: 'ERR_SESSION_OUT_OF_ORDER' });
  });

  it('refuses a record spliced in from another session (ERR_SESSION_AUTH)', async () => {
    let foreign: Buffer | undefined;
    const a = await relay((d, t, r, send) => {
      if (d === 'down' && t === RECORD.DATA) foreign = r;
      send(r);
    });
    const sa = await AttestedSession.open(a.client, opts());
    await sa.request(new TextEncoder().encode('from session A'));
    const b = await relay((d, t, r, send) => send(d === 'down' && t === RECORD.DATA ? foreign! : r));
    const sb = await AttestedSession.open(b.client, opts());
    await expect(sb.request(new TextEncoder().encode('to session B'))).rejects.toMatchObject({ code: 'ERR_SESSION_AUTH' });
  });

  it('a payload that is not bytes or exceeds one record is refused (ERR_INVALID_ARGUMENT) and the session goes on', async () => {
    const { client } = await relay();
    const s = await AttestedSession.open(client, opts());
    await expect(s.request(42 as unknown as Uint8Array)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(s.request(Buffer.alloc(MAX_PAYLOAD + 1))).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    // Nothing was sent and no response is owed to the refused requests: the next one gets its own.
    const out = JSON.parse((await s.request(new TextEncoder().encode('mail bob@example.org'))).toString('utf8'));
    expect(out).toEqual({ text: 'mail [email]', emails: 1, numbers: 0 });
    s.close();
  });

  it('the enclave ends a session whose client replays a request', async () => {
    const { client } = await relay((d, t, r, send) => {
      send(r);
      if (d === 'up' && t === RECORD.DATA) send(r); // replay every request
    });
    const s = await AttestedSession.open(client, opts());
    // The enclave refuses the replayed record and tears the session down; the client learns it.
    const outcome = await s.request(new TextEncoder().encode('x')).then(
      () => s.request(new TextEncoder().encode('y')),
      (e: unknown) => Promise.reject(e),
    ).catch((e: { code?: string }) => e.code);
    expect(outcome).toBe('ERR_SESSION_CLOSED');
  });
});

describe('a failing handler ends its own session, not the enclave', () => {
  let failing: RunResult;
  let failingPcrs: { 0: Uint8Array; 2: Uint8Array };
  beforeAll(async () => {
    const { image, measurements } = await buildImage({ entry: join(import.meta.dirname, 'failing-handler-app.ts') });
    failingPcrs = { 0: measurements.pcr0, 2: measurements.pcr2 };
    failing = await host.runEnclave(image, { memoryMiB: 256 });
  });
  const open = async () => AttestedSession.open(await host.connect(failing.EnclaveCID, 5007), { ...opts(), expectedPcrs: failingPcrs });
  for (const input of ['throw', 'reject', 'bad answer']) {
    it(`a handler that fails on "${input}": the client learns ERR_SESSION_CLOSED, the next session is served`, async () => {
      const s = await open();
      await expect(s.request(new TextEncoder().encode(input))).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
      const next = await open();
      expect((await next.request(new TextEncoder().encode('still here'))).toString('utf8')).toBe('still here');
      next.close();
    });
  }
});

describe('the client refuses a peer that does not answer a hello with its document', () => {
  /** A fake enclave end: `answer` receives the client's hello and may reply or close. */
  function peer(answer: (stream: Duplex) => void): Duplex {
    const [client, far] = duplexPair();
    far.once('data', () => answer(far));
    return client;
  }

  it('no answer within timeoutMs is ERR_SESSION_TIMEOUT', async () => {
    await expect(AttestedSession.open(peer(() => undefined), { ...opts(), timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_SESSION_TIMEOUT' });
  });
  it('an ERROR record is ERR_SESSION_REFUSED', async () => {
    await expect(AttestedSession.open(peer((f) => f.write(frame(RECORD.ERROR, Buffer.from('no')))), opts())).rejects.toMatchObject({ code: 'ERR_SESSION_REFUSED' });
  });
  it('any other record before the document is ERR_SESSION_PROTOCOL', async () => {
    await expect(AttestedSession.open(peer((f) => f.write(frame(RECORD.DATA, Buffer.alloc(30)))), opts())).rejects.toMatchObject({ code: 'ERR_SESSION_PROTOCOL' });
  });
  it('a stream that ends before the document is ERR_SESSION_CLOSED', async () => {
    await expect(AttestedSession.open(peer((f) => f.end()), opts())).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
  });
  it('a genuine document for this nonce but another hello (relay swapped the client key) is ERR_SESSION_BINDING', async () => {
    const { client } = await relay((d, t, r, send) => {
      if (d !== 'up' || t !== RECORD.HELLO) return send(r);
      // Keep version and nonce, replace the client's SPKI with another P-384 key.
      const hello = r.subarray(5);
      const other = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' }));
      send(frame(RECORD.HELLO, Buffer.concat([hello.subarray(0, 33), other])));
    });
    await expect(AttestedSession.open(client, opts())).rejects.toMatchObject({ code: 'ERR_SESSION_BINDING' });
  });
  it('a stream that fails before the document is ERR_SESSION_CLOSED, the stream error its cause', async () => {
    const [client, far] = duplexPair();
    far.once('data', () => client.destroy(new Error('link down')));
    await expect(AttestedSession.open(client, opts())).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED', cause: expect.objectContaining({ message: 'link down' }) });
  });
  it('a stream destroyed before the document is ERR_SESSION_CLOSED at once, not a timeout', async () => {
    const [client, far] = duplexPair();
    far.once('data', () => client.destroy());
    await expect(AttestedSession.open(client, { ...opts(), timeoutMs: 3000 })).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
  });
  it('a stream that fails during a request is ERR_SESSION_CLOSED, the stream error its cause', async () => {
    // The relay drops the request, so only the failing stream can end the wait.
    const { client } = await relay((d, t, r, send) => (d === 'up' && t === RECORD.DATA ? undefined : send(r)));
    const s = await AttestedSession.open(client, opts());
    const pending = s.request(new TextEncoder().encode('x'));
    client.destroy(new Error('link down'));
    await expect(pending).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED', cause: expect.objectContaining({ message: 'link down' }) });
  });
  it('session errors belong to the enclave error hierarchy', async () => {
    const e = await AttestedSession.open(peer((f) => f.end()), opts()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SessionError);
    expect(e).toBeInstanceOf(EnclaveError);
    expect((e as Error).name).toBe('SessionError');
  });
});

describe('the enclave refuses a bad hello with an ERROR record and closes', () => {
  async function answer(hello: Buffer): Promise<{ type: number; reason: string }[]> {
    const conn = await host.connect(enclave.EnclaveCID, 5007);
    const reply = readAll(conn);
    conn.write(frame(RECORD.HELLO, hello));
    return new RecordReader().push(await reply).map((r) => ({ type: r.type, reason: r.body.toString('utf8') }));
  }
  const spki = (curve: string) => Buffer.from(generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'der' }));

  it('another protocol version', async () => {
    expect(await answer(Buffer.concat([Buffer.from([2]), randomBytes(32), spki('P-384')]))).toEqual([{ type: RECORD.ERROR, reason: 'expected HELLO v1' }]);
  });
  it('a hello too short to hold a nonce and a key', async () => {
    expect(await answer(Buffer.concat([Buffer.from([1]), randomBytes(32)]))).toEqual([{ type: RECORD.ERROR, reason: 'expected HELLO v1' }]);
  });
  it('a client key that is not an SPKI', async () => {
    expect(await answer(Buffer.concat([Buffer.from([1]), randomBytes(32), Buffer.from('not a key')]))).toEqual([{ type: RECORD.ERROR, reason: 'client key is not an SPKI' }]);
  });
  it('a client key on another curve', async () => {
    expect(await answer(Buffer.concat([Buffer.from([1]), randomBytes(32), spki('P-256')]))).toEqual([{ type: RECORD.ERROR, reason: 'client key must be ECDH P-384' }]);
  });
});

describe('record cipher (both directions share these rules)', () => {
  const key = randomBytes(32);
  const id = randomBytes(32);
  it('replay, reorder, reflection and forgery each have their code', () => {
    const tx = new RecordCipher(key, id, DIR.CLIENT_TO_ENCLAVE);
    const rx = new RecordCipher(key, id, DIR.CLIENT_TO_ENCLAVE);
    const r0 = tx.seal(Buffer.from('a'));
    const r1 = tx.seal(Buffer.from('b'));
    expect(() => rx.open(r1)).toThrow(code('ERR_SESSION_OUT_OF_ORDER'));
    expect(rx.open(r0).toString()).toBe('a');
    expect(() => rx.open(r0)).toThrow(code('ERR_SESSION_REPLAY'));
    const forged = Buffer.from(r1);
    forged[10]! ^= 1;
    expect(() => rx.open(forged)).toThrow(code('ERR_SESSION_AUTH'));
    expect(rx.open(r1).toString()).toBe('b');
    // a record sealed for the other direction does not open here
    const back = new RecordCipher(key, id, DIR.ENCLAVE_TO_CLIENT).seal(Buffer.from('c'));
    const rx2 = new RecordCipher(key, id, DIR.CLIENT_TO_ENCLAVE);
    expect(() => rx2.open(back)).toThrow(code('ERR_SESSION_AUTH'));
    expect(() => rx2.open(Buffer.alloc(5))).toThrow(code('ERR_SESSION_PROTOCOL'));
  });
  it('a MAX_PAYLOAD payload fills one record exactly; one byte more is refused before a sequence number is spent', () => {
    const tx = new RecordCipher(key, id, DIR.CLIENT_TO_ENCLAVE);
    const rx = new RecordCipher(key, id, DIR.CLIENT_TO_ENCLAVE);
    expect(() => tx.seal(Buffer.alloc(MAX_PAYLOAD + 1))).toThrow(code('ERR_INVALID_ARGUMENT'));
    expect(() => tx.seal('text' as unknown as Uint8Array)).toThrow(code('ERR_INVALID_ARGUMENT'));
    const records = new RecordReader().push(frame(RECORD.DATA, tx.seal(Buffer.alloc(MAX_PAYLOAD, 1))));
    expect(records).toHaveLength(1);
    expect(rx.open(records[0]!.body).length).toBe(MAX_PAYLOAD);
  });
  it('oversize and empty records are refused by the reader (ERR_SESSION_PROTOCOL)', () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(17 << 20);
    expect(() => new RecordReader().push(big)).toThrow(code('ERR_SESSION_PROTOCOL'));
    expect(() => new RecordReader().push(Buffer.alloc(4))).toThrow(code('ERR_SESSION_PROTOCOL'));
  });
  it('the reader yields the same records however the stream is split', () => {
    const record = fc.record({ type: fc.integer({ min: 1, max: 4 }), body: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (records, cuts) => {
        const wire = Buffer.concat(records.map((r) => frame(r.type, r.body)));
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const reader = new RecordReader();
        const got: { type: number; body: Buffer }[] = [];
        let from = 0;
        for (const p of [...points, wire.length]) {
          got.push(...reader.push(wire.subarray(from, p)));
          from = p;
        }
        expect(got.map((r) => ({ type: r.type, body: new Uint8Array(r.body) }))).toEqual(records.map((r) => ({ type: r.type, body: new Uint8Array(r.body) })));
      }),
    );
  });
  it('a maximum-size record arriving in 64 KiB chunks comes out whole', () => {
    const body = Buffer.alloc((16 << 20) - 1, 7);
    const wire = frame(RECORD.DATA, body);
    const reader = new RecordReader();
    const got: { type: number; body: Buffer }[] = [];
    for (let o = 0; o < wire.length; o += 65536) got.push(...reader.push(wire.subarray(o, o + 65536)));
    expect(got).toHaveLength(1);
    expect(got[0]!.type).toBe(RECORD.DATA);
    expect(got[0]!.body.equals(body)).toBe(true);
  });
});
