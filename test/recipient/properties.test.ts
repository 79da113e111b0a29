// Property tests for the two parsers of this feature that face untrusted bytes: the KMS's
// Recipient verifier (documents from anyone) and the enclave's HTTP/1.1 response reader (bytes
// from the parent, which the enclave does not trust).
import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KmsError, RecipientVerifier } from '../../kms-proxy/index.ts';
import { httpOverStream } from '../../enclave/sdk/index.ts';
import { device, openAuthority, rsa, type Authority } from './fixtures.ts';

let trusted: Authority;
let verifier: RecipientVerifier;
let doc: Uint8Array;
beforeAll(async () => {
  trusted = await openAuthority();
  verifier = new RecipientVerifier({ trustAnchors: [trusted.authority.rootCertificate] });
  doc = await (await device(trusted.authority, 'A')).attestation({ publicKey: rsa.spki });
});
afterAll(() => trusted.cleanup());

describe('RecipientVerifier on mutated and random documents', () => {
  it('the genuine document verifies; any byte flipped is refused with ValidationException and a reason, never another error', () => {
    expect(verifier.verify(doc).document.moduleId).toMatch(/^i-/);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: doc.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const m = new Uint8Array(doc);
        m[i] = (m[i] as number) ^ x;
        try {
          verifier.verify(m);
          // A flip may only pass where the bytes are not covered by the signature and still parse
          // to the same meaning; COSE_Sign1 here has no such place (the unprotected header is an
          // empty map), so this is never reached.
          expect.unreachable(`flip at ${i} accepted`);
        } catch (e) {
          expect(e).toBeInstanceOf(KmsError);
          expect((e as KmsError).awsName).toBe('ValidationException');
          expect((e as KmsError).detail).toMatch(/^ERR_/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes and truncations are ValidationException', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: doc.length - 1 }).map((n) => doc.slice(0, n))), (b) => {
        expect(() => verifier.verify(b)).toThrow(expect.objectContaining({ awsName: 'ValidationException' }));
      }),
      { numRuns: 300 },
    );
  });
});

describe('httpOverStream (the enclave reading the parent\'s bytes)', () => {
  const req = { method: 'POST', path: '/', headers: { host: 'kms' }, body: new Uint8Array([1, 2]) };

  /** Feeds `chunks` to the client as the server's bytes; resolves to its result or error. */
  async function feed(chunks: Uint8Array[]): Promise<unknown> {
    // What the client writes is discarded; what it reads is exactly `chunks`, one push each.
    const conn = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
    const p = httpOverStream(conn, req, 2_000).catch((e: unknown) => e);
    for (const c of chunks) conn.push(Buffer.from(c));
    conn.push(null);
    return p;
  }

  const body = fc.uint8Array({ maxLength: 3000 });
  it('a response split anywhere reads the same (Content-Length and chunked)', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 6 }), fc.boolean(), async (b, cuts, chunked) => {
        let raw: Buffer;
        if (chunked) {
          const half = Math.floor(b.length / 2);
          const parts = [b.slice(0, half), b.slice(half)].filter((x) => x.length > 0);
          raw = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), ...parts.flatMap((p) => [Buffer.from(`${p.length.toString(16)}\r\n`), Buffer.from(p), Buffer.from('\r\n')]), Buffer.from('0\r\n\r\n')]);
        } else raw = Buffer.concat([Buffer.from(`HTTP/1.1 400 Bad Request\r\nContent-Length: ${b.length}\r\n\r\n`), Buffer.from(b)]);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const c of cuts) {
          if (at >= raw.length) break;
          chunks.push(raw.subarray(at, Math.min(raw.length, at + c)));
          at += c;
        }
        if (at < raw.length) chunks.push(raw.subarray(at));
        const r = (await feed(chunks)) as { status: number; body: Uint8Array };
        expect(r.status).toBe(chunked ? 200 : 400);
        expect(Buffer.from(r.body).equals(Buffer.from(b))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('arbitrary bytes end in a result or a KmsClientError with a code, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.string({ maxLength: 300 }).map((s) => new Uint8Array(Buffer.from(`HTTP/1.1 200 OK\r\n${s}`)))), async (b) => {
        const r = await feed([b]);
        if (r instanceof Error) expect((r as { code?: string }).code).toMatch(/^ERR_KMS_CLIENT_/);
        else expect(r).toHaveProperty('status');
      }),
      { numRuns: 300 },
    );
  });
});
