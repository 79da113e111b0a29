// The daemon's `attest` request: a document from a mock NSM with the caller's PCRs, signed by the
// daemon's attestation authority. The CA keys are unsealed only in the process that signs
// (attestation/custody.ts), so `nitro-sandbox attest` asks the daemon instead of opening the PKI
// itself. The socket is its owner's alone (PROTOCOL.md): whoever reaches it could mint such
// documents anyway by reading the custody key (docs/threat-model.md).
import { MAX_OPTIONAL_FIELD, PCR_LENGTH, type AttestationAuthority } from '../../attestation/index.ts';
import { DaemonBadRequestError } from './errors.ts';

/** The PCRs an `attest` request may set: the boot-locked ones, as `attest --pcr` allows. */
const ATTEST_PCRS = 16;

export interface AttestRequest {
  readonly v: 1;
  readonly op: 'attest';
  /** PCR index (0–15, as a decimal key) → 48 bytes of hex. */
  readonly pcrs: Readonly<Record<string, string>>;
  /** The enclave id in the leaf certificate and the document (1–64 of [A-Za-z0-9-]). */
  readonly moduleId: string;
  readonly debugMode?: boolean;
  readonly nonce?: string;
  readonly userData?: string;
  readonly publicKey?: string;
}

export interface AttestResult {
  readonly moduleId: string;
  /** The untagged COSE_Sign1, base64. */
  readonly document: string;
}

function bad(message: string): never {
  throw new DaemonBadRequestError(message);
}

function hex(x: unknown, what: string, maxBytes: number): string {
  if (typeof x !== 'string' || x.length > 2 * maxBytes || x.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(x)) bad(`attest.${what} must be even-length hex of at most ${maxBytes} bytes`);
  return x;
}

/** Validates the fields of an `attest` request (the object is already known to have v and op). */
export function parseAttestRequest(x: Record<string, unknown>): AttestRequest {
  const allowed = ['v', 'op', 'pcrs', 'moduleId', 'debugMode', 'nonce', 'userData', 'publicKey'];
  for (const k of Object.keys(x)) if (!allowed.includes(k)) bad(`attest: unknown field '${k}'`);
  const p = x.pcrs;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) bad('attest.pcrs must be an object of index → hex');
  const pcrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (!/^(0|[1-9]\d?)$/.test(k) || Number(k) >= ATTEST_PCRS) bad(`attest.pcrs: index must be 0–${ATTEST_PCRS - 1}, got '${k}'`);
    if (hex(v, `pcrs.${k}`, PCR_LENGTH).length !== 2 * PCR_LENGTH) bad(`attest.pcrs.${k} must be ${PCR_LENGTH} bytes of hex`);
    pcrs[k] = v as string;
  }
  if (typeof x.moduleId !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(x.moduleId)) bad('attest.moduleId must be 1–64 of [A-Za-z0-9-]');
  if (x.debugMode !== undefined && typeof x.debugMode !== 'boolean') bad('attest.debugMode must be a boolean');
  const opt = (k: 'nonce' | 'userData' | 'publicKey'): { [key: string]: string } => (x[k] === undefined ? {} : { [k]: hex(x[k], k, MAX_OPTIONAL_FIELD) });
  return {
    v: 1,
    op: 'attest',
    pcrs,
    moduleId: x.moduleId,
    ...(x.debugMode !== undefined ? { debugMode: x.debugMode as boolean } : {}),
    ...opt('nonce'),
    ...opt('userData'),
    ...opt('publicKey'),
  };
}

const bytes = (h: string | undefined): Uint8Array | null => (h === undefined ? null : new Uint8Array(Buffer.from(h, 'hex')));

/** Issues the document with the authority's keys (a fresh leaf for the module id, as at launch). */
export async function issueDocument(authority: AttestationAuthority, req: AttestRequest): Promise<AttestResult> {
  const { moduleId } = req;
  const measurements = new Map(Object.entries(req.pcrs).map(([k, v]) => [Number(k), bytes(v) as Uint8Array] as const));
  const device = await authority.createDevice({ moduleId, measurements, debug: req.debugMode === true });
  const document = await device.attestation({ nonce: bytes(req.nonce), userData: bytes(req.userData), publicKey: bytes(req.publicKey) });
  return { moduleId, document: Buffer.from(document).toString('base64') };
}
