// Documents this project makes have AWS's shape, and the decoder's syntax checks
// (attestation_process.md §3.2.2.1) each refuse what they should, with ERR_ATTESTATION_MALFORMED.
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttestationAuthority,
  decodeCoseSign1,
  decodeDocument,
  encodeCbor,
  LEAF_LIFETIME_MS,
  makeDocument,
  signCoseSign1,
  toHex,
  type NsmDevice,
} from '../../attestation/index.ts';
import { PCRS, tempDir } from './fixtures.ts';
import { generateKeyPairSync } from 'node:crypto';

const dir = tempDir();
let authority: AttestationAuthority;
let device: NsmDevice;
let doc: Uint8Array;
const key = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;

beforeAll(async () => {
  authority = await AttestationAuthority.open({ dataDir: dir.path });
  device = await authority.createDevice({ moduleId: 'i-0123456789abcdef-enc0123456789abcdef', measurements: PCRS });
  doc = await device.attestation({ nonce: new Uint8Array([1, 2, 3]) });
});
afterAll(() => dir.cleanup());

describe('documents we make look like AWS documents', () => {
  it('bytes begin 84 44 a1 01 38 22 a0 59 and the signature is a raw 96-byte r‖s', () => {
    expect(toHex(doc.slice(0, 8))).toBe('8444a1013822a059');
    const cose = decodeCoseSign1(doc);
    expect(cose.signature.length).toBe(96);
    expect(toHex(doc.slice(-98, -96))).toBe('5860');
  });

  it('payload: definite map of the nine keys in AWS order, uint64 timestamp, null optionals', () => {
    const { cose } = decodeDocument(doc);
    const p = cose.payload;
    expect(p[0]).toBe(0xa9);
    const text = Buffer.from(p).toString('latin1');
    const order = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce'].map((k) => text.indexOf(k));
    expect(order.every((v, i) => v > 0 && (i === 0 || v > order[i - 1]!))).toBe(true);
    const ts = text.indexOf('timestamp') + 'timestamp'.length;
    expect(p[ts]).toBe(0x1b); // uint64 in 8 bytes
    // public_key and user_data absent → CBOR null (f6)
    expect(p[text.indexOf('public_key') + 10]).toBe(0xf6);
    expect(p[text.indexOf('user_data') + 9]).toBe(0xf6);
  });

  it('carries PCR0–15 of 48 bytes, a four-certificate cabundle and a 3-hour leaf naming the enclave', () => {
    const { document: d } = decodeDocument(doc);
    expect([...d.pcrs.keys()]).toEqual(Array.from({ length: 16 }, (_, i) => i));
    for (const v of d.pcrs.values()) expect(v.length).toBe(48);
    expect(d.cabundle.length).toBe(4);
    const leaf = new X509Certificate(d.certificate);
    expect(leaf.validToDate.getTime() - leaf.validFromDate.getTime()).toBe(LEAF_LIFETIME_MS);
    expect(leaf.subject).toContain('CN=i-0123456789abcdef-enc0123456789abcdef');
    expect(leaf.ca).toBe(false);
    const root = new X509Certificate(d.cabundle[0]!);
    expect(root.ca).toBe(true);
    expect(root.subject).toBe(root.issuer);
    // root first, nearest intermediate last: each issues the next
    for (let i = 1; i < 4; i++) expect(new X509Certificate(d.cabundle[i]!).checkIssued(new X509Certificate(d.cabundle[i - 1]!))).toBe(true);
    expect(leaf.checkIssued(new X509Certificate(d.cabundle[3]!))).toBe(true);
  });
});

/** Payload fields as AWS names them; tests edit one at a time. */
function fields(): Map<string, unknown> {
  const d = makeDocument({ moduleId: 'i-1', timestamp: 1_700_000_000_000, pcrs: PCRS, certificate: new Uint8Array(10), cabundle: [new Uint8Array(10)] });
  return new Map<string, unknown>([
    ['module_id', d.moduleId],
    ['digest', 'SHA384'],
    ['timestamp', BigInt(d.timestamp)],
    ['pcrs', d.pcrs],
    ['certificate', d.certificate],
    ['cabundle', d.cabundle],
    ['public_key', null],
    ['user_data', null],
    ['nonce', null],
  ]);
}

function withPayload(m: Map<string, unknown> | unknown): Uint8Array {
  const obj = m instanceof Map ? Object.fromEntries(m) : m;
  return signCoseSign1(encodeCbor(obj), key);
}

const malformed = expect.objectContaining({ code: 'ERR_ATTESTATION_MALFORMED' });

describe('payload syntax checks (each refused with ERR_ATTESTATION_MALFORMED)', () => {
  it('accepts the well-formed baseline', () => {
    expect(decodeDocument(withPayload(fields())).document.moduleId).toBe('i-1');
  });
  const cases: [string, (m: Map<string, unknown>) => void][] = [
    ['missing module_id', (m) => m.delete('module_id')],
    ['empty module_id', (m) => m.set('module_id', '')],
    ['module_id not text', (m) => m.set('module_id', new Uint8Array(3))],
    ['digest not SHA384', (m) => m.set('digest', 'SHA256')],
    ['missing digest', (m) => m.delete('digest')],
    ['timestamp zero', (m) => m.set('timestamp', 0)],
    ['timestamp negative', (m) => m.set('timestamp', -5)],
    ['timestamp text', (m) => m.set('timestamp', '1700000000000')],
    ['timestamp float', (m) => m.set('timestamp', 1.5)],
    ['missing pcrs', (m) => m.delete('pcrs')],
    ['pcrs empty', (m) => m.set('pcrs', new Map())],
    ['pcrs not a map', (m) => m.set('pcrs', [new Uint8Array(48)])],
    ['pcr index 32', (m) => m.set('pcrs', new Map([[32, new Uint8Array(48)]]))],
    ['pcr index negative', (m) => m.set('pcrs', new Map([[-1, new Uint8Array(48)]]))],
    ['pcr index text', (m) => m.set('pcrs', new Map([['0', new Uint8Array(48)]]))],
    ['pcr index twice (as 0 and as uint64 0)', (m) => m.set('pcrs', new Map<number | bigint, Uint8Array>([[0, new Uint8Array(48)], [0n, new Uint8Array(48).fill(1)]]))],
    ['pcr length 47', (m) => m.set('pcrs', new Map([[0, new Uint8Array(47)]]))],
    ['pcr not bytes', (m) => m.set('pcrs', new Map([[0, 'x'.repeat(48)]]))],
    ['33 pcrs', (m) => m.set('pcrs', new Map(Array.from({ length: 33 }, (_, i) => [i, new Uint8Array(48)])))],
    ['missing certificate', (m) => m.delete('certificate')],
    ['empty certificate', (m) => m.set('certificate', new Uint8Array(0))],
    ['certificate over 1024 bytes', (m) => m.set('certificate', new Uint8Array(1025))],
    ['missing cabundle', (m) => m.delete('cabundle')],
    ['empty cabundle', (m) => m.set('cabundle', [])],
    ['cabundle entry empty', (m) => m.set('cabundle', [new Uint8Array(0)])],
    ['cabundle entry over 1024', (m) => m.set('cabundle', [new Uint8Array(1025)])],
    ['cabundle entry text', (m) => m.set('cabundle', ['cert'])],
    ['public_key over 1024', (m) => m.set('public_key', new Uint8Array(1025))],
    ['user_data over 1024', (m) => m.set('user_data', new Uint8Array(1025))],
    ['nonce over 1024', (m) => m.set('nonce', new Uint8Array(1025))],
    ['nonce text', (m) => m.set('nonce', 'abc')],
    ['unknown field', (m) => m.set('extra', 1)],
  ];
  it.each(cases)('%s', (_, edit) => {
    const m = fields();
    edit(m);
    expect(() => decodeDocument(withPayload(m))).toThrow(malformed);
  });
  it('payload not a map', () => {
    expect(() => decodeDocument(withPayload([1, 2, 3]))).toThrow(malformed);
  });
  it('non-text key', () => {
    expect(() => decodeDocument(signCoseSign1(encodeCbor(new Map<unknown, unknown>([[1, 'x']])), key))).toThrow(malformed);
  });
  it('optional fields may be absent or null and read as null', () => {
    const m = fields();
    m.delete('public_key');
    m.delete('user_data');
    m.delete('nonce');
    const d = decodeDocument(withPayload(m)).document;
    expect([d.publicKey, d.userData, d.nonce]).toEqual([null, null, null]);
  });
});

describe('COSE_Sign1 envelope checks (ERR_ATTESTATION_MALFORMED)', () => {
  const payload = encodeCbor(Object.fromEntries(fields()));
  const sig = new Uint8Array(96);
  const prot = new Uint8Array([0xa1, 0x01, 0x38, 0x22]);
  const cases: [string, unknown][] = [
    ['not an array', new Map()],
    ['three items', [prot, new Map(), payload]],
    ['protected not bytes', [new Map([[1, -35]]), new Map(), payload, sig]],
    ['alg ES256 (-7)', [encodeCbor(new Map([[1, -7]])), new Map(), payload, sig]],
    ['extra protected header', [encodeCbor(new Map<number, unknown>([[1, -35], [4, new Uint8Array(1)]])), new Map(), payload, sig]],
    ['unprotected not a map', [prot, [], payload, sig]],
    ['unprotected not empty', [prot, new Map([[4, new Uint8Array(2)]]), payload, sig]],
    ['payload not bytes', [prot, new Map(), 'payload', sig]],
    ['signature 64 bytes', [prot, new Map(), payload, new Uint8Array(64)]],
    ['signature 97 bytes', [prot, new Map(), payload, new Uint8Array(97)]],
  ];
  it.each(cases)('%s', (_, value) => {
    expect(() => decodeCoseSign1(encodeCbor(value))).toThrow(malformed);
  });
  it('a tag other than 18', () => {
    const inner = encodeCbor([prot, new Map(), payload, sig]);
    const tagged = new Uint8Array([0xd1, ...inner]); // tag 17 (COSE_Mac0)
    expect(() => decodeCoseSign1(tagged)).toThrow(malformed);
  });
  it('trailing bytes after the document', () => {
    const d = signCoseSign1(payload, key);
    expect(() => decodeCoseSign1(new Uint8Array([...d, 0x00]))).toThrow(malformed);
  });
  it('empty input', () => {
    expect(() => decodeCoseSign1(new Uint8Array(0))).toThrow(malformed);
  });
  it('non-bytes input is an argument error (ERR_INVALID_ARGUMENT)', () => {
    expect(() => decodeCoseSign1('8444' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('makeDocument preconditions (ERR_INVALID_ARGUMENT)', () => {
  const base = { moduleId: 'i-1', timestamp: 1, pcrs: PCRS, certificate: new Uint8Array(1), cabundle: [new Uint8Array(1)] };
  const bad: [string, Record<string, unknown>][] = [
    ['empty module id', { moduleId: '' }],
    ['zero timestamp', { timestamp: 0 }],
    ['fractional timestamp', { timestamp: 1.5 }],
    ['no pcrs', { pcrs: new Map() }],
    ['pcr of 32 bytes', { pcrs: new Map([[0, new Uint8Array(32)]]) }],
    ['pcr index 40', { pcrs: new Map([[40, new Uint8Array(48)]]) }],
    ['empty cabundle', { cabundle: [] }],
    ['cabundle not an array', { cabundle: undefined }],
    ['nonce over 1024', { nonce: new Uint8Array(1025) }],
    ['user data not bytes', { userData: 'x' }],
  ];
  it.each(bad)('%s', (_, over) => {
    expect(() => makeDocument({ ...base, ...over } as Parameters<typeof makeDocument>[0])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
  it('keeps private copies of caller bytes', () => {
    const nonce = new Uint8Array([1, 2, 3]);
    const d = makeDocument({ ...base, nonce });
    nonce[0] = 9;
    expect(d.nonce![0]).toBe(1);
  });
});
