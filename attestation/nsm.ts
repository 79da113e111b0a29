// The Nitro Security Module as a device model. Requests and responses are CBOR with the exact
// shapes of aws-nitro-enclaves-nsm-api (`src/api/mod.rs`): bare strings for "DescribeNSM" and
// "GetRandom", single-key maps for the rest, `{"Error": "<ErrorCode>"}` on failure. Error choices
// follow the reference device model in QEMU (`hw/virtio/virtio-nsm.c`): a request larger than 4096
// bytes is InputTooLarge, an unparseable or unknown one InvalidOperation, an index past the PCR count
// InvalidIndex, a write to a locked PCR ReadOnlyIndex. Documents carry every locked PCR.
import { randomBytes } from 'node:crypto';
import { decodeCbor, encodeCbor, type CborValue } from './cbor.ts';
import { InvalidArgumentError } from './errors.ts';
import { NSM_MAX_REQUEST, NSM_RANDOM_BYTES, NSM_REQUEST_LIMITS, NSM_RESPONSE_MAX, NSM_VERSION, NsmError } from './nsm-protocol.ts';
import { NsmScheduler } from './nsm-scheduler.ts';
import { extendPcr, LOCKED_AT_BOOT, PCR_COUNT, PCR_LENGTH, zeroPcr } from './pcr.ts';
import { MAX_OPTIONAL_FIELD } from './document.ts';

export interface NsmDescription {
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly versionPatch: number;
  readonly moduleId: string;
  readonly maxPcrs: number;
  readonly lockedPcrs: readonly number[];
  readonly digest: 'SHA384';
}

export interface AttestationRequest {
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
  readonly publicKey?: Uint8Array | null;
}

/** What the device needs to sign: everything but the certificates, which the signer adds. */
export interface DocumentFields {
  readonly moduleId: string;
  readonly timestamp: number;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly publicKey: Uint8Array | null;
  readonly userData: Uint8Array | null;
  readonly nonce: Uint8Array | null;
}

/** Produces a signed COSE_Sign1 document; the attestation authority provides one per enclave. */
export type DocumentSigner = (fields: DocumentFields) => Promise<Uint8Array> | Uint8Array;

export interface NsmDeviceOptions {
  readonly moduleId: string;
  /** Boot measurements for PCR0–15 (index → 48 bytes); unnamed ones are zero. */
  readonly measurements: ReadonlyMap<number, Uint8Array>;
  /** Debug mode: PCR0, PCR1 and PCR2 read as zero, as on AWS. */
  readonly debug?: boolean;
  readonly signer: DocumentSigner;
  readonly clock?: () => number;
  readonly random?: (n: number) => Uint8Array;
  /**
   * Where `process` runs its requests: the attestation authority shares one among the devices of
   * a host, so each enclave gets its turn (nsm-scheduler.ts). Default: one for this device alone.
   */
  readonly scheduler?: NsmScheduler;
}

interface Pcr {
  data: Uint8Array;
  locked: boolean;
}

export class NsmDevice {
  readonly moduleId: string;
  readonly debug: boolean;
  readonly #pcrs: Pcr[];
  readonly #signer: DocumentSigner;
  readonly #clock: () => number;
  readonly #random: (n: number) => Uint8Array;
  readonly #scheduler: NsmScheduler;

  constructor(options: NsmDeviceOptions) {
    if (typeof options.moduleId !== 'string' || options.moduleId.length === 0) throw new InvalidArgumentError('moduleId must be a non-empty string');
    this.moduleId = options.moduleId;
    this.debug = options.debug === true;
    this.#signer = options.signer;
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#scheduler = options.scheduler ?? new NsmScheduler();
    if (!(options.measurements instanceof Map)) throw new InvalidArgumentError('measurements must be a Map of PCR index to bytes');
    // Every entry is checked, so a measurement for a PCR the device never reads is refused, not dropped.
    for (const [i, m] of options.measurements) {
      if (!Number.isInteger(i) || i < 0 || i >= LOCKED_AT_BOOT) throw new InvalidArgumentError(`boot measurement for PCR${String(i)}: only PCR0–15 are set at boot`);
      if (!(m instanceof Uint8Array) || m.length !== PCR_LENGTH) throw new InvalidArgumentError(`boot measurement for PCR${i} must be ${PCR_LENGTH} bytes`);
    }
    this.#pcrs = [];
    for (let i = 0; i < PCR_COUNT; i++) {
      const m = options.measurements.get(i);
      const zeroed = this.debug && i <= 2;
      this.#pcrs.push({ data: m && !zeroed ? new Uint8Array(m) : zeroPcr(), locked: i < LOCKED_AT_BOOT });
    }
  }

  #pcr(index: number): Pcr {
    if (!Number.isInteger(index) || index < 0 || index >= PCR_COUNT) throw new NsmError('InvalidIndex');
    return this.#pcrs[index] as Pcr;
  }

  describeNsm(): NsmDescription {
    return {
      versionMajor: NSM_VERSION.major,
      versionMinor: NSM_VERSION.minor,
      versionPatch: NSM_VERSION.patch,
      moduleId: this.moduleId,
      maxPcrs: PCR_COUNT,
      lockedPcrs: this.#pcrs.flatMap((p, i) => (p.locked ? [i] : [])),
      digest: 'SHA384',
    };
  }

  describePcr(index: number): { lock: boolean; data: Uint8Array } {
    const p = this.#pcr(index);
    return { lock: p.locked, data: new Uint8Array(p.data) };
  }

  extendPcr(index: number, data: Uint8Array): Uint8Array {
    const p = this.#pcr(index);
    if (!(data instanceof Uint8Array)) throw new NsmError('InvalidArgument');
    if (data.length > NSM_MAX_REQUEST) throw new NsmError('InputTooLarge');
    if (p.locked) throw new NsmError('ReadOnlyIndex');
    p.data = extendPcr(p.data, data);
    return new Uint8Array(p.data);
  }

  lockPcr(index: number): void {
    const p = this.#pcr(index);
    if (p.locked) throw new NsmError('ReadOnlyIndex');
    p.locked = true;
  }

  /** Locks PCR0 … PCR(range−1); already locked ones stay locked. */
  lockPcrs(range: number): void {
    if (!Number.isInteger(range) || range < 0 || range > PCR_COUNT) throw new NsmError('InvalidIndex');
    for (let i = 0; i < range; i++) (this.#pcrs[i] as Pcr).locked = true;
  }

  getRandom(): Uint8Array {
    return this.#random(NSM_RANDOM_BYTES);
  }

  async attestation(request: AttestationRequest = {}): Promise<Uint8Array> {
    const field = (x: Uint8Array | null | undefined): Uint8Array | null => {
      if (x === null || x === undefined) return null;
      if (!(x instanceof Uint8Array)) throw new NsmError('InvalidArgument');
      if (x.length > MAX_OPTIONAL_FIELD) throw new NsmError('InputTooLarge');
      return new Uint8Array(x);
    };
    const fields: DocumentFields = {
      moduleId: this.moduleId,
      timestamp: this.#clock(),
      pcrs: new Map(this.#pcrs.flatMap((p, i) => (p.locked ? [[i, new Uint8Array(p.data)] as const] : []))),
      publicKey: field(request.publicKey),
      userData: field(request.userData),
      nonce: field(request.nonce),
    };
    try {
      return await this.#signer(fields);
    } catch (cause) {
      throw new NsmError('InternalError', `NSM error: InternalError (${cause instanceof Error ? cause.message : String(cause)})`);
    }
  }

  /**
   * The device protocol: one CBOR request in, one CBOR response out. Never throws. Like the
   * driver's ioctl, the caller names its response buffer size; a response that does not fit is
   * `{"Error":"BufferTooSmall"}`. Runs in this device's turn on its scheduler.
   */
  process(request: Uint8Array, responseBufferSize: number = NSM_RESPONSE_MAX): Promise<Uint8Array> {
    return this.#scheduler.run(this, () => this.#process(request, responseBufferSize));
  }

  async #process(request: Uint8Array, responseBufferSize: number): Promise<Uint8Array> {
    try {
      const response = encodeCbor(await this.#dispatch(request));
      if (response.length > responseBufferSize) throw new NsmError('BufferTooSmall');
      return response;
    } catch (e) {
      return encodeCbor({ Error: e instanceof NsmError ? e.nsmCode : 'InternalError' });
    }
  }

  async #dispatch(request: Uint8Array): Promise<unknown> {
    if (!(request instanceof Uint8Array)) throw new NsmError('InvalidOperation');
    if (request.length > NSM_MAX_REQUEST) throw new NsmError('InputTooLarge');
    let req: CborValue;
    try {
      req = decodeCbor(request, 'NSM request', NSM_REQUEST_LIMITS);
    } catch {
      throw new NsmError('InvalidOperation');
    }
    if (req === 'DescribeNSM') {
      const d = this.describeNsm();
      return {
        DescribeNSM: {
          version_major: d.versionMajor,
          version_minor: d.versionMinor,
          version_patch: d.versionPatch,
          module_id: d.moduleId,
          max_pcrs: d.maxPcrs,
          locked_pcrs: d.lockedPcrs,
          digest: d.digest,
        },
      };
    }
    if (req === 'GetRandom') return { GetRandom: { random: this.getRandom() } };
    if (!(req instanceof Map) || req.size !== 1) throw new NsmError('InvalidOperation');
    const [[name, body]] = [...req] as [[CborValue, CborValue]];
    if (!(body instanceof Map)) throw new NsmError('InvalidOperation');
    const arg = (key: string): CborValue | undefined => body.get(key);
    switch (name) {
      case 'DescribePCR': {
        const r = this.describePcr(index(arg('index')));
        return { DescribePCR: { lock: r.lock, data: r.data } };
      }
      case 'ExtendPCR':
        return { ExtendPCR: { data: this.extendPcr(index(arg('index')), bytes(arg('data'), false) as Uint8Array) } };
      case 'LockPCR':
        this.lockPcr(index(arg('index')));
        return 'LockPCR';
      case 'LockPCRs':
        this.lockPcrs(index(arg('range')));
        return 'LockPCRs';
      case 'Attestation': {
        for (const k of body.keys()) if (k !== 'user_data' && k !== 'nonce' && k !== 'public_key') throw new NsmError('InvalidOperation');
        const document = await this.attestation({
          userData: bytes(arg('user_data'), true),
          nonce: bytes(arg('nonce'), true),
          publicKey: bytes(arg('public_key'), true),
        });
        return { Attestation: { document } };
      }
      default:
        throw new NsmError('InvalidOperation');
    }
  }
}

function index(v: CborValue | undefined): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff) return v;
  throw new NsmError('InvalidOperation');
}

/** A byte field; like the reference device, a text string is taken as its UTF-8 bytes. */
function bytes(v: CborValue | undefined, nullable: boolean): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new TextEncoder().encode(v);
  if (nullable && (v === null || v === undefined)) return null;
  throw new NsmError('InvalidOperation');
}
