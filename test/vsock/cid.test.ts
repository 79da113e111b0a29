// CID rules of nitro-cli's run-enclave (reference/nitro.md: 0, 1, 2, 3 and ≥ 2^32−1 refused) and the
// host's CID → channel registry.
import { afterEach, describe, expect, it } from 'vitest';
import { Channel, type VsockConnection } from '../../enclave/vsock/index.ts';
import {
  InvalidCidError,
  MAX_ENCLAVE_CID,
  parseEnclaveCid,
  validateEnclaveCid,
  VMADDR_CID_PARENT,
  VsockRegistry,
} from '../../host/vsock/index.ts';
import { readAll, socketPair } from './helpers.ts';

describe('enclave CID validation (nitro-cli run-enclave --enclave-cid)', () => {
  const refused: [string, unknown, string][] = [
    ['0 (VMADDR_CID_HYPERVISOR)', 0, 'hypervisor'],
    ['1 (VMADDR_CID_LOCAL)', 1, 'local'],
    ['2 (VMADDR_CID_HOST)', 2, 'host'],
    ['3 (the parent, VMADDR_CID_PARENT)', 3, 'parent'],
    ['2^32−1 (VMADDR_CID_ANY)', 2 ** 32 - 1, 'out-of-range'],
    ['2^32', 2 ** 32, 'out-of-range'],
    ['2^53', 2 ** 53, 'out-of-range'],
    ['−1', -1, 'out-of-range'],
    ['−4', -4, 'out-of-range'],
    ['1.5', 1.5, 'not-an-integer'],
    ['NaN', Number.NaN, 'not-an-integer'],
    ['Infinity', Number.POSITIVE_INFINITY, 'not-an-integer'],
    ['the string "16"', '16', 'not-an-integer'],
    ['16n (bigint)', 16n, 'not-an-integer'],
  ];
  it.each(refused)('refuses %s with ERR_VSOCK_INVALID_CID', (_name, cid, reason) => {
    let err: unknown;
    try {
      validateEnclaveCid(cid);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidCidError);
    expect(err).toMatchObject({ code: 'ERR_VSOCK_INVALID_CID', reason });
  });

  it.each([4, 5, 16, 0x7fff_ffff, MAX_ENCLAVE_CID])('accepts %d', (cid) => {
    expect(() => validateEnclaveCid(cid)).not.toThrow();
  });

  it('pins the limits: 4 is the smallest enclave CID, 2^32−2 the largest', () => {
    expect(MAX_ENCLAVE_CID).toBe(4294967294);
    expect(VMADDR_CID_PARENT).toBe(3);
  });

  it.each([
    ['16', 16],
    ['4', 4],
    ['4294967294', 4294967294],
  ])('parses --enclave-cid %s', (text, cid) => {
    expect(parseEnclaveCid(text)).toBe(cid);
  });

  it.each([
    ['', 'not-an-integer'],
    ['0x10', 'not-an-integer'],
    ['-4', 'not-an-integer'],
    ['+4', 'not-an-integer'],
    ['1e3', 'not-an-integer'],
    [' 16', 'not-an-integer'],
    ['16.0', 'not-an-integer'],
    ['3', 'parent'],
    ['0', 'hypervisor'],
    ['4294967295', 'out-of-range'],
    ['99999999999999999999', 'out-of-range'],
  ])('refuses --enclave-cid %j with ERR_VSOCK_INVALID_CID (%s)', (text, reason) => {
    expect(() => parseEnclaveCid(text)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_CID', reason }));
  });
});

describe('CID registry', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  async function enclavePair(): Promise<{ host: Channel; enclave: Channel }> {
    const sp = await socketPair();
    const host = new Channel(sp.a, { role: 'host' });
    const enclave = new Channel(sp.b, { role: 'enclave' });
    cleanups.push(() => {
      host.destroy();
      enclave.destroy();
      sp.close();
    });
    return { host, enclave };
  }

  it('auto-assigns the first free CID from 16 and wraps to 4', () => {
    const r = new VsockRegistry();
    expect([r.reserve(), r.reserve(), r.reserve(18), r.reserve()]).toEqual([16, 17, 18, 19]);
    const top = new VsockRegistry({ firstAutoCid: MAX_ENCLAVE_CID });
    expect([top.reserve(), top.reserve(), top.reserve()]).toEqual([MAX_ENCLAVE_CID, 4, 5]);
    r.release(17);
    expect(r.reserve()).toBe(17);
  });

  it('refuses a CID twice with ERR_VSOCK_CID_IN_USE', () => {
    const r = new VsockRegistry();
    r.reserve(20);
    expect(() => r.reserve(20)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_CID_IN_USE' }));
  });

  it.each([0, 1, 2, 3, 2 ** 32 - 1])('refuses to reserve CID %d with ERR_VSOCK_INVALID_CID', (cid) => {
    expect(() => new VsockRegistry().reserve(cid)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_CID' }));
  });

  it('refuses an invalid first auto CID', () => {
    expect(() => new VsockRegistry({ firstAutoCid: 3 })).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_CID' }));
  });

  it('attaches only reserved CIDs and host-role channels, once', async () => {
    const r = new VsockRegistry();
    const { host, enclave } = await enclavePair();
    expect(() => r.attach(30, host)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_UNKNOWN_CID' }));
    const cid = r.reserve();
    expect(() => r.attach(cid, enclave)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_INVALID_ARGUMENT' }));
    r.attach(cid, host);
    expect(() => r.attach(cid, host)).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_CID_IN_USE' }));
    expect(r.channel(cid)).toBe(host);
  });

  it('connects by (CID, port), refusing unknown and invalid CIDs and bad ports', async () => {
    const r = new VsockRegistry();
    const { host, enclave } = await enclavePair();
    enclave.listen(5000, (c) => c.pipe(c));
    const cid = r.reserve();
    r.attach(cid, host);
    const c = await r.connect(cid, 5000);
    const reply = readAll(c);
    c.end('ping');
    expect((await reply).toString()).toBe('ping');
    await expect(r.connect(cid, 5001)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(r.connect(cid + 1, 5000)).rejects.toMatchObject({ code: 'ERR_VSOCK_UNKNOWN_CID' });
    await expect(r.connect(3, 5000)).rejects.toMatchObject({ code: 'ERR_VSOCK_INVALID_CID' });
    await expect(r.connect(cid, -1)).rejects.toMatchObject({ code: 'ERR_VSOCK_INVALID_PORT' });
  });

  it('parent listeners reach enclaves attached before and after, and stop on close()', async () => {
    const r = new VsockRegistry();
    const a = await enclavePair();
    r.attach(r.reserve(), a.host);
    const from: (number | undefined)[] = [];
    const l = r.listen(8000, (c: VsockConnection) => {
      from.push(c.remoteCid);
      c.end();
    });
    expect(() => r.listen(8000, () => {})).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    const b = await enclavePair();
    r.attach(r.reserve(), b.host);
    for (const e of [a.enclave, b.enclave]) {
      const c = await e.connect(8000);
      await readAll(c);
    }
    expect(from).toEqual([16, 17]);
    l.close();
    await expect(a.enclave.connect(8000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(b.enclave.connect(8000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('a channel’s own listener on a port wins over a parent-wide one', async () => {
    const r = new VsockRegistry();
    const a = await enclavePair();
    const b = await enclavePair();
    a.host.listen(8100, (c) => c.end('own'));
    r.attach(r.reserve(), a.host);
    const l = r.listen(8100, (c) => c.end('parent'));
    r.attach(r.reserve(), b.host);
    expect((await readAll(await a.enclave.connect(8100))).toString()).toBe('own');
    expect((await readAll(await b.enclave.connect(8100))).toString()).toBe('parent');
    l.close();
    expect((await readAll(await a.enclave.connect(8100))).toString()).toBe('own');
  });

  it('releases a CID when its channel closes', async () => {
    const r = new VsockRegistry();
    const { host } = await enclavePair();
    const cid = r.reserve();
    r.attach(cid, host);
    host.destroy();
    await host.closed;
    await Promise.resolve();
    expect(r.cids).not.toContain(cid);
    expect(r.reserve()).toBe(cid);
  });
});
