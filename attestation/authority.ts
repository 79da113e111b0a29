// The host's attestation authority: holds the sandbox PKI (as the Nitro hypervisor holds AWS's
// keys), issues each enclave a leaf certificate at launch and gives the enclave's NSM device a
// signer that turns document fields into a signed COSE_Sign1 with the current cabundle.
import { makeDocument, signDocument } from './document.ts';
import { NsmDevice, type DocumentFields, type DocumentSigner } from './nsm.ts';
import { NsmScheduler } from './nsm-scheduler.ts';
import { SandboxPki, type LeafCredential, type PkiOptions } from './pki.ts';

/** A leaf older than this is replaced before the next document, so documents stay verifiable for ≥ 2 h. */
const LEAF_REFRESH_MS = 3600_000;

export interface CreateDeviceOptions {
  readonly moduleId: string;
  readonly measurements: ReadonlyMap<number, Uint8Array>;
  readonly debug?: boolean;
  readonly random?: (n: number) => Uint8Array;
}

export class AttestationAuthority {
  readonly pki: SandboxPki;
  /** Shared by every device this authority makes: NSM requests of all enclaves take turns. */
  readonly scheduler = new NsmScheduler();
  readonly #clock: () => number;

  private constructor(pki: SandboxPki, clock: () => number) {
    this.pki = pki;
    this.#clock = clock;
  }

  static async open(options: PkiOptions = {}): Promise<AttestationAuthority> {
    return new AttestationAuthority(await SandboxPki.open(options), options.clock ?? Date.now);
  }

  get rootCertificate(): Uint8Array {
    return this.pki.rootCertificate;
  }

  /**
   * A signer bound to one enclave id. The leaf is issued now (at launch) and renewed when it has
   * aged past an hour; signing itself is a synchronous P-384 sign with a cached key.
   */
  async signerFor(moduleId: string): Promise<DocumentSigner> {
    let leaf: LeafCredential = await this.pki.issueLeaf(moduleId);
    let renewing: Promise<LeafCredential> | null = null;
    return async (fields: DocumentFields) => {
      if (this.#clock() - leaf.notBefore > LEAF_REFRESH_MS) {
        renewing ??= this.pki.issueLeaf(moduleId).finally(() => {
          renewing = null;
        });
        leaf = await renewing;
      }
      return signDocument(makeDocument({ ...fields, certificate: leaf.certificate, cabundle: leaf.cabundle }), leaf.privateKey);
    };
  }

  /** An NSM device for a new enclave, with its PCR0–15 measured and locked and a fresh leaf. */
  async createDevice(options: CreateDeviceOptions): Promise<NsmDevice> {
    const signer = await this.signerFor(options.moduleId);
    return new NsmDevice({
      moduleId: options.moduleId,
      measurements: options.measurements,
      debug: options.debug ?? false,
      signer,
      clock: this.#clock,
      scheduler: this.scheduler,
      ...(options.random ? { random: options.random } : {}),
    });
  }
}
