// Fair NSM service (issue 13): the devices of one attestation authority share a scheduler, so a
// burst of requests from one enclave delays another enclave's request by at most one request per
// busy device, and requests of one device keep their order. Checked by completion order, not time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationAuthority, NsmScheduler, decodeNsmResponse, encodeNsmRequest } from '../../attestation/index.ts';
import { PCRS, tempDir } from './fixtures.ts';

const dir = tempDir();
let authority: AttestationAuthority;
beforeAll(async () => {
  authority = await AttestationAuthority.open({ dataDir: dir.path });
});
afterAll(() => dir.cleanup());

const ATTEST = encodeNsmRequest({ Attestation: { user_data: null, nonce: new Uint8Array(8), public_key: null } });

describe('NSM requests of several enclaves take turns', () => {
  it("one enclave's burst of 12 documents does not hold back another's single request", async () => {
    const a = await authority.createDevice({ moduleId: 'i-a', measurements: PCRS });
    const b = await authority.createDevice({ moduleId: 'i-b', measurements: PCRS });
    const c = await authority.createDevice({ moduleId: 'i-c', measurements: PCRS });
    const done: string[] = [];
    const burst = Array.from({ length: 12 }, (_, i) => a.process(ATTEST).then(() => done.push(`a${i}`)));
    // B and C ask after A's whole burst is queued (in the same turn of the loop, as frames read
    // from three channels in one poll would).
    const single = [b.process(ATTEST).then(() => done.push('b')), c.process(ATTEST).then(() => done.push('c'))];
    await Promise.all([...burst, ...single]);
    expect(done.indexOf('b')).toBeLessThanOrEqual(2);
    expect(done.indexOf('c')).toBeLessThanOrEqual(3);
    // A's own requests complete in the order sent.
    expect(done.filter((d) => d.startsWith('a'))).toEqual(Array.from({ length: 12 }, (_, i) => `a${i}`));
  });

  it('a request arriving during a burst is served within one round of the busy devices', async () => {
    const a = await authority.createDevice({ moduleId: 'i-d', measurements: PCRS });
    const b = await authority.createDevice({ moduleId: 'i-e', measurements: PCRS });
    const done: string[] = [];
    const burst = Array.from({ length: 10 }, (_, i) => a.process(ATTEST).then(() => done.push(`a${i}`)));
    // B asks once A has had two answers: B is next, not after A's remaining eight.
    await burst[1];
    await b.process(ATTEST).then(() => done.push('b'));
    await Promise.all(burst);
    expect(done.indexOf('b')).toBeLessThanOrEqual(3);
  });

  it('an ExtendPCR followed by a DescribePCR of one device sees the extension (order kept per device)', async () => {
    const d = await authority.createDevice({ moduleId: 'i-f', measurements: PCRS });
    const ext = d.process(encodeNsmRequest({ ExtendPCR: { index: 16, data: new Uint8Array([1]) } }));
    const desc = d.process(encodeNsmRequest({ DescribePCR: { index: 16 } }));
    const extended = (decodeNsmResponse(await ext) as Map<string, Map<string, Uint8Array>>).get('ExtendPCR')!.get('data');
    const described = (decodeNsmResponse(await desc) as Map<string, Map<string, Uint8Array>>).get('DescribePCR')!.get('data');
    expect(described).toEqual(extended);
  });
});

describe('NsmScheduler', () => {
  it('a job that throws rejects its own promise only; the queue goes on', async () => {
    const s = new NsmScheduler();
    const owner = {};
    const failing = s.run(owner, () => {
      throw new Error('boom');
    });
    const next = s.run(owner, () => 42);
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe(42);
    expect(s.pending).toBe(0);
  });

  it('round-robin: owners alternate, each in its own order', async () => {
    const s = new NsmScheduler();
    const [x, y] = [{}, {}];
    const order: string[] = [];
    await Promise.all([
      ...[1, 2, 3].map((i) => s.run(x, () => order.push(`x${i}`))),
      ...[1, 2].map((i) => s.run(y, () => order.push(`y${i}`))),
    ]);
    expect(order).toEqual(['x1', 'y1', 'x2', 'y2', 'x3']);
  });
});
