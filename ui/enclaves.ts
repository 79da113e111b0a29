// The enclaves the console shows and drives, on its in-process Host (host/index.ts): the
// describe-enclaves list, starting one of the examples, terminating, the console of a debug-mode
// enclave, and fetching an attestation document from a running enclave's vsock port.
import { join } from 'node:path';
import { buildImage, readAll, type BuildResult, type Measurements } from '../enclave/index.ts';
import type { EnclaveDescription, Host, RunResult } from '../host/index.ts';
import { UiEnclaveTimeoutError, UiInputError, UiNotFoundError } from './errors.ts';
import { MAX_DOCUMENT_BYTES } from './inspect.ts';

export interface ExampleApp {
  /** The folder under examples/. */
  readonly name: string;
  readonly summary: string;
  /** The vsock port that answers an attestation document, and whether it wants a nonce first. */
  readonly document?: { readonly port: number; readonly nonce: boolean };
}

/** Examples that keep running once started (hello returns at once, escape-probe is a test tool). */
export const EXAMPLES: readonly ExampleApp[] = [
  { name: 'attestation-responder', summary: 'answers an attestation document bound to the nonce you send (vsock 5006)', document: { port: 5006, nonce: true } },
  { name: 'demo', summary: "the demo's enclave: attested sessions (5007), key requests (5010), the document it shows the KMS (5011)", document: { port: 5011, nonce: false } },
  { name: 'sensitive-payload', summary: 'redacts records sent through an attested session (vsock 5007)' },
  { name: 'echo-server', summary: 'echoes what a client sends to vsock 5005' },
];

export interface StartRequest {
  readonly example: string;
  readonly memoryMiB: number;
  readonly cpuCount: number;
  readonly debugMode: boolean;
  readonly name?: string;
}

export interface EnclaveDeskOptions {
  /** The repository root (examples/ is under it). */
  readonly root: string;
  /** How long an enclave may take to answer a document request. */
  readonly fetchTimeoutMs?: number;
}

export class EnclaveDesk {
  readonly host: Host;
  readonly #root: string;
  readonly #fetchTimeoutMs: number;
  readonly #images = new Map<string, Promise<BuildResult>>();
  /** Which example each enclave the console started runs (by enclave id). */
  readonly #examples = new Map<string, string>();

  constructor(host: Host, options: EnclaveDeskOptions) {
    this.host = host;
    this.#root = options.root;
    this.#fetchTimeoutMs = options.fetchTimeoutMs ?? 10_000;
  }

  list(): EnclaveDescription[] {
    return this.host.describeEnclaves();
  }

  running(): EnclaveDescription[] {
    return this.list().filter((e) => e.State === 'RUNNING');
  }

  /** The example an enclave was started from by this console, if it was. */
  exampleOf(enclaveId: string): ExampleApp | undefined {
    const name = this.#examples.get(enclaveId);
    return EXAMPLES.find((x) => x.name === name);
  }

  static example(name: string): ExampleApp {
    const x = EXAMPLES.find((e) => e.name === name);
    if (!x) throw new UiInputError(`example must be one of ${EXAMPLES.map((e) => e.name).join(', ')}, got '${name}'`);
    return x;
  }

  /** The example's image, built once per console (the build is reproducible, so once is enough). */
  image(name: string): Promise<BuildResult> {
    const example = EnclaveDesk.example(name);
    let built = this.#images.get(example.name);
    if (!built) {
      built = buildImage({ entry: join(this.#root, 'examples', example.name, 'main.ts'), name: example.name });
      this.#images.set(example.name, built);
      built.catch(() => this.#images.delete(example.name));
    }
    return built;
  }

  async measurements(name: string): Promise<Measurements> {
    return (await this.image(name)).measurements;
  }

  async start(req: StartRequest): Promise<RunResult> {
    const { image } = await this.image(req.example);
    const run = await this.host.runEnclave(image, {
      memoryMiB: req.memoryMiB,
      cpuCount: req.cpuCount,
      debugMode: req.debugMode,
      ...(req.name !== undefined ? { name: req.name } : {}),
    });
    this.#examples.set(run.EnclaveID, req.example);
    return run;
  }

  async terminate(enclaveId: string): Promise<void> {
    await this.host.terminate({ id: enclaveId });
  }

  /** Console bytes (history, then live; null at the end); throws unless the enclave runs in debug mode. */
  console(enclaveId: string, onChunk: (chunk: Buffer | null) => void): () => void {
    return this.host.console({ id: enclaveId }, onChunk);
  }

  #runningEnclave(enclaveId: string): EnclaveDescription {
    const e = this.running().find((x) => x.EnclaveID === enclaveId);
    if (!e) throw new UiNotFoundError(`no running enclave with id ${enclaveId}`);
    return e;
  }

  /**
   * Connects to `port` of the enclave, sends `nonce` (or nothing), half-closes and reads what it
   * answers, at most MAX_DOCUMENT_BYTES, within the fetch timeout.
   */
  async fetchDocument(enclaveId: string, port: number, nonce?: Uint8Array): Promise<Uint8Array> {
    const e = this.#runningEnclave(enclaveId);
    const conn = await this.host.connect(e.EnclaveCID, port);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        conn.destroy();
        reject(new UiEnclaveTimeoutError(`enclave ${e.EnclaveName} did not answer on vsock port ${port} within ${this.#fetchTimeoutMs / 1000} s`));
      }, this.#fetchTimeoutMs);
    });
    try {
      const answer = readAll(conn, { maxBytes: MAX_DOCUMENT_BYTES });
      answer.catch(() => undefined);
      if (nonce) conn.end(nonce);
      else conn.end();
      const bytes = await Promise.race([answer, timedOut]);
      if (bytes.length === 0) throw new UiInputError(`enclave ${e.EnclaveName} answered nothing on vsock port ${port}${nonce ? '' : ' (the attestation responder wants a nonce)'}`);
      return new Uint8Array(bytes);
    } finally {
      clearTimeout(timer);
    }
  }
}
