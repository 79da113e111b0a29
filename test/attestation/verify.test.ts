// The verifier: AWS's procedure (attestation_process.md §3) and the caller's policy, failing
// closed. Every check has a case that must fail with its own code.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttestationAuthority,
  ChainCache,
  decodeDocument,
  makeDocument,
  measure,
  signDocument,
  verifyAttestation,
  type VerifyOptions,
} from '../../attestation/index.ts';
import { buildChain, docWithChain, PCRS, pem, tempDir, x509 } from './fixtures.ts';

const dir = tempDir();
const otherDir = tempDir();
let authority: AttestationAuthority;
let other: AttestationAuthority;
let doc: Uint8Array;
let anchors: Uint8Array[];
const NONCE = new Uint8Array([7, 7, 7]);

beforeAll(async () => {
  authority = await AttestationAuthority.open({ dataDir: dir.path });
  other = await AttestationAuthority.open({ dataDir: otherDir.path });
  const device = await authority.createDevice({ moduleId: 'i-0123456789abcdef-enc0123456789abcdef', measurements: PCRS });
  doc = await device.attestation({ nonce: NONCE });
  anchors = [authority.rootCertificate];
});
afterAll(() => {
  dir.cleanup();
  otherDir.cleanup();
});

const code = (c: string) => expect.objectContaining({ code: c });
function opts(over: Partial<VerifyOptions> = {}): VerifyOptions {
  return { trustAnchors: anchors, ...over };
}

describe('a valid sandbox document', () => {
  it('verifies with PCRs, nonce and max age', () => {
    const r = verifyAttestation(doc, opts({ expectedPcrs: PCRS, expectedNonce: NONCE, maxAgeMs: 60_000 }));
    expect(r.debug).toBe(false);
    expect(r.document.nonce).toEqual(NONCE);
  });
  it('accepts expected PCRs given as hex strings in a plain object', () => {
    const hex = Object.fromEntries([...PCRS].slice(0, 3).map(([i, v]) => [i, Buffer.from(v).toString('hex')]));
    expect(verifyAttestation(doc, opts({ expectedPcrs: hex })).document.pcrs.size).toBe(16);
  });
});

/**
 * The byte offsets of every DER header (tag and length bytes) of the TLV at `start`, recursively
 * into constructed values: the structure of a certificate, as X.690 lays it out.
 */
function derHeaders(der: Uint8Array, start: number, end: number, out: number[]): void {
  let p = start;
  while (p < end) {
    const tagAt = p;
    const constructed = ((der[p] as number) & 0x20) !== 0;
    p++;
    let len = der[p] as number;
    p++;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (der[p + i] as number);
      p += n;
    }
    for (let i = tagAt; i < p; i++) out.push(i);
    if (constructed) derHeaders(der, p, p + len, out);
    p += len;
  }
}

describe('tamper suite: single-byte changes are rejected', () => {
  // Every byte outside the signed certificates' interiors is flipped: COSE framing, the protected
  // header, the payload's keys, module id, timestamp, PCRs, nonce, the CBOR heads of the
  // certificates, the signature, and the whole root certificate (compared by DER, so cheap). Inside
  // the leaf and the three intermediates, where each flip costs a full chain validation, every DER
  // header byte (the structure), the first 16 and last 8 bytes, and every 16th byte of the rest
  // (a different residue per certificate) are flipped: about a third of them. Deterministic, so a
  // failure names a position that fails every time.
  it('flipping the low bit of every structural byte and a deterministic sample of certificate bytes', () => {
    const { document } = decodeDocument(doc);
    const buf = Buffer.from(doc);
    const signed = [document.certificate, ...document.cabundle.slice(1)];
    const interiors = signed.map((c) => {
      const at = buf.indexOf(Buffer.from(c));
      expect(at).toBeGreaterThan(0);
      return [at, at + c.length] as const;
    });
    const positions = new Set<number>();
    for (let i = 0; i < doc.length; i++) if (!interiors.some(([a, b]) => i >= a && i < b)) positions.add(i);
    const outside = positions.size;
    interiors.forEach(([a, b], k) => {
      const headers: number[] = [];
      derHeaders(doc, a, b, headers);
      for (const h of headers) positions.add(h);
      for (let i = a; i < b; i++) if (i < a + 16 || i >= b - 8 || (i - a) % 16 === k) positions.add(i);
    });
    // The sample is not vacuous: hundreds of bytes inside the certificates, all of their structure.
    expect(positions.size - outside).toBeGreaterThan(400);
    const cache = new ChainCache();
    const escaped: number[] = [];
    for (const i of [...positions].sort((x, y) => x - y)) {
      const t = new Uint8Array(doc);
      t[i]! ^= 0x01;
      try {
        verifyAttestation(t, opts({ chainCache: cache }));
        escaped.push(i);
      } catch (e) {
        expect((e as { code?: string }).code).toMatch(/^ERR_/);
      }
    }
    expect(escaped).toEqual([]);
  });
  it('replacing a byte with another value, at 300 positions of a seeded sequence', () => {
    const cache = new ChainCache();
    let state = 0x2545f491;
    const rnd = (n: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    for (let n = 0; n < 300; n++) {
      const i = rnd(doc.length);
      const t = new Uint8Array(doc);
      t[i] = (t[i]! + 1 + rnd(255)) & 0xff;
      expect(() => verifyAttestation(t, opts({ chainCache: cache }))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) }));
    }
  });
});

describe('certificate chain checks', () => {
  it('a swapped cabundle order → ERR_ATTESTATION_CHAIN', () => {
    const d = decodeDocument(doc).document;
    const [root, regional, zonal, instance] = d.cabundle as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const swapped = signDocument(makeDocument({ ...d, cabundle: [root, zonal, regional, instance] }), generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    expect(() => verifyAttestation(swapped, opts())).toThrow(code('ERR_ATTESTATION_CHAIN'));
  });
  it('a reversed cabundle (root last) → ERR_ATTESTATION_UNTRUSTED_ROOT', () => {
    const d = decodeDocument(doc).document;
    const reversed = signDocument(makeDocument({ ...d, cabundle: [...d.cabundle].reverse() }), generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    expect(() => verifyAttestation(reversed, opts())).toThrow(code('ERR_ATTESTATION_UNTRUSTED_ROOT'));
  });
  it('a document from another sandbox root → ERR_ATTESTATION_UNTRUSTED_ROOT', async () => {
    const foreign = await (await other.createDevice({ moduleId: 'i-1', measurements: PCRS })).attestation();
    expect(() => verifyAttestation(foreign, opts())).toThrow(code('ERR_ATTESTATION_UNTRUSTED_ROOT'));
  });
  it('a root removed or replaced in the caller\'s anchor array is no longer trusted → ERR_ATTESTATION_UNTRUSTED_ROOT', () => {
    const list: Uint8Array[] = [other.rootCertificate, authority.rootCertificate];
    expect(verifyAttestation(doc, { trustAnchors: list }).document.nonce).toEqual(NONCE);
    list.pop();
    expect(() => verifyAttestation(doc, { trustAnchors: list })).toThrow(code('ERR_ATTESTATION_UNTRUSTED_ROOT'));
    const pems = [authority.pki.rootPem()];
    expect(verifyAttestation(doc, { trustAnchors: pems }).document.nonce).toEqual(NONCE);
    pems[0] = other.pki.rootPem();
    expect(() => verifyAttestation(doc, { trustAnchors: pems })).toThrow(code('ERR_ATTESTATION_UNTRUSTED_ROOT'));
  });
  it('a leaf from another root presented with our cabundle → ERR_ATTESTATION_CHAIN', async () => {
    const foreign = decodeDocument(await (await other.createDevice({ moduleId: 'i-1', measurements: PCRS })).attestation()).document;
    const ours = decodeDocument(doc).document;
    const mixed = makeDocument({ ...foreign, cabundle: ours.cabundle });
    // signed with a key we do not have: it must fail on the chain before the signature matters
    const bytes = signDocument(mixed, generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    expect(() => verifyAttestation(bytes, opts())).toThrow(code('ERR_ATTESTATION_CHAIN'));
  });
  it('a document signed by a key other than the leaf → ERR_ATTESTATION_SIGNATURE', () => {
    const d = decodeDocument(doc).document;
    const forged = signDocument(d, generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
    expect(() => verifyAttestation(forged, opts())).toThrow(code('ERR_ATTESTATION_SIGNATURE'));
  });

  const HOUR = 3600_000;
  const defects: [string, string, Parameters<typeof buildChain>[0]][] = [
    ['an expired intermediate', 'ERR_ATTESTATION_EXPIRED', { zonal: { notAfter: Date.now() - HOUR, notBefore: Date.now() - 2 * HOUR } }],
    ['an expired leaf', 'ERR_ATTESTATION_EXPIRED', { leaf: { notAfter: Date.now() - 1000, notBefore: Date.now() - 3 * HOUR } }],
    ['a not-yet-valid leaf', 'ERR_ATTESTATION_NOT_YET_VALID', { leaf: { notBefore: Date.now() + HOUR, notAfter: Date.now() + 4 * HOUR } }],
    ['a not-yet-valid intermediate', 'ERR_ATTESTATION_NOT_YET_VALID', { regional: { notBefore: Date.now() + HOUR, notAfter: Date.now() + 24 * HOUR } }],
    ['a CA leaf', 'ERR_ATTESTATION_CHAIN', { leaf: { ca: true } }],
    ['a leaf without digitalSignature', 'ERR_ATTESTATION_CHAIN', { leaf: { keyUsage: x509.KeyUsageFlags.keyEncipherment } }],
    ['a leaf without keyUsage', 'ERR_ATTESTATION_CHAIN', { leaf: { keyUsage: null } }],
    ['a P-256 leaf key', 'ERR_ATTESTATION_CHAIN', { leaf: { curve: 'P-256' } }],
    ['an intermediate that is not a CA', 'ERR_ATTESTATION_CHAIN', { zonal: { ca: false } }],
    ['an intermediate without basicConstraints', 'ERR_ATTESTATION_CHAIN', { instance: { basicConstraints: false } }],
    ['an intermediate without keyCertSign', 'ERR_ATTESTATION_CHAIN', { instance: { keyUsage: x509.KeyUsageFlags.digitalSignature } }],
    ['pathLen exceeded (regional pathLen 0 above two CAs)', 'ERR_ATTESTATION_CHAIN', { regional: { pathLen: 0 } }],
    ['pathLen exceeded (zonal pathLen 0 above the instance CA)', 'ERR_ATTESTATION_CHAIN', { zonal: { pathLen: 0 } }],
    ['a certificate signed with ecdsa-with-SHA256', 'ERR_ATTESTATION_CHAIN', { zonal: { hash: 'SHA-256' } }],
    ['an unknown critical extension', 'ERR_ATTESTATION_CHAIN', { instance: { extraCritical: true } }],
  ];
  it.each(defects)('%s → %s', async (_, want, over) => {
    const chain = await buildChain(over);
    const bytes = docWithChain(chain);
    expect(() => verifyAttestation(bytes, { trustAnchors: [chain.root.der] })).toThrow(code(want));
  });
  it('the same builder without defects gives a document that verifies (the cases above are not vacuous)', async () => {
    const chain = await buildChain();
    expect(verifyAttestation(docWithChain(chain), { trustAnchors: [pem(chain.root.der)] }).document.cabundle.length).toBe(4);
  });
  it('an intermediate whose issuer name does not match → ERR_ATTESTATION_CHAIN', async () => {
    const a = await buildChain();
    const b = await buildChain({ root: { subject: 'CN=test-root' } });
    // b's zonal was issued by b's regional: splice it into a's chain
    const cabundle = [a.cabundle[0]!, a.cabundle[1]!, b.cabundle[2]!, a.cabundle[3]!];
    expect(() => verifyAttestation(docWithChain({ cabundle, leaf: a.leaf }), { trustAnchors: [a.root.der] })).toThrow(code('ERR_ATTESTATION_CHAIN'));
  });
});

describe('caller policy (fail closed)', () => {
  it('a PCR the policy names but the document lacks → ERR_PCR_MISMATCH (CVE-2025-64186)', () => {
    expect(() => verifyAttestation(doc, opts({ expectedPcrs: new Map([[20, new Uint8Array(48)]]) }))).toThrow(code('ERR_PCR_MISMATCH'));
  });
  it('a PCR that differs → ERR_PCR_MISMATCH', () => {
    expect(() => verifyAttestation(doc, opts({ expectedPcrs: new Map([[2, measure(new Uint8Array([9]))]]) }))).toThrow(code('ERR_PCR_MISMATCH'));
  });
  it('a wrong nonce → ERR_NONCE_MISMATCH', () => {
    expect(() => verifyAttestation(doc, opts({ expectedNonce: new Uint8Array([7, 7, 8]) }))).toThrow(code('ERR_NONCE_MISMATCH'));
  });
  it('a nonce expected but absent → ERR_NONCE_MISMATCH', async () => {
    const noNonce = await (await authority.createDevice({ moduleId: 'i-2', measurements: PCRS })).attestation();
    expect(() => verifyAttestation(noNonce, opts({ expectedNonce: NONCE }))).toThrow(code('ERR_NONCE_MISMATCH'));
  });
  it('a too-old timestamp → ERR_ATTESTATION_TOO_OLD', () => {
    const ts = decodeDocument(doc).document.timestamp;
    expect(() => verifyAttestation(doc, opts({ at: ts + 61_000, maxAgeMs: 60_000 }))).toThrow(code('ERR_ATTESTATION_TOO_OLD'));
    expect(verifyAttestation(doc, opts({ at: ts + 59_000, maxAgeMs: 60_000 })).document.timestamp).toBe(ts);
  });
  it('a timestamp from the future (beyond the clock skew) → ERR_ATTESTATION_TOO_OLD', async () => {
    const chain = await buildChain();
    const now = Date.now();
    const future = docWithChain(chain, { timestamp: now + 10 * 60_000 });
    const o = { trustAnchors: [chain.root.der], at: now, maxAgeMs: 60_000, clockSkewMs: 60_000 };
    expect(() => verifyAttestation(future, o)).toThrow(code('ERR_ATTESTATION_TOO_OLD'));
    expect(verifyAttestation(docWithChain(chain, { timestamp: now + 30_000 }), o).document.moduleId).toMatch(/^i-/);
  });
  it('a debug document when debug is not allowed → ERR_DEBUG_MODE_NOT_ALLOWED; allowed when asked', async () => {
    const dbg = await (await authority.createDevice({ moduleId: 'i-3', measurements: PCRS, debug: true })).attestation();
    expect(() => verifyAttestation(dbg, opts())).toThrow(code('ERR_DEBUG_MODE_NOT_ALLOWED'));
    expect(verifyAttestation(dbg, opts({ allowDebug: true })).debug).toBe(true);
    // and a debug document never matches a policy pinning real PCR0
    expect(() => verifyAttestation(dbg, opts({ allowDebug: true, expectedPcrs: new Map([[0, PCRS.get(0)!]]) }))).toThrow(code('ERR_PCR_MISMATCH'));
  });
});

describe('chain cache', () => {
  it('repeated documents from one enclave validate the chain once', async () => {
    const cache = new ChainCache();
    const device = await authority.createDevice({ moduleId: 'i-4', measurements: PCRS });
    for (let i = 0; i < 5; i++) verifyAttestation(await device.attestation(), opts({ chainCache: cache }));
    expect(cache.misses).toBe(1);
    expect(cache.hits).toBe(4);
  });
  it('a cached chain still needs its root among the current anchors → ERR_ATTESTATION_UNTRUSTED_ROOT', () => {
    const cache = new ChainCache();
    verifyAttestation(doc, opts({ chainCache: cache }));
    expect(() => verifyAttestation(doc, { trustAnchors: [other.rootCertificate], chainCache: cache })).toThrow(code('ERR_ATTESTATION_UNTRUSTED_ROOT'));
  });
  it('a cached chain is re-checked for validity at each verification time → ERR_ATTESTATION_EXPIRED', () => {
    const cache = new ChainCache();
    verifyAttestation(doc, opts({ chainCache: cache }));
    expect(() => verifyAttestation(doc, opts({ chainCache: cache, at: Date.now() + 4 * 3600_000 }))).toThrow(code('ERR_ATTESTATION_EXPIRED'));
  });
  it('is bounded (LRU)', () => {
    const cache = new ChainCache(2);
    for (let i = 0; i < 5; i++) cache.set(String(i), {} as never);
    expect(cache.size).toBe(2);
    // the entry read last stays; the least recently used one goes
    cache.get('3');
    cache.set('5', {} as never);
    expect([cache.get('3'), cache.get('4'), cache.get('5')].map((v) => v !== undefined)).toEqual([true, false, true]);
  });
  it('refuses a bound that is not a positive integer → ERR_INVALID_ARGUMENT', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) expect(() => new ChainCache(n)).toThrow(code('ERR_INVALID_ARGUMENT'));
  });
});

describe('verifier arguments (ERR_INVALID_ARGUMENT)', () => {
  it('no trust anchors', () => {
    expect(() => verifyAttestation(doc, { trustAnchors: [] })).toThrow(code('ERR_INVALID_ARGUMENT'));
  });
  it('an anchor that is not a certificate', () => {
    expect(() => verifyAttestation(doc, { trustAnchors: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] })).toThrow(code('ERR_INVALID_ARGUMENT'));
  });
  it('an expected PCR that is not hex or has the wrong length', () => {
    expect(() => verifyAttestation(doc, opts({ expectedPcrs: { 0: 'zz' } }))).toThrow(code('ERR_INVALID_ARGUMENT'));
    expect(() => verifyAttestation(doc, opts({ expectedPcrs: { 0: 'abcd' } }))).toThrow(code('ERR_INVALID_ARGUMENT'));
    expect(() => verifyAttestation(doc, opts({ expectedPcrs: { 40: '00'.repeat(48) } }))).toThrow(code('ERR_INVALID_ARGUMENT'));
  });
  it('an invalid time', () => {
    expect(() => verifyAttestation(doc, opts({ at: new Date('nope') }))).toThrow(code('ERR_INVALID_ARGUMENT'));
    expect(() => verifyAttestation(doc, opts({ at: '2025-04-01' as unknown as number }))).toThrow(code('ERR_INVALID_ARGUMENT'));
  });
  it('a NaN or negative maxAgeMs or clockSkewMs (a NaN limit would turn the age check off)', () => {
    const later = Date.now() + 3600_000;
    expect(() => verifyAttestation(doc, opts({ at: later, maxAgeMs: Number.NaN }))).toThrow(code('ERR_INVALID_ARGUMENT'));
    expect(() => verifyAttestation(doc, opts({ maxAgeMs: -1 }))).toThrow(code('ERR_INVALID_ARGUMENT'));
    expect(() => verifyAttestation(doc, opts({ maxAgeMs: 60_000, clockSkewMs: Number.NaN }))).toThrow(code('ERR_INVALID_ARGUMENT'));
    expect(() => verifyAttestation(doc, opts({ maxAgeMs: '60000' as unknown as number }))).toThrow(code('ERR_INVALID_ARGUMENT'));
  });
  it('an expected nonce that is not bytes', () => {
    expect(() => verifyAttestation(doc, opts({ expectedNonce: '\x07\x07\x07' as unknown as Uint8Array }))).toThrow(code('ERR_INVALID_ARGUMENT'));
  });
});
