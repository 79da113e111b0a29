// The NSM API for apps, over the device interface the bootstrap provides: typed calls that build
// the nsm-api CBOR requests and read the responses (device errors become NsmError with the
// device's code, e.g. 'ReadOnlyIndex').
// The light protocol entry of attestation/, not its index: apps bundle this, and must not carry the
// PKI and X.509 code with them.
import { decodeNsmResponse, encodeNsmRequest, NsmError, type CborValue } from '../../attestation/nsm-protocol.ts';
import type { NsmDescription } from '../../attestation/index.ts';
import type { EnclaveServices } from '../services.ts';

function field(r: CborValue, name: string): Map<CborValue, CborValue> {
  if (r instanceof Map && r.get(name) instanceof Map) return r.get(name) as Map<CborValue, CborValue>;
  throw new NsmError('InvalidResponse', `NSM: expected a ${name} response`);
}

function bytes(m: Map<CborValue, CborValue>, key: string): Uint8Array {
  const v = m.get(key);
  if (v instanceof Uint8Array) return v;
  throw new NsmError('InvalidResponse', `NSM: response field ${key} must be bytes`);
}

export interface NsmClient {
  describeNsm(): Promise<NsmDescription>;
  describePcr(index: number): Promise<{ lock: boolean; data: Uint8Array }>;
  extendPcr(index: number, data: Uint8Array): Promise<Uint8Array>;
  lockPcr(index: number): Promise<void>;
  lockPcrs(range: number): Promise<void>;
  getRandom(): Promise<Uint8Array>;
  attestation(req?: { userData?: Uint8Array | null; nonce?: Uint8Array | null; publicKey?: Uint8Array | null }): Promise<Uint8Array>;
}

export function nsmClient(ctx: Pick<EnclaveServices, 'nsm'>): NsmClient {
  const call = async (req: Parameters<typeof encodeNsmRequest>[0]): Promise<CborValue> => decodeNsmResponse(await ctx.nsm.request(encodeNsmRequest(req)));
  return Object.freeze({
    async describeNsm() {
      const d = field(await call('DescribeNSM'), 'DescribeNSM');
      return {
        versionMajor: Number(d.get('version_major')),
        versionMinor: Number(d.get('version_minor')),
        versionPatch: Number(d.get('version_patch')),
        moduleId: String(d.get('module_id')),
        maxPcrs: Number(d.get('max_pcrs')),
        lockedPcrs: (d.get('locked_pcrs') as number[]) ?? [],
        digest: 'SHA384' as const,
      };
    },
    async describePcr(index: number) {
      const d = field(await call({ DescribePCR: { index } }), 'DescribePCR');
      return { lock: d.get('lock') === true, data: bytes(d, 'data') };
    },
    async extendPcr(index: number, data: Uint8Array) {
      return bytes(field(await call({ ExtendPCR: { index, data } }), 'ExtendPCR'), 'data');
    },
    async lockPcr(index: number) {
      if ((await call({ LockPCR: { index } })) !== 'LockPCR') throw new NsmError('InvalidResponse');
    },
    async lockPcrs(range: number) {
      if ((await call({ LockPCRs: { range } })) !== 'LockPCRs') throw new NsmError('InvalidResponse');
    },
    async getRandom() {
      return bytes(field(await call('GetRandom'), 'GetRandom'), 'random');
    },
    async attestation(req: { userData?: Uint8Array | null; nonce?: Uint8Array | null; publicKey?: Uint8Array | null } = {}) {
      const r = await call({ Attestation: { user_data: req.userData ?? null, nonce: req.nonce ?? null, public_key: req.publicKey ?? null } });
      return bytes(field(r, 'Attestation'), 'document');
    },
  });
}
