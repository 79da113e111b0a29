// The frame decoder against hand-written vectors (PROTOCOL.md §Frames), property tests with
// fast-check, and fuzzing with random and mutated input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedFrameError, VsockError } from '../../enclave/vsock/index.ts';
import {
  encodeAccept,
  encodeCredit,
  encodeDataHeader,
  encodeDataSmall,
  encodeEmpty,
  encodeOpen,
  encodeWithPayload,
  FrameDecoder,
  FrameType,
  MAX_DATA_PAYLOAD,
  NSM_REQUEST_MAX_SIZE,
  NSM_RESPONSE_MAX_SIZE,
} from '../../enclave/vsock/frame.ts';

interface Decoded {
  type: number;
  id: number;
  payload: string; // hex
}

/** Decodes `chunks`, joining DATA pieces back into frames. Throws what the decoder throws. */
function decode(chunks: Uint8Array[]): Decoded[] {
  const out: Decoded[] = [];
  let data: Buffer[] = [];
  const dec = new FrameDecoder({
    onControl: (type, id, payload) => out.push({ type, id, payload: Buffer.from(payload).toString('hex') }),
    onData: (id, piece, end) => {
      data.push(Buffer.from(piece));
      if (end) {
        out.push({ type: FrameType.DATA, id, payload: Buffer.concat(data).toString('hex') });
        data = [];
      }
    },
  });
  for (const c of chunks) dec.push(Buffer.from(c));
  return out;
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('frame vectors (PROTOCOL.md, written by hand)', () => {
  // type | id (u32 BE) | length (u32 BE) | payload
  const vectors: [string, Buffer, string, Decoded][] = [
    ['OPEN id 2 port 5005 src 1024 window 256 KiB', encodeOpen(2, 5005, 1024, 262144), '01 00000002 0000000c 0000138d 00000400 00040000', { type: 1, id: 2, payload: '0000138d0000040000040000' }],
    ['ACCEPT id 2 window 64 KiB', encodeAccept(2, 65536), '02 00000002 00000004 00010000', { type: 2, id: 2, payload: '00010000' }],
    ['REFUSE id 3', encodeEmpty(FrameType.REFUSE, 3), '03 00000003 00000000', { type: 3, id: 3, payload: '' }],
    ['DATA id 5 "hi"', encodeDataSmall(5, Buffer.from('hi')), '04 00000005 00000002 6869', { type: 4, id: 5, payload: '6869' }],
    ['CREDIT id 5 +65536', encodeCredit(5, 65536), '05 00000005 00000004 00010000', { type: 5, id: 5, payload: '00010000' }],
    ['FIN id 5', encodeEmpty(FrameType.FIN, 5), '06 00000005 00000000', { type: 6, id: 5, payload: '' }],
    ['RESET id 5', encodeEmpty(FrameType.RESET, 5), '07 00000005 00000000', { type: 7, id: 5, payload: '' }],
    ['NSM_REQUEST id 1', encodeWithPayload(FrameType.NSM_REQUEST, 1, hex('a1')), '08 00000001 00000001 a1', { type: 8, id: 1, payload: 'a1' }],
    ['NSM_RESPONSE id 1', encodeWithPayload(FrameType.NSM_RESPONSE, 1, hex('a2ff')), '09 00000001 00000002 a2ff', { type: 9, id: 1, payload: 'a2ff' }],
    ['NSM_ERROR id 1 reason 1', encodeWithPayload(FrameType.NSM_ERROR, 1, hex('01')), '0a 00000001 00000001 01', { type: 10, id: 1, payload: '01' }],
  ];
  it.each(vectors)('%s: encoder bytes and decoder result', (_name, encoded, wire, decoded) => {
    expect(encoded.toString('hex')).toBe(hex(wire).toString('hex'));
    expect(decode([hex(wire)])).toEqual([decoded]);
  });

  it('DATA header for a bulk payload carries only the header; the payload follows as is', () => {
    expect(encodeDataHeader(7, 70000).toString('hex')).toBe('040000000700011170');
  });
});

describe('header checks refuse bad frames before buffering their payload', () => {
  const bad: [string, string][] = [
    ['id 0', '06 00000000 00000000'],
    ['unknown type 0x00', '00 00000001 00000000'],
    ['unknown type 0x0b', '0b 00000001 00000000'],
    ['unknown type 0xff', 'ff 00000001 00000000'],
    ['OPEN of 11 bytes', '01 00000001 0000000b'],
    ['OPEN of 13 bytes', '01 00000001 0000000d'],
    ['ACCEPT of 5 bytes', '02 00000001 00000005'],
    ['REFUSE with a payload', '03 00000001 00000001'],
    ['empty DATA', '04 00000001 00000000'],
    ['DATA of 1 MiB + 1', '04 00000001 00100001'],
    ['DATA of 4 GiB − 1', '04 00000001 ffffffff'],
    ['CREDIT of 3 bytes', '05 00000001 00000003'],
    ['FIN with a payload', '06 00000001 00000004'],
    ['RESET with a payload', '07 00000001 00000001'],
    ['empty NSM_REQUEST', '08 00000001 00000000'],
    ['NSM_REQUEST over 4096 bytes', '08 00000001 00001001'],
    ['NSM_RESPONSE over 12288 bytes', '09 00000001 00003001'],
    ['NSM_ERROR of 2 bytes', '0a 00000001 00000002'],
  ];
  it.each(bad)('%s → ERR_VSOCK_MALFORMED_FRAME', (_name, wire) => {
    expect(() => decode([hex(wire)])).toThrow(expect.objectContaining({ code: 'ERR_VSOCK_MALFORMED_FRAME' }));
  });

  it('accepts the largest legal sizes', () => {
    expect(decode([encodeWithPayload(FrameType.NSM_REQUEST, 1, new Uint8Array(NSM_REQUEST_MAX_SIZE))])).toHaveLength(1);
    expect(decode([encodeWithPayload(FrameType.NSM_RESPONSE, 1, new Uint8Array(NSM_RESPONSE_MAX_SIZE))])).toHaveLength(1);
    const big = Buffer.alloc(MAX_DATA_PAYLOAD, 1);
    expect(decode([encodeDataHeader(1, big.length), big])[0]!.payload.length).toBe(2 * MAX_DATA_PAYLOAD);
  });

  it('stays failed: every later push throws the same error', () => {
    const dec = new FrameDecoder({ onControl: () => {}, onData: () => {} });
    let first: unknown;
    try {
      dec.push(hex('ff 00000001 00000000'));
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(MalformedFrameError);
    expect(() => dec.push(encodeEmpty(FrameType.FIN, 1))).toThrow(first as Error);
  });

  it('streams DATA payload pieces as they arrive instead of buffering the frame', () => {
    const pieces: number[] = [];
    const dec = new FrameDecoder({ onControl: () => {}, onData: (_id, p) => pieces.push(p.length) });
    dec.push(encodeDataHeader(1, MAX_DATA_PAYLOAD));
    dec.push(Buffer.alloc(1000));
    dec.push(Buffer.alloc(24));
    expect(pieces).toEqual([1000, 24]);
    expect(dec.idle).toBe(false);
  });
});

// ---- property tests -------------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const id = fc.integer({ min: 1, max: 0xffff_ffff });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

/** Any valid frame: its encoding (as separate buffers, like the channel writes them) and its decoding. */
const frameArb: fc.Arbitrary<{ wire: Buffer[]; decoded: Decoded }> = fc.oneof(
  fc.tuple(id, u32, u32, u32).map(([i, p, s, w]) => ({
    wire: [encodeOpen(i, p, s, w)],
    decoded: { type: 1, id: i, payload: Buffer.concat([u32be(p), u32be(s), u32be(w)]).toString('hex') },
  })),
  fc.tuple(id, u32).map(([i, w]) => ({ wire: [encodeAccept(i, w)], decoded: { type: 2, id: i, payload: u32be(w).toString('hex') } })),
  fc.tuple(id, u32).map(([i, w]) => ({ wire: [encodeCredit(i, w)], decoded: { type: 5, id: i, payload: u32be(w).toString('hex') } })),
  fc.tuple(fc.constantFrom(FrameType.REFUSE, FrameType.FIN, FrameType.RESET), id).map(([t, i]) => ({
    wire: [encodeEmpty(t, i)],
    decoded: { type: t, id: i, payload: '' },
  })),
  fc.tuple(id, bytes(1, 3000)).map(([i, p]) => ({
    wire: p.length <= 1024 ? [encodeDataSmall(i, p)] : [encodeDataHeader(i, p.length), Buffer.from(p)],
    decoded: { type: 4, id: i, payload: Buffer.from(p).toString('hex') },
  })),
  fc.tuple(fc.constantFrom(FrameType.NSM_REQUEST, FrameType.NSM_RESPONSE), id, bytes(1, 600)).map(([t, i, p]) => ({
    wire: [encodeWithPayload(t, i, p)],
    decoded: { type: t, id: i, payload: Buffer.from(p).toString('hex') },
  })),
  fc.tuple(id, fc.integer({ min: 0, max: 255 })).map(([i, r]) => ({
    wire: [encodeWithPayload(FrameType.NSM_ERROR, i, Uint8Array.of(r))],
    decoded: { type: 10, id: i, payload: r.toString(16).padStart(2, '0') },
  })),
);

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Splits `buf` at the given cut points (fractions of its length). */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 });

describe('decoder properties (fast-check)', () => {
  it('decodes any sequence of valid frames, however the byte stream is split', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 30 }), cutsArb, (frames, cuts) => {
        const stream = Buffer.concat(frames.flatMap((f) => f.wire));
        expect(decode(split(stream, cuts))).toEqual(frames.map((f) => f.decoded));
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes either decode or fail with ERR_VSOCK_MALFORMED_FRAME, never anything else', () => {
    fc.assert(
      fc.property(bytes(0, 2000), cutsArb, (junk, cuts) => {
        try {
          decode(split(Buffer.from(junk), cuts));
        } catch (e) {
          expect(e).toBeInstanceOf(VsockError);
          expect((e as VsockError).code).toBe('ERR_VSOCK_MALFORMED_FRAME');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid streams (flipped, inserted, deleted bytes) either decode or fail with ERR_VSOCK_MALFORMED_FRAME', () => {
    const mutation = fc.record({
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate'),
      byte: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 10 }), fc.array(mutation, { minLength: 1, maxLength: 5 }), cutsArb, (frames, muts, cuts) => {
        let s = Buffer.concat(frames.flatMap((f) => f.wire));
        for (const m of muts) {
          const i = Math.floor(m.at * s.length);
          if (m.kind === 'flip' && s.length > 0) {
            s = Buffer.from(s);
            s[Math.min(i, s.length - 1)]! ^= m.byte || 1;
          } else if (m.kind === 'insert') s = Buffer.concat([s.subarray(0, i), Buffer.of(m.byte), s.subarray(i)]);
          else if (m.kind === 'delete') s = Buffer.concat([s.subarray(0, i), s.subarray(i + 1)]);
          else s = s.subarray(0, i);
        }
        try {
          const out = decode(split(s, cuts));
          for (const f of out) expect(f.id).toBeGreaterThan(0);
        } catch (e) {
          expect((e as VsockError).code).toBe('ERR_VSOCK_MALFORMED_FRAME');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
