// Generators of hostile CBOR, written byte by byte from RFC 8949 (independently of cbor-x and of
// the scanner under test): shared-reference bombs, deep nesting, huge declared lengths, indefinite
// lengths, duplicate keys. Used by the bounded-decoding tests and by bench/bounded-decoding.bench.ts.
import fc from 'fast-check';

/** A CBOR head: major type and argument, in the shortest form. */
export function head(major: number, arg: number | bigint): number[] {
  const m = major << 5;
  const v = BigInt(arg);
  if (v < 24n) return [m | Number(v)];
  if (v < 0x100n) return [m | 24, Number(v)];
  if (v < 0x10000n) return [m | 25, Number(v >> 8n), Number(v & 0xffn)];
  if (v < 0x100000000n) return [m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn))];
  return [m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn))];
}

export const text = (s: string): number[] => {
  const b = [...new TextEncoder().encode(s)];
  return [...head(3, b.length), ...b];
};
export const bstr = (b: Uint8Array | number[]): number[] => [...head(2, b.length), ...b];

/**
 * The shared-reference bomb of issue 13: an array of levels, where level 0 is a shareable (tag 28)
 * array and each next level a shareable array of `fan` references (tag 29) to the level before. The
 * last level alone describes fan^levels leaves, in about levels·3·fan bytes. `wrap` puts it into
 * a message (an NSM request map, say); `size` pads level 0 with a byte string so the whole message
 * is exactly that many bytes.
 */
export function sharedReferenceBomb(options: { levels?: number; fan?: number; size?: number; wrap?: (bomb: number[]) => number[] } = {}): Uint8Array {
  const levels = options.levels ?? 32;
  const fan = options.fan ?? 30;
  const build = (pad: number): number[] => {
    const out: number[] = [...head(4, levels + 1), 0xd8, 28, 0x81, ...bstr(new Array<number>(pad).fill(0))];
    for (let l = 1; l <= levels; l++) {
      out.push(0xd8, 28, ...head(4, fan));
      for (let i = 0; i < fan; i++) out.push(0xd8, 29, ...head(0, l - 1));
    }
    return options.wrap ? options.wrap(out) : out;
  };
  let pad = 0;
  let out = build(pad);
  if (options.size !== undefined) {
    // The pad's own head grows with it; a few adjustments settle it.
    for (let i = 0; i < 4 && out.length !== options.size; i++) {
      pad = Math.max(0, pad + options.size - out.length);
      out = build(pad);
    }
  }
  return Uint8Array.from(out);
}

/** `depth` nested arrays of one item around a 0 (definite), or indefinite arrays when asked. */
export function nested(depth: number, indefinite = false): Uint8Array {
  const open = indefinite ? [0x9f] : [0x81];
  const close = indefinite ? [0xff] : [];
  return Uint8Array.from([...Array.from({ length: depth }, () => open).flat(), 0x00, ...Array.from({ length: depth }, () => close).flat()]);
}

/** Heads declaring far more than follows: strings, arrays and maps of up to 2^64 − 1. */
export const HUGE_DECLARATIONS: readonly [string, Uint8Array][] = [
  ['a byte string of 2^64 − 1 bytes', Uint8Array.from(head(2, 0xffffffffffffffffn))],
  ['a text string of 2^32 bytes', Uint8Array.from([...head(3, 0x100000000n), 0x61])],
  ['an array of 2^32 − 1 items', Uint8Array.from([...head(4, 0xffffffff), 0x00])],
  ['a map of 2^63 pairs', Uint8Array.from([...head(5, 0x8000000000000000n), 0x00, 0x00])],
  ['a byte string one byte longer than the input', Uint8Array.from([0x45, 1, 2, 3, 4])],
];

/** One hostile item of each family, of random size: for fuzzing the decoder with structure, not noise. */
export const hostileCbor: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({ levels: fc.integer({ min: 1, max: 80 }), fan: fc.integer({ min: 1, max: 40 }) }).map((o) => sharedReferenceBomb(o)),
  fc.record({ depth: fc.integer({ min: 1, max: 5000 }), indefinite: fc.boolean() }).map((o) => nested(o.depth, o.indefinite)),
  fc.tuple(fc.integer({ min: 2, max: 7 }), fc.bigInt({ min: 24n, max: 0xffffffffffffffffn }), fc.uint8Array({ maxLength: 64 })).map(([major, n, rest]) =>
    Uint8Array.from([...head(major === 6 ? 4 : major === 7 ? 5 : major, n), ...rest]),
  ),
  // Indefinite containers and strings, terminated or not, with chunks and breaks anywhere.
  fc.tuple(fc.constantFrom(0x5f, 0x7f, 0x9f, 0xbf), fc.array(fc.constantFrom(0x40, 0x41, 0x60, 0x61, 0x00, 0xff, 0x5f, 0x9f), { maxLength: 40 }), fc.boolean()).map(([start, body, end]) =>
    Uint8Array.from([start, ...body, ...(end ? [0xff] : [])]),
  ),
  // Any tag (shared references among them) around small items.
  fc.tuple(fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), fc.uint8Array({ maxLength: 16 })).map(([tag, rest]) => Uint8Array.from([...head(6, tag), ...rest])),
  // Maps with repeated keys.
  fc.array(fc.constantFrom('nonce', 'a', 'b'), { minLength: 2, maxLength: 8 }).map((keys) => Uint8Array.from([...head(5, keys.length), ...keys.flatMap((k) => [...text(k), 0x00])])),
);
