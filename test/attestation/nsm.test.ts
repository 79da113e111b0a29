// The NSM device model speaks the nsm-api protocol: every request shape, every response shape, and
// every error code, on the wire (CBOR) and through the typed API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttestationAuthority,
  decodeCbor,
  decodeDocument,
  decodeNsmResponse,
  encodeCbor,
  encodeNsmRequest,
  extendPcr,
  NsmDevice,
  NsmError,
  NSM_MAX_REQUEST,
  toHex,
  verifyAttestation,
  zeroPcr,
  type CborValue,
  type NsmRequest,
} from '../../attestation/index.ts';
import { PCRS, tempDir } from './fixtures.ts';
import { nested, sharedReferenceBomb, text } from './hostile-cbor.ts';

const dir = tempDir();
let authority: AttestationAuthority;
let device: NsmDevice;
const MODULE = 'i-0123456789abcdef-enc0123456789abcdef';

beforeAll(async () => {
  authority = await AttestationAuthority.open({ dataDir: dir.path });
});
afterAll(() => dir.cleanup());

async function fresh(debug = false): Promise<NsmDevice> {
  return authority.createDevice({ moduleId: MODULE, measurements: PCRS, debug });
}

async function call(d: NsmDevice, req: NsmRequest | unknown, bufferSize?: number): Promise<CborValue> {
  const bytes = req instanceof Uint8Array ? req : encodeCbor(req);
  return decodeCbor(await d.process(bytes, bufferSize), 'response', { maxBytes: 1 << 20, maxItems: 1000, maxDepth: 8 });
}

const error = (code: string) => new Map([['Error', code]]);

describe('NSM requests and responses (nsm-api src/api/mod.rs shapes)', () => {
  beforeAll(async () => {
    device = await fresh();
  });

  it('DescribeNSM → version 1.0.0, module id, 32 PCRs, PCR0–15 locked, SHA384', async () => {
    const r = (await call(device, 'DescribeNSM')) as Map<string, Map<string, CborValue>>;
    const d = r.get('DescribeNSM')!;
    expect([...d.keys()]).toEqual(['version_major', 'version_minor', 'version_patch', 'module_id', 'max_pcrs', 'locked_pcrs', 'digest']);
    expect(d.get('version_major')).toBe(1);
    expect(d.get('module_id')).toBe(MODULE);
    expect(d.get('max_pcrs')).toBe(32);
    expect(d.get('locked_pcrs')).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(d.get('digest')).toBe('SHA384');
  });

  it('DescribePCR → {lock, data}: boot PCRs locked with their measurement, PCR16–31 zero and unlocked', async () => {
    for (const i of [0, 2, 15]) {
      const r = (await call(device, { DescribePCR: { index: i } })) as Map<string, Map<string, CborValue>>;
      expect(r.get('DescribePCR')!.get('lock')).toBe(true);
      expect(toHex(r.get('DescribePCR')!.get('data') as Uint8Array)).toBe(toHex(PCRS.get(i)!));
    }
    const r = (await call(device, { DescribePCR: { index: 16 } })) as Map<string, Map<string, CborValue>>;
    expect(r.get('DescribePCR')!.get('lock')).toBe(false);
    expect(toHex(r.get('DescribePCR')!.get('data') as Uint8Array)).toBe(toHex(zeroPcr()));
  });

  it('ExtendPCR → {data} = SHA384(old ‖ data), and the next extend chains on it', async () => {
    const data = new TextEncoder().encode('hello');
    const r1 = (await call(device, { ExtendPCR: { index: 16, data } })) as Map<string, Map<string, Uint8Array>>;
    const want1 = extendPcr(zeroPcr(), data);
    expect(toHex(r1.get('ExtendPCR')!.get('data')!)).toBe(toHex(want1));
    const r2 = (await call(device, { ExtendPCR: { index: 16, data } })) as Map<string, Map<string, Uint8Array>>;
    expect(toHex(r2.get('ExtendPCR')!.get('data')!)).toBe(toHex(extendPcr(want1, data)));
  });

  it('LockPCR → "LockPCR"; the PCR then reads locked and appears in documents', async () => {
    expect(await call(device, { LockPCR: { index: 16 } })).toBe('LockPCR');
    const r = (await call(device, { DescribePCR: { index: 16 } })) as Map<string, Map<string, CborValue>>;
    expect(r.get('DescribePCR')!.get('lock')).toBe(true);
    const doc = decodeDocument(await device.attestation()).document;
    expect(doc.pcrs.has(16)).toBe(true);
    expect(doc.pcrs.has(17)).toBe(false);
  });

  it('LockPCRs {range} → "LockPCRs" locks PCR0 … range−1', async () => {
    const d = await fresh();
    expect(await call(d, { LockPCRs: { range: 20 } })).toBe('LockPCRs');
    expect(d.describeNsm().lockedPcrs).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('GetRandom → 256 random bytes, different each call', async () => {
    const a = (await call(device, 'GetRandom')) as Map<string, Map<string, Uint8Array>>;
    const b = (await call(device, 'GetRandom')) as Map<string, Map<string, Uint8Array>>;
    expect(a.get('GetRandom')!.get('random')!.length).toBe(256);
    expect(toHex(a.get('GetRandom')!.get('random')!)).not.toBe(toHex(b.get('GetRandom')!.get('random')!));
  });

  it('Attestation → {document}: a verifiable document carrying the request fields', async () => {
    const req = { user_data: new Uint8Array([1]), nonce: new Uint8Array([2, 2]), public_key: new Uint8Array([3, 3, 3]) };
    const r = (await call(device, { Attestation: req })) as Map<string, Map<string, Uint8Array>>;
    const bytes = r.get('Attestation')!.get('document')!;
    const v = verifyAttestation(bytes, { trustAnchors: [authority.rootCertificate], expectedNonce: req.nonce });
    expect(v.document.moduleId).toBe(MODULE);
    expect(toHex(v.document.userData!)).toBe('01');
    expect(toHex(v.document.publicKey!)).toBe('030303');
  });

  it('Attestation with null or absent fields gives nulls', async () => {
    const r = (await call(device, { Attestation: { user_data: null, nonce: null, public_key: null } })) as Map<string, Map<string, Uint8Array>>;
    const d = decodeDocument(r.get('Attestation')!.get('document')!).document;
    expect([d.userData, d.nonce, d.publicKey]).toEqual([null, null, null]);
    const r2 = (await call(device, { Attestation: new Map() })) as Map<string, Map<string, Uint8Array>>;
    expect(decodeDocument(r2.get('Attestation')!.get('document')!).document.nonce).toBeNull();
  });

  it('client helpers: encodeNsmRequest / decodeNsmResponse round trip through the device', async () => {
    const r = decodeNsmResponse(await device.process(encodeNsmRequest({ DescribePCR: { index: 1 } }))) as Map<string, Map<string, CborValue>>;
    expect(toHex(r.get('DescribePCR')!.get('data') as Uint8Array)).toBe(toHex(PCRS.get(1)!));
  });
});

describe('NSM error codes, on the wire', () => {
  it('InvalidIndex: DescribePCR / ExtendPCR / LockPCR index ≥ 32, LockPCRs range > 32', async () => {
    const d = await fresh();
    expect(await call(d, { DescribePCR: { index: 32 } })).toEqual(error('InvalidIndex'));
    expect(await call(d, { ExtendPCR: { index: 40, data: new Uint8Array(1) } })).toEqual(error('InvalidIndex'));
    expect(await call(d, { LockPCR: { index: 32 } })).toEqual(error('InvalidIndex'));
    expect(await call(d, { LockPCRs: { range: 33 } })).toEqual(error('InvalidIndex'));
  });

  it('ReadOnlyIndex: extending or locking a locked PCR', async () => {
    const d = await fresh();
    expect(await call(d, { ExtendPCR: { index: 0, data: new Uint8Array(1) } })).toEqual(error('ReadOnlyIndex'));
    expect(await call(d, { LockPCR: { index: 15 } })).toEqual(error('ReadOnlyIndex'));
    expect(await call(d, { LockPCR: { index: 20 } })).toBe('LockPCR');
    expect(await call(d, { ExtendPCR: { index: 20, data: new Uint8Array(1) } })).toEqual(error('ReadOnlyIndex'));
    // and the boot measurement is untouched
    expect(toHex(d.describePcr(0).data)).toBe(toHex(PCRS.get(0)!));
  });

  it('InputTooLarge: a request over 4096 bytes, an attestation field over 1024 bytes', async () => {
    const d = await fresh();
    expect(await call(d, { ExtendPCR: { index: 16, data: new Uint8Array(5000) } })).toEqual(error('InputTooLarge'));
    expect(await call(d, { Attestation: { user_data: new Uint8Array(1025), nonce: null, public_key: null } })).toEqual(error('InputTooLarge'));
    expect(await call(d, { Attestation: { user_data: null, nonce: new Uint8Array(1025), public_key: null } })).toEqual(error('InputTooLarge'));
    expect(await call(d, { Attestation: { user_data: null, nonce: null, public_key: new Uint8Array(1025) } })).toEqual(error('InputTooLarge'));
    // exactly 1024 is allowed
    const ok = (await call(d, { Attestation: { user_data: new Uint8Array(1024), nonce: null, public_key: null } })) as Map<string, unknown>;
    expect(ok.has('Attestation')).toBe(true);
  });

  it('InvalidOperation: unknown request, malformed CBOR, wrong argument types, unknown attestation field', async () => {
    const d = await fresh();
    expect(await call(d, 'Reboot')).toEqual(error('InvalidOperation'));
    expect(await call(d, { Reboot: {} })).toEqual(error('InvalidOperation'));
    expect(await call(d, new Uint8Array([0xff, 0x00]))).toEqual(error('InvalidOperation'));
    expect(await call(d, new Uint8Array(0))).toEqual(error('InvalidOperation'));
    expect(await call(d, { DescribePCR: { index: 'zero' } })).toEqual(error('InvalidOperation'));
    expect(await call(d, { DescribePCR: {} })).toEqual(error('InvalidOperation'));
    expect(await call(d, { ExtendPCR: { index: 16 } })).toEqual(error('InvalidOperation'));
    expect(await call(d, { ExtendPCR: { index: 16, data: 5 } })).toEqual(error('InvalidOperation'));
    expect(await call(d, { DescribePCR: 3 })).toEqual(error('InvalidOperation'));
    expect(await call(d, { DescribePCR: { index: 1 }, GetRandom: {} })).toEqual(error('InvalidOperation'));
    expect(await call(d, { Attestation: { user_data: null, challenge: new Uint8Array(1) } })).toEqual(error('InvalidOperation'));
    expect(await call(d, { LockPCRs: { range: -1 } })).toEqual(error('InvalidOperation'));
  });

  it('InvalidOperation for hostile CBOR (issue 13): the 4 KB shared-reference bomb, a duplicate key, deep nesting; the device keeps serving', async () => {
    const d = await fresh();
    const bomb = sharedReferenceBomb({ size: NSM_MAX_REQUEST, wrap: (b) => [0xa1, ...text('Attestation'), 0xa1, ...text('user_data'), ...b] });
    expect(bomb.length).toBe(4096);
    expect(await call(d, bomb)).toEqual(error('InvalidOperation'));
    const twoNonces = Uint8Array.from([0xa1, ...text('Attestation'), 0xa2, ...text('nonce'), 0x41, 1, ...text('nonce'), 0x41, 2]);
    expect(await call(d, twoNonces)).toEqual(error('InvalidOperation'));
    expect(await call(d, nested(3000))).toEqual(error('InvalidOperation'));
    const doc = (await call(d, { Attestation: { nonce: new Uint8Array([2]) } })) as Map<string, Map<string, Uint8Array>>;
    expect(decodeDocument(doc.get('Attestation')!.get('document')!).document.nonce).toEqual(new Uint8Array([2]));
  });

  it('BufferTooSmall: a response larger than the caller\'s buffer', async () => {
    const d = await fresh();
    expect(await call(d, 'GetRandom', 100)).toEqual(error('BufferTooSmall'));
    expect(await call(d, { Attestation: {} }, 1000)).toEqual(error('BufferTooSmall'));
  });

  it('InternalError: the signer failing', async () => {
    const d = new NsmDevice({ moduleId: MODULE, measurements: PCRS, signer: () => { throw new Error('HSM on fire'); } });
    expect(await call(d, { Attestation: {} })).toEqual(error('InternalError'));
  });

  it('InvalidResponse: the client refuses a response that is not CBOR or names an unknown error', () => {
    expect(() => decodeNsmResponse(new Uint8Array([0x5f]))).toThrow(expect.objectContaining({ nsmCode: 'InvalidResponse' }));
    expect(() => decodeNsmResponse(encodeCbor({ Error: 'Gremlins' }))).toThrow(expect.objectContaining({ nsmCode: 'InvalidResponse' }));
  });

  it('the client turns every device error into an NsmError with that code (and ERR_NSM)', () => {
    for (const code of ['InvalidArgument', 'InvalidIndex', 'ReadOnlyIndex', 'InvalidOperation', 'BufferTooSmall', 'InputTooLarge', 'InternalError']) {
      try {
        decodeNsmResponse(encodeCbor({ Error: code }));
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(NsmError);
        expect((e as NsmError).nsmCode).toBe(code);
        expect((e as NsmError).code).toBe('ERR_NSM');
      }
    }
  });
});

describe('typed API errors', () => {
  it('InvalidArgument: extendPcr with data that is not bytes', async () => {
    const d = await fresh();
    expect(() => d.extendPcr(16, 'x' as unknown as Uint8Array)).toThrow(expect.objectContaining({ nsmCode: 'InvalidArgument' }));
  });
  it('InvalidArgument: attestation field that is not bytes', async () => {
    const d = await fresh();
    await expect(d.attestation({ nonce: 'x' as unknown as Uint8Array })).rejects.toMatchObject({ nsmCode: 'InvalidArgument' });
  });
  it('refuses boot measurements for PCR16+ or of the wrong length (ERR_INVALID_ARGUMENT)', () => {
    const signer = () => new Uint8Array(0);
    expect(() => new NsmDevice({ moduleId: MODULE, measurements: new Map([[16, new Uint8Array(48)]]), signer })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => new NsmDevice({ moduleId: MODULE, measurements: new Map([[0, new Uint8Array(32)]]), signer })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => new NsmDevice({ moduleId: '', measurements: new Map(), signer })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
  it('refuses boot measurements the device would never read: PCR32+, negative, fractional or text index; not a Map (ERR_INVALID_ARGUMENT)', () => {
    const signer = () => new Uint8Array(0);
    for (const key of [32, 40, -1, 1.5, '0'] as unknown as number[]) {
      expect(() => new NsmDevice({ moduleId: MODULE, measurements: new Map([[key, new Uint8Array(48)]]), signer })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
    const plain = { 0: new Uint8Array(48) } as unknown as Map<number, Uint8Array>;
    expect(() => new NsmDevice({ moduleId: MODULE, measurements: plain, signer })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('debug mode', () => {
  it('PCR0, PCR1, PCR2 read as zero on the device and in documents; other PCRs keep their values', async () => {
    const d = await fresh(true);
    for (const i of [0, 1, 2]) expect(toHex(d.describePcr(i).data)).toBe(toHex(zeroPcr()));
    const doc = decodeDocument(await d.attestation()).document;
    for (const i of [0, 1, 2]) expect(toHex(doc.pcrs.get(i)!)).toBe(toHex(zeroPcr()));
    expect(toHex(doc.pcrs.get(3)!)).toBe(toHex(PCRS.get(3)!));
    const debugDoc = await d.attestation();
    expect(() => verifyAttestation(debugDoc, { trustAnchors: [authority.rootCertificate] })).toThrow(
      expect.objectContaining({ code: 'ERR_DEBUG_MODE_NOT_ALLOWED' }),
    );
  });
});
