// readAll: the one "read until the peer half-closes" helper (boot handshake, apps, host code).
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAll, VsockError } from '../../enclave/vsock/index.ts';

describe('readAll', () => {
  it('returns every byte written before the end, in order', async () => {
    const s = new PassThrough();
    const got = readAll(s);
    s.write(Buffer.from('ab'));
    s.write(Buffer.from('cd'));
    s.end(Buffer.from('e'));
    expect((await got).toString()).toBe('abcde');
  });

  it('accepts exactly maxBytes', async () => {
    const s = new PassThrough();
    const got = readAll(s, { maxBytes: 4 });
    s.end(Buffer.from('abcd'));
    expect((await got).length).toBe(4);
  });

  it('one byte past maxBytes is ERR_VSOCK_READ_TOO_LARGE and destroys the stream', async () => {
    const s = new PassThrough();
    const got = readAll(s, { maxBytes: 4 });
    s.write(Buffer.from('abc'));
    s.write(Buffer.from('de'));
    await expect(got).rejects.toMatchObject({ code: 'ERR_VSOCK_READ_TOO_LARGE' });
    expect(s.destroyed).toBe(true);
  });

  it("onOverflow 'discard' refuses the same way but leaves the stream open to answer on", async () => {
    const s = new PassThrough();
    const got = readAll(s, { maxBytes: 4, onOverflow: 'discard' });
    s.write(Buffer.from('abcde'));
    await expect(got).rejects.toMatchObject({ code: 'ERR_VSOCK_READ_TOO_LARGE' });
    expect(s.destroyed).toBe(false);
    // The rest is still read (and dropped) to its end, so a peer writing it is never stalled.
    const ended = once(s, 'end');
    s.write(Buffer.alloc(64 * 1024));
    s.end();
    await ended;
  });

  it('a stream closed before its end is ECONNRESET', async () => {
    const s = new PassThrough();
    const got = readAll(s);
    s.write(Buffer.from('partial'));
    s.destroy();
    await expect(got).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it("the stream's own error is passed through", async () => {
    const s = new PassThrough();
    const got = readAll(s);
    const e = new Error('boom');
    s.destroy(e);
    await expect(got).rejects.toBe(e);
  });

  it('a negative or NaN maxBytes is ERR_VSOCK_INVALID_ARGUMENT', () => {
    for (const maxBytes of [-1, Number.NaN]) {
      const e = (() => {
        try {
          void readAll(new PassThrough(), { maxBytes });
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(VsockError);
      expect(e).toMatchObject({ code: 'ERR_VSOCK_INVALID_ARGUMENT' });
    }
  });
});
