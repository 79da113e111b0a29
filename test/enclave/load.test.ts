// Loading: every kind of damaged or foreign file is refused with its own code before anything of
// it is used (acceptance: bad magic, bad checksum, truncated section, unknown section type, bad
// signature; plus too large, wrong version, malformed). Corruptions are made with the test's own
// CRC-32 and section walker (fixtures.ts), so they follow IMAGE_FORMAT.md, not the code under test.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { closeSync, openSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  EnclaveError,
  ImageError,
  MAX_IMAGE_SIZE,
  SECTION,
  buildImage,
  describeImage,
  imageMagic,
  loadImage,
  measureImage,
  readImageFile,
} from '../../enclave/index.ts';
import { cleanup, codeOf, crc32, examplesDir, fixCrc, opensslCert, sections, sortedJson, tempDir, type SigningPair } from './fixtures.ts';
import { decodeCbor, encodeCbor } from '../../attestation/index.ts';
import { execFileSync } from 'node:child_process';

let keys: SigningPair;
let plain: Uint8Array;
let signed: Uint8Array;
let signedOther: Uint8Array;

beforeAll(async () => {
  keys = opensslCert(tempDir(), 'loader');
  plain = (await buildImage({ entry: join(examplesDir, 'hello', 'main.ts') })).image;
  signed = (await buildImage({ entry: join(examplesDir, 'hello', 'main.ts'), signing: { certificate: keys.certPem, privateKey: keys.keyPem } })).image;
  signedOther = (await buildImage({ entry: join(examplesDir, 'echo', 'main.ts'), signing: { certificate: keys.certPem, privateKey: keys.keyPem } })).image;
});
afterAll(cleanup);

const copy = (x: Uint8Array): Uint8Array => new Uint8Array(x);
function xorAt(x: Uint8Array, at: number, v: number): void {
  x[at] = (x[at] ?? 0) ^ v;
}
const view = (x: Uint8Array): DataView => new DataView(x.buffer, x.byteOffset, x.byteLength);

/** Replaces section `index`'s data with `data`, fixing lengths and the CRC. */
function replaceSection(image: Uint8Array, index: number, data: Uint8Array): Uint8Array {
  const s = sections(image);
  const sec = s[index];
  if (!sec) throw new Error('no such section');
  const out = new Uint8Array(image.length - (sec.end - sec.dataStart) + data.length);
  out.set(image.subarray(0, sec.dataStart));
  out.set(data, sec.dataStart);
  out.set(image.subarray(sec.end), sec.dataStart + data.length);
  view(out).setUint32(sec.start + 4, data.length);
  view(out).setUint32(16, out.length);
  return fixCrc(out);
}

describe('the CRC-32 in the header (IMAGE_FORMAT.md: IEEE CRC-32 of the file without bytes 20..24)', () => {
  test('the independent CRC-32 matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
  test('a built image carries the CRC computed by the specification', () => {
    expect(view(plain).getUint32(20)).toBe(crc32(plain.subarray(0, 20), plain.subarray(24)));
    expect(view(plain).getUint32(16)).toBe(plain.length);
  });
});

describe('each corruption has its own code', () => {
  test('valid images load', () => {
    expect(loadImage(plain).manifest.name).toBe('hello');
    expect(loadImage(signed).signature).toBeDefined();
  });

  test('bad magic: one flipped magic byte, an EIF file, a PNG, text → ERR_IMAGE_BAD_MAGIC', () => {
    const x = copy(plain);
    xorAt(x, 1, 0x20);
    expect(codeOf(() => loadImage(x))).toBe('ERR_IMAGE_BAD_MAGIC');
    const eif = new Uint8Array(64);
    eif.set([0x2e, 0x65, 0x69, 0x66]); // ".eif", the real EIF magic
    expect(codeOf(() => loadImage(eif))).toBe('ERR_IMAGE_BAD_MAGIC');
    expect(codeOf(() => loadImage(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)))).toBe('ERR_IMAGE_BAD_MAGIC');
    expect(codeOf(() => loadImage(new TextEncoder().encode('export default 1')))).toBe('ERR_IMAGE_BAD_MAGIC');
  });

  test('bad checksum: one flipped bit anywhere in any section → ERR_IMAGE_BAD_CHECKSUM', () => {
    for (const s of sections(signed)) {
      for (const at of [s.start, s.dataStart, s.end - 1]) {
        const x = copy(signed);
        xorAt(x, at, 0x01);
        expect(codeOf(() => loadImage(x)), `offset ${at}`).toBe('ERR_IMAGE_BAD_CHECKSUM');
      }
    }
    const x = copy(plain);
    xorAt(x, 21, 0x80); // the CRC field itself
    expect(codeOf(() => loadImage(x))).toBe('ERR_IMAGE_BAD_CHECKSUM');
  });

  test('truncated: cut inside the header, a section header, a section → ERR_IMAGE_TRUNCATED', () => {
    const cuts = [3, 12, 23, ...sections(signed).flatMap((s) => [s.start + 4, s.dataStart + 1, s.end - 1])];
    for (const n of cuts) expect(codeOf(() => loadImage(signed.subarray(0, n))), `cut at ${n}`).toBe('ERR_IMAGE_TRUNCATED');
  });

  test('truncated section: a section length running past the end, CRC and length consistent → ERR_IMAGE_TRUNCATED', () => {
    const x = copy(plain);
    const app = sections(x)[2];
    view(x).setUint32((app?.start ?? 0) + 4, x.length);
    expect(codeOf(() => loadImage(fixCrc(x)))).toBe('ERR_IMAGE_TRUNCATED');
    const y = copy(plain);
    view(y).setUint16(12, 5); // one more section than there are
    expect(codeOf(() => loadImage(fixCrc(y)))).toBe('ERR_IMAGE_TRUNCATED');
  });

  test('unknown section type: a known section retyped, or an extra section appended → ERR_IMAGE_UNKNOWN_SECTION', () => {
    const x = copy(plain);
    view(x).setUint16(sections(x)[3]?.start ?? 0, 0x7f);
    expect(codeOf(() => loadImage(fixCrc(x)))).toBe('ERR_IMAGE_UNKNOWN_SECTION');
    const extra = new Uint8Array(plain.length + 8 + 3);
    extra.set(plain);
    const v = view(extra);
    v.setUint16(plain.length, 6);
    v.setUint32(plain.length + 4, 3);
    v.setUint16(12, 5);
    v.setUint32(16, extra.length);
    expect(codeOf(() => loadImage(fixCrc(extra)))).toBe('ERR_IMAGE_UNKNOWN_SECTION');
  });

  test('bad signature: a flipped signature byte, a signature from another image, garbage, a swapped certificate → ERR_IMAGE_BAD_SIGNATURE', () => {
    const sigIndex = 4;
    const sig = sections(signed)[sigIndex];
    if (!sig) throw new Error('unsigned');
    const x = copy(signed);
    xorAt(x, sig.end - 5, 0x01); // inside the ES384 r‖s
    expect(codeOf(() => loadImage(fixCrc(x)))).toBe('ERR_IMAGE_BAD_SIGNATURE');
    // A valid signature by the same key, but over another image's PCR0.
    const otherSig = sections(signedOther)[sigIndex];
    const moved = replaceSection(signed, sigIndex, signedOther.subarray(otherSig?.dataStart, otherSig?.end));
    expect(codeOf(() => loadImage(moved))).toBe('ERR_IMAGE_BAD_SIGNATURE');
    expect(codeOf(() => loadImage(replaceSection(signed, sigIndex, Uint8Array.of(0xff, 0x00))))).toBe('ERR_IMAGE_BAD_SIGNATURE');
    expect(codeOf(() => loadImage(replaceSection(signed, sigIndex, Uint8Array.of(0x80))))).toBe('ERR_IMAGE_BAD_SIGNATURE');
    // The same key in another certificate (a different PCR8): the payload binds the certificate.
    const sameKeyCert = execFileSync('openssl', ['req', '-x509', '-key', keys.keyPath, '-subj', '/CN=impostor', '-days', '1', '-outform', 'DER']);
    const section = decodeCbor(signed.subarray(sig.dataStart, sig.end), 'test') as Map<string, Uint8Array>[];
    const cose = section[0]?.get('signature') as Uint8Array;
    const swapped = replaceSection(signed, sigIndex, encodeCbor([new Map([['signing_certificate', new Uint8Array(sameKeyCert)], ['signature', cose]])]));
    expect(codeOf(() => loadImage(swapped))).toBe('ERR_IMAGE_BAD_SIGNATURE');
    // describe-eif still describes it, and says the signature does not check out.
    expect(describeImage(moved).SignatureCheck).toBe(false);
    expect(describeImage(signed).SignatureCheck).toBe(true);
  });

  test('too large: over MAX_IMAGE_SIZE in memory, in the header, or on disk → ERR_IMAGE_TOO_LARGE', () => {
    const big = new Uint8Array(MAX_IMAGE_SIZE + 1);
    big.set(plain.subarray(0, 24));
    expect(codeOf(() => loadImage(big))).toBe('ERR_IMAGE_TOO_LARGE');
    const x = copy(plain);
    view(x).setUint32(16, MAX_IMAGE_SIZE + 1);
    expect(codeOf(() => loadImage(fixCrc(x)))).toBe('ERR_IMAGE_TOO_LARGE');
    // A sparse file: the size is refused from fstat, before its bytes are read.
    const path = join(tempDir(), 'huge.eif');
    const fd = openSync(path, 'w');
    writeSync(fd, plain.subarray(0, 24));
    ftruncateSync(fd, MAX_IMAGE_SIZE + 4096);
    closeSync(fd);
    expect(codeOf(() => readImageFile(path))).toBe('ERR_IMAGE_TOO_LARGE');
    // …unless it is not an image at all: a huge foreign file is reported as foreign.
    const foreign = join(tempDir(), 'huge.iso');
    const fd2 = openSync(foreign, 'w');
    writeSync(fd2, new TextEncoder().encode('CD001 not an image'));
    ftruncateSync(fd2, MAX_IMAGE_SIZE + 4096);
    closeSync(fd2);
    expect(codeOf(() => readImageFile(foreign))).toBe('ERR_IMAGE_BAD_MAGIC');
  });

  test('version 1 (PCRs by the old rules) is refused with a message saying to rebuild, before the checksum', () => {
    const x = copy(plain);
    view(x).setUint16(8, 1);
    expect(codeOf(() => loadImage(x))).toBe('ERR_IMAGE_UNSUPPORTED_VERSION');
    expect(() => loadImage(x)).toThrow(/version 1 is no longer supported.*rebuild the image/);
    expect(() => describeImage(x)).toThrow(/version 1 is no longer supported/);
  });

  test('wrong version: version 0, 3 and 0xffff → ERR_IMAGE_UNSUPPORTED_VERSION, checked before the checksum', () => {
    for (const v of [0, 3, 0xffff]) {
      const x = copy(plain);
      view(x).setUint16(8, v);
      expect(codeOf(() => loadImage(x)), `version ${v}`).toBe('ERR_IMAGE_UNSUPPORTED_VERSION');
    }
  });

  test('malformed: consistent CRC but non-canonical content → ERR_IMAGE_MALFORMED, naming the fault', () => {
    const cases: [string, Uint8Array, RegExp][] = [];
    const trailing = new Uint8Array(plain.length + 1);
    trailing.set(plain);
    cases.push(['a byte after the declared length', trailing, /after the end/]);
    const reserved = copy(plain);
    view(reserved).setUint16(10, 1);
    cases.push(['reserved header flags', fixCrc(reserved), /reserved/]);
    const secFlags = copy(plain);
    view(secFlags).setUint16((sections(secFlags)[1]?.start ?? 0) + 2, 1);
    cases.push(['section flags', fixCrc(secFlags), /BOOTSTRAP section: reserved flags/]);
    const swapped = copy(plain);
    const [s0, s1] = sections(swapped);
    view(swapped).setUint16(s0?.start ?? 0, SECTION.BOOTSTRAP);
    view(swapped).setUint16(s1?.start ?? 0, SECTION.RUNTIME);
    cases.push(['sections out of order', fixCrc(swapped), /in this order; got BOOTSTRAP, RUNTIME/]);
    const appEnd = sections(plain)[2]?.end ?? 0;
    const missing = plain.slice(0, appEnd);
    view(missing).setUint16(12, 3);
    view(missing).setUint32(16, appEnd);
    cases.push(['no manifest', fixCrc(missing), /got RUNTIME, BOOTSTRAP, APPLICATION$/]);
    const enc = (t: string): Uint8Array => new TextEncoder().encode(t);
    const manifest = loadImage(plain).manifest;
    cases.push(['manifest with whitespace', replaceSection(plain, 3, enc(JSON.stringify(JSON.parse(sortedJson(manifest)), null, 1))), /canonical/]);
    cases.push(['manifest with an unknown field', replaceSection(plain, 3, enc(sortedJson({ ...manifest, extra: 1 }))), /unknown field 'extra'/]);
    cases.push(['manifest with a duplicate key', replaceSection(plain, 3, enc(sortedJson(manifest).replace('{', '{"build":1,'))), /canonical/]);
    cases.push(['manifest not UTF-8', replaceSection(plain, 3, Uint8Array.of(0x7b, 0xff, 0x7d)), /UTF-8/]);
    const runtime = { node: 'v26.0.0', isolation: { environment: {}, heapPercentOfMemory: 75, layers: { cpuAffinity: 'off', networkNamespace: 'off' }, nodeFlags: ['--permission'] } };
    expect(codeOf(() => loadImage(replaceSection(plain, 0, enc(sortedJson(runtime)))))).toBe('no error');
    const granting = { ...runtime, isolation: { ...runtime.isolation, nodeFlags: ['--permission', '--allow-fs-read=*'] } };
    cases.push(['runtime granting file reads', replaceSection(plain, 0, enc(sortedJson(granting))), /--allow-fs-read/]);
    cases.push(['runtime with an odd node version', replaceSection(plain, 0, enc(sortedJson({ ...runtime, node: 'latest' }))), /node must be/]);
    cases.push(['an empty application', replaceSection(plain, 2, new Uint8Array(0)), /APPLICATION section is empty/]);
    for (const [what, img, msg] of cases) {
      let err: unknown;
      try {
        loadImage(img);
      } catch (e) {
        err = e;
      }
      expect(err, what).toMatchObject({ code: 'ERR_IMAGE_MALFORMED', message: expect.stringMatching(msg) });
    }
  });

  test('short inputs: empty and magic-only files are truncated, not crashes', () => {
    expect(codeOf(() => loadImage(new Uint8Array(0)))).toBe('ERR_IMAGE_TRUNCATED');
    expect(codeOf(() => loadImage(imageMagic()))).toBe('ERR_IMAGE_TRUNCATED');
    expect(codeOf(() => loadImage('not bytes' as never))).toBe('ERR_INVALID_ARGUMENT');
  });

  test('describe-eif reports a CRC mismatch as CheckCRC: false instead of refusing, like nitro-cli', () => {
    const x = copy(plain);
    xorAt(x, 21, 1);
    expect(describeImage(x).CheckCRC).toBe(false);
    expect(describeImage(plain).CheckCRC).toBe(true);
    expect(codeOf(() => measureImage(x))).toBe('ERR_IMAGE_BAD_CHECKSUM');
  });
});

describe('fuzzing: nothing escapes the typed errors (fast-check)', () => {
  const IMAGE_CODES = new Set([
    'ERR_IMAGE_BAD_MAGIC', 'ERR_IMAGE_BAD_CHECKSUM', 'ERR_IMAGE_TRUNCATED', 'ERR_IMAGE_UNKNOWN_SECTION',
    'ERR_IMAGE_BAD_SIGNATURE', 'ERR_IMAGE_TOO_LARGE', 'ERR_IMAGE_UNSUPPORTED_VERSION', 'ERR_IMAGE_MALFORMED',
  ]);
  function outcome(bytes: Uint8Array): string {
    for (const f of [loadImage, measureImage, describeImage]) {
      try {
        f(bytes);
      } catch (e) {
        if (!(e instanceof ImageError) || !(e instanceof EnclaveError) || !IMAGE_CODES.has(e.code)) return `escaped: ${String(e)}`;
      }
    }
    return 'ok';
  }

  test('random bytes, with and without the magic number in front', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, withMagic) => {
        const x = withMagic ? new Uint8Array([...imageMagic(), ...bytes]) : bytes;
        expect(outcome(x)).toBe('ok');
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
  function mutate(img: Uint8Array, muts: Mutation[]): Uint8Array {
    let x = copy(img);
    for (const m of muts) {
      if (x.length === 0) break;
      const at = m.at % x.length;
      if (m.kind === 'flip') xorAt(x, at, 1 << m.bit);
      else if (m.kind === 'set') x[at] = m.value;
      else if (m.kind === 'cut') x = x.slice(0, at);
      else x = new Uint8Array([...x.subarray(0, at), ...m.bytes, ...x.subarray(at)]);
    }
    return x;
  }

  test('random mutations of a valid signed image, raw and with the CRC and length fixed up', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (muts, fix) => {
        let x = mutate(signed, muts);
        if (fix && x.length >= 24) {
          view(x).setUint32(16, x.length);
          x = fixCrc(x);
        }
        expect(outcome(x)).toBe('ok');
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });

  test('mutations inside the SIGNATURE section (certificate, COSE), CRC fixed: ERR_IMAGE_BAD_SIGNATURE or nothing', () => {
    const sig = sections(signed)[4];
    if (!sig) throw new Error('unsigned');
    fc.assert(
      fc.property(fc.integer({ min: sig.dataStart, max: sig.end - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const x = copy(signed);
        xorAt(x, at, xor);
        fixCrc(x);
        expect(outcome(x)).toBe('ok');
        // A changed signature section can never load: its bytes are canonical and signed.
        expect(codeOf(() => loadImage(x))).toBe('ERR_IMAGE_BAD_SIGNATURE');
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });

  test('mutations confined to the header and section headers, CRC fixed: each is accepted or refused with a code', () => {
    const headerOffsets = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, ...sections(signed).flatMap((s) => Array.from({ length: 8 }, (_, i) => s.start + i))];
    fc.assert(
      fc.property(fc.constantFrom(...headerOffsets), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const x = copy(signed);
        xorAt(x, at, xor);
        expect(outcome(fixCrc(x))).toBe('ok');
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });
});
