// The bounded CBOR decoder (issue 13): one scan of the item structure refuses, before anything is
// materialized, shared references and every tag the format does not use, budgets of bytes, items
// and depth, declared lengths the input cannot hold, malformed indefinite lengths, invalid UTF-8,
// non-scalar and duplicate map keys. Every refusal is ERR_ATTESTATION_MALFORMED. Inputs are built
// byte by byte (hostile-cbor.ts), and cbor-x's own encodings are checked to pass (no false refusal).
import fc from 'fast-check';
import { Encoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { MalformedDocumentError, decodeCbor, decodeDocument, encodeCbor, scanCbor, signCoseSign1, type CborLimits } from '../../attestation/index.ts';
import { HUGE_DECLARATIONS, bstr, head, hostileCbor, nested, sharedReferenceBomb, text } from './hostile-cbor.ts';
import { generateKeyPairSync } from 'node:crypto';

const ROOMY: CborLimits = { maxBytes: 1 << 20, maxItems: 100_000, maxDepth: 64 };
const u8 = (...b: (number | number[])[]) => Uint8Array.from(b.flat());

function refusal(bytes: Uint8Array, limits: CborLimits = ROOMY): string {
  try {
    decodeCbor(bytes, 'test', limits);
  } catch (e) {
    expect(e).toBeInstanceOf(MalformedDocumentError);
    expect((e as MalformedDocumentError).code).toBe('ERR_ATTESTATION_MALFORMED');
    return (e as Error).message;
  }
  throw new Error('decoded, should have been refused');
}

describe('shared references and tags', () => {
  it('the 4 KB shared-reference bomb is refused at its first tag 28', () => {
    const bomb = sharedReferenceBomb({ size: 4096 });
    expect(bomb.length).toBe(4096);
    expect(refusal(bomb)).toMatch(/CBOR shared reference \(tag 28\) is not allowed/);
  });

  it("cbor-x's own shared structures (tags 28/29) are refused", () => {
    const shared = { a: 1 };
    const bytes = new Encoder({ structuredClone: true, useRecords: false }).encode([shared, shared]);
    expect(refusal(new Uint8Array(bytes))).toMatch(/shared reference|tag/);
    expect(refusal(u8(0xd8, 29, 0x00))).toMatch(/tag 29/);
  });

  it('every tag but the allowed ones is refused, wherever it sits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).filter((t) => t !== 18n), fc.integer({ min: 0, max: 3 }), (tag, where) => {
        const tagged = [...head(6, tag), 0x00];
        const bytes = [tagged, [0x81, ...tagged], [0xa1, ...text('k'), ...tagged], [0xd2, 0x81, ...tagged]][where]!;
        expect(refusal(Uint8Array.from(bytes), { ...ROOMY, allowTags: [18] })).toMatch(/tag/);
      }),
      { numRuns: 300 },
    );
  });

  it('tags cbor-x would turn into other objects are refused: dates, bignums, typed arrays, sets, records', () => {
    for (const tag of [0, 1, 2, 3, 24, 32, 64, 72, 258, 259, 0xe000, 55799]) expect(refusal(u8(head(6, tag), 0x00))).toMatch(new RegExp(`tag ${tag}`));
  });

  it('an allowed tag is kept as {tag, value}', () => {
    expect(decodeCbor(u8(0xd2, 0x80), 'test', { ...ROOMY, allowTags: [18] })).toEqual({ tag: 18, value: [] });
  });
});

describe('budgets: bytes, items, depth', () => {
  it('more bytes than the budget are refused before they are read', () => {
    expect(refusal(new Uint8Array(101), { ...ROOMY, maxBytes: 100 })).toMatch(/101 bytes, more than the 100-byte limit/);
  });

  it('items: exactly the budget passes, one more is refused', () => {
    const array = (n: number) => u8(head(4, n), new Array<number>(n).fill(0));
    expect(decodeCbor(array(9), 'test', { ...ROOMY, maxItems: 10 })).toHaveLength(9);
    expect(refusal(array(10), { ...ROOMY, maxItems: 10 })).toMatch(/more than 10 items/);
  });

  it('depth: definite and indefinite nesting to the budget passes, one deeper is refused', () => {
    for (const indefinite of [false, true]) {
      expect(() => decodeCbor(nested(8, indefinite), 'test', { ...ROOMY, maxDepth: 8 })).not.toThrow();
      expect(refusal(nested(9, indefinite), { ...ROOMY, maxDepth: 8 })).toMatch(/nesting deeper than 8/);
    }
  });

  it('deep nesting far past any budget is refused without exhausting the stack (100,000 levels)', () => {
    expect(refusal(nested(100_000))).toMatch(/nesting deeper than 64/);
    expect(refusal(nested(100_000, true))).toMatch(/nesting deeper than 64/);
  });

  it.each(HUGE_DECLARATIONS)('%s is refused from its head, nothing allocated', (_what, bytes) => {
    expect(refusal(bytes)).toMatch(/runs past the end|truncated/);
  });
});

describe('indefinite lengths', () => {
  it('indefinite arrays and maps decode as their definite forms', () => {
    expect(decodeCbor(u8(0x9f, 0x01, 0x02, 0xff), 'test', ROOMY)).toEqual([1, 2]);
    expect(decodeCbor(u8(0xbf, text('a'), 0x01, 0xff), 'test', ROOMY)).toEqual(new Map([['a', 1]]));
    expect(decodeCbor(u8(0x9f, 0x9f, 0xff, 0xbf, 0xff, 0xff), 'test', ROOMY)).toEqual([[], new Map()]);
  });

  it('indefinite-length (chunked) strings are refused: cbor-x cannot decode them, no Nitro encoder writes them', () => {
    expect(refusal(u8(0x5f, 0x41, 0xaa, 0x42, 0xbb, 0xcc, 0xff))).toMatch(/indefinite-length strings are not supported/);
    expect(refusal(u8(0x7f, text('ab'), 0xff))).toMatch(/indefinite-length strings are not supported/);
  });

  it.each([
    ['an unterminated array', u8(0x9f, 0x01)],
    ['an unterminated map', u8(0xbf, text('a'), 0x00)],
    ['a break at top level', u8(0xff)],
    ['a break inside a definite array', u8(0x82, 0x01, 0xff)],
    ['a break after a map key', u8(0xbf, text('a'), 0xff)],
    ['a break closing a definite map', u8(0xa1, 0x01, 0xff)],
    ['an indefinite integer', u8(0x1f)],
    ['an indefinite tag', u8(0xdf, 0x00)],
  ])('%s is refused', (_what, bytes) => {
    refusal(bytes);
  });
});

describe('map keys', () => {
  it('a duplicate key is refused (cbor-x alone keeps the last one)', () => {
    expect(refusal(u8(0xa2, text('nonce'), 0x01, text('nonce'), 0x02))).toMatch(/duplicate map key/);
    // the same integer in two encodings, the same text in an indefinite map
    expect(refusal(u8(0xa2, 0x01, 0x00, 0x18, 0x01, 0x00))).toMatch(/duplicate map key/);
    expect(refusal(u8(0xbf, text('a'), 0x00, text('a'), 0x00, 0xff))).toMatch(/duplicate map key/);
    expect(refusal(u8(0xa2, 0x1b, 0, 0, 0, 0, 0, 0, 0, 5, 0x00, 0x05, 0x00))).toMatch(/duplicate map key/);
    // long keys too (they take another path to their identity)
    const long = text('k'.repeat(40));
    expect(refusal(u8(0xa2, long, 0x00, long, 0x01))).toMatch(/duplicate map key/);
  });

  it('equal-looking keys of different types are distinct keys', () => {
    const m = decodeCbor(u8(0xa4, 0x01, 0x00, 0x20, 0x00, text('1'), 0x00, bstr([0x31]), 0x00), 'test', ROOMY) as Map<unknown, unknown>;
    expect(m.size).toBe(4);
    const k40 = new Array<number>(40).fill(0x6b);
    expect((decodeCbor(u8(0xa2, text('k'.repeat(40)), 0x00, bstr(k40), 0x00), 'test', ROOMY) as Map<unknown, unknown>).size).toBe(2);
  });

  it('two nonce fields in an attestation document are ERR_ATTESTATION_MALFORMED, not the last one kept', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pcr = bstr(new Array<number>(48).fill(1));
    const payload = u8(
      0xaa,
      text('module_id'), text('i-1'),
      text('digest'), text('SHA384'),
      text('timestamp'), 0x1a, 0x60, 0, 0, 0,
      text('pcrs'), 0xa1, 0x00, pcr,
      text('certificate'), bstr([1]),
      text('cabundle'), 0x81, bstr([1]),
      text('public_key'), 0xf6,
      text('user_data'), 0xf6,
      text('nonce'), bstr([1, 1, 1]),
      text('nonce'), bstr([2, 2, 2]),
    );
    expect(() => decodeDocument(signCoseSign1(payload, privateKey))).toThrow(expect.objectContaining({ code: 'ERR_ATTESTATION_MALFORMED', message: expect.stringMatching(/duplicate map key/) }));
  });

  it.each([
    ['an array', u8(0xa1, 0x80, 0x00)],
    ['a map', u8(0xa1, 0xa0, 0x00)],
    ['a tagged value (of an allowed tag)', u8(0xa1, 0xd2, 0x00, 0x00)],
    ['a float', u8(0xa1, 0xf9, 0x3c, 0x00, 0x00)],
    ['null', u8(0xa1, 0xf6, 0x00)],
  ])('a key that is %s is refused', (_what, bytes) => {
    expect(refusal(bytes, { ...ROOMY, allowTags: [18] })).toMatch(/map keys must be integers or strings/);
  });
});

describe('the rest of well-formedness', () => {
  it.each([
    ['empty input', u8()],
    ['trailing bytes', u8(0x01, 0x02)],
    ['a truncated head', u8(0x19, 0x01)],
    ['reserved additional information 28', u8(0x1c)],
    ['reserved additional information 30 on a string', u8(0x5e)],
    ['undefined', u8(0xf7)],
    ['simple value 16', u8(0xf0)],
    ['a one-byte simple value', u8(0xf8, 0x20)],
    ['invalid UTF-8 in a text string', u8(0x62, 0xc3, 0x28)],
    ['a lone surrogate in a text string', u8(0x63, 0xed, 0xa0, 0x80)],
  ])('%s is refused', (_what, bytes) => {
    refusal(bytes);
  });

  it('non-finite floats pass the scan and are refused as values', () => {
    expect(refusal(u8(0xf9, 0x7c, 0x00))).toMatch(/non-finite/);
  });
});

describe('property: the scan agrees with the encoder', () => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.integer(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string(),
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(null, true, false),
      fc.array(tie('v'), { maxLength: 5 }),
      fc.uniqueArray(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), tie('v')), { maxLength: 5, selector: ([k]) => k }).map((e) => new Map(e)),
    ),
  })).v;

  it('whatever cbor-x encodes from plain data (unique keys) is accepted and decodes to the same value', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeCbor(v);
        expect(() => scanCbor(bytes, 'test', ROOMY)).not.toThrow();
        expect(Buffer.from(encodeCbor(decodeCbor(bytes, 'test', ROOMY))).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fuzz with hostile structures (not only random bytes)', () => {
  it('every hostile input is refused or decoded within budget; nothing but the typed error escapes', () => {
    const limits: CborLimits = { maxBytes: 16 * 1024, maxItems: 512, maxDepth: 8 };
    fc.assert(
      fc.property(hostileCbor, fc.uint8Array({ maxLength: 8 }), (bytes, tail) => {
        for (const b of [bytes, u8([...bytes], [...tail])]) {
          try {
            decodeCbor(b, 'fuzz', limits);
          } catch (e) {
            if (!(e instanceof MalformedDocumentError)) throw e;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('every shared-reference bomb, of any size and shape, is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 40 }), (levels, fan) => {
        expect(refusal(sharedReferenceBomb({ levels, fan }), { ...ROOMY, maxBytes: 1 << 16 })).toMatch(/tag 2[89]/);
      }),
      { numRuns: 200 },
    );
  });
});
