// Property tests (fast-check) for the document codec, and a fuzz run of 30,000 random and mutated
// inputs (random bytes, byte edits, truncations, insertions, and splices of hostile CBOR heads:
// shared references, huge lengths, indefinite starts and breaks): decoding any byte string either
// succeeds or throws the domain's typed error. Sized to finish in a few seconds on a loaded
// machine: the mutation itself is O(1) (no array spreads), so the decoder is what runs.
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttestationAuthority,
  AttestationError,
  ChainCache,
  decodeDocument,
  encodeCbor,
  encodePayload,
  makeDocument,
  signCoseSign1,
  signDocument,
  verifyAttestation,
  verifyCoseSign1,
  type AttestationDocument,
} from '../../attestation/index.ts';
import { PCRS, tempDir, vector } from './fixtures.ts';

const key = generateKeyPairSync('ec', { namedCurve: 'P-384' });

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const pcrValue = fc.constantFrom(32, 48, 64).chain((n) => bytes(n, n));
const documentArb = fc
  .record({
    moduleId: fc.string({ minLength: 1, maxLength: 64 }),
    timestamp: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    pcrs: fc.uniqueArray(fc.integer({ min: 0, max: 31 }), { minLength: 1, maxLength: 32 }),
    certificate: bytes(1, 1024),
    cabundle: fc.array(bytes(1, 1024), { minLength: 1, maxLength: 4 }),
    publicKey: fc.option(bytes(0, 1024), { nil: null }),
    userData: fc.option(bytes(0, 1024), { nil: null }),
    nonce: fc.option(bytes(0, 1024), { nil: null }),
  })
  .chain((r) =>
    fc.tuple(...r.pcrs.map(() => fc.constant(48).chain((n) => bytes(n, n)))).map((values) => ({
      ...r,
      pcrs: new Map(r.pcrs.map((i, k) => [i, values[k]!] as const)),
    })),
  );

function same(a: AttestationDocument, b: AttestationDocument): void {
  expect(b.moduleId).toBe(a.moduleId);
  expect(b.timestamp).toBe(a.timestamp);
  expect([...b.pcrs]).toEqual([...a.pcrs]);
  expect(b.certificate).toEqual(a.certificate);
  expect(b.cabundle).toEqual(a.cabundle);
  expect(b.publicKey).toEqual(a.publicKey);
  expect(b.userData).toEqual(a.userData);
  expect(b.nonce).toEqual(a.nonce);
}

/** Runs `f` and fails the test if it throws anything but an AttestationError. */
function onlyTyped(f: () => unknown): 'ok' | string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof AttestationError)) throw new Error(`escaped the typed error: ${String(e)}`, { cause: e });
    return e.code;
  }
}

describe('codec properties', () => {
  it('round trip: sign(make(fields)) decodes to the same fields and its signature verifies', () => {
    fc.assert(
      fc.property(documentArb, (fields) => {
        const doc = makeDocument(fields);
        const bytes = signDocument(doc, key.privateKey);
        const { document, cose } = decodeDocument(bytes);
        same(doc, document);
        expect(verifyCoseSign1(cose, key.publicKey)).toBe(true);
        // re-encoding is stable
        expect(Buffer.from(encodePayload(document)).equals(Buffer.from(cose.payload))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('PCR values of 32, 48 and 64 bytes decode (the AWS procedure allows those lengths)', () => {
    fc.assert(
      fc.property(pcrValue, fc.integer({ min: 0, max: 31 }), (v, index) => {
        const base = makeDocument({ moduleId: 'x', timestamp: 1, pcrs: PCRS, certificate: new Uint8Array(1), cabundle: [new Uint8Array(1)] });
        const payload = encodePayload({ ...base, pcrs: new Map([[index, v]]) });
        const decoded = decodeDocument(signCoseSign1(payload, key.privateKey)).document;
        expect(decoded.pcrs.get(index)).toEqual(v);
      }),
      { numRuns: 50 },
    );
  });

  it('random bytes never escape the typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => {
        onlyTyped(() => decodeDocument(b));
      }),
      { numRuns: 5000 },
    );
  });

  it('random CBOR-shaped values never escape the typed error', () => {
    const cbor = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.integer(),
        fc.string(),
        fc.uint8Array({ maxLength: 64 }),
        fc.constant(null),
        fc.boolean(),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 10 }),
      ),
    })).value;
    fc.assert(
      fc.property(cbor, fc.boolean(), (payload, asCose) => {
        const b = asCose ? encodeCbor([new Uint8Array([0xa1, 0x01, 0x38, 0x22]), new Map(), encodeCbor(payload), new Uint8Array(96)]) : encodeCbor(payload);
        onlyTyped(() => decodeDocument(b));
      }),
      { numRuns: 3000 },
    );
  });
});

/** CBOR heads that make structure hostile wherever they land (hostile-cbor.ts has whole items). */
const HOSTILE_HEADS: readonly number[][] = [
  [0xd8, 28], // shareable
  [0xd8, 29, 0x00], // shared reference
  [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // a byte string of 2^64 − 1 bytes
  [0x9b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00], // an array of 2^32 items
  [0x9f], // indefinite array
  [0xbf], // indefinite map
  [0x5f], // indefinite byte string
  [0xff], // break
  [0xc1], // tag 1 (a date)
];

describe('fuzz: 30,000 random and mutated inputs', () => {
  const dir = tempDir();
  let ours: Uint8Array;
  let authority: AttestationAuthority;
  beforeAll(async () => {
    authority = await AttestationAuthority.open({ dataDir: dir.path });
    ours = await (await authority.createDevice({ moduleId: 'i-fuzz', measurements: PCRS })).attestation({ nonce: new Uint8Array(8) });
  });
  afterAll(() => dir.cleanup());

  it('no input crashes the decoder or escapes its typed error', () => {
    const seeds = [ours, vector('signed-eif-2025-04-01.b64'), vector('debug-2024-09-17.b64'), vector('malformed-edited.b64')];
    // A small deterministic PRNG so a failure can be replayed from its iteration number.
    let state = 0x9e3779b9;
    const rnd = (n: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const codes = new Map<string, number>();
    const N = 30_000;
    for (let i = 0; i < N; i++) {
      let input: Uint8Array;
      const kind = rnd(10);
      if (kind === 0) {
        input = new Uint8Array(rnd(600));
        for (let j = 0; j < input.length; j++) input[j] = rnd(256);
      } else {
        const seed = seeds[rnd(seeds.length)]!;
        input = new Uint8Array(seed);
        const edits = 1 + rnd(4);
        for (let e = 0; e < edits; e++) {
          const op = rnd(5);
          const at = rnd(input.length);
          if (op === 0) input[at] = rnd(256);
          else if (op === 1) input[at]! ^= 1 << rnd(8);
          else if (op === 2) input = input.subarray(0, at); // truncation
          else {
            // insertion of one random byte, or of a hostile head
            const insert = op === 3 ? [rnd(256)] : HOSTILE_HEADS[rnd(HOSTILE_HEADS.length)]!;
            const next = new Uint8Array(input.length + insert.length);
            next.set(input.subarray(0, at));
            next.set(insert, at);
            next.set(input.subarray(at), at + insert.length);
            input = next;
          }
          if (input.length === 0) break;
        }
      }
      const c = onlyTyped(() => decodeDocument(input));
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    // The mutations reach past the first check: more than one kind of refusal comes back.
    expect(codes.size).toBeGreaterThan(1);
    expect(codes.get('ERR_ATTESTATION_MALFORMED')).toBeGreaterThan(0);
  });

  it('mutated documents through the full verifier: only typed errors, never an acceptance', () => {
    const cache = new ChainCache();
    let state = 12345;
    const rnd = (n: number): number => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % n;
    };
    // 500 mutations: most land in a certificate and cost a full chain validation (a few ms).
    for (let i = 0; i < 500; i++) {
      const t = new Uint8Array(ours);
      t[rnd(t.length)] = rnd(256);
      if (Buffer.from(t).equals(Buffer.from(ours))) continue;
      const r = onlyTyped(() => verifyAttestation(t, { trustAnchors: [authority.rootCertificate], chainCache: cache }));
      expect(r).not.toBe('ok');
    }
  });
});
