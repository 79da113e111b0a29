// The routes that end or flood an enclave, which the escape suite cannot run in its one-shot probe
// list (test/host/resources.test.ts runs each in an enclave of its own and judges it from the host):
//   burst  → allocates and touches memory past the enclave's --memory until something stops it;
//   streams → opens many vsock streams to a parent port and writes to each until the host stops
//             taking data (the host's listener never reads), then reports how far it got;
//   attest  → asks its NSM device for attestation documents as fast as it can.
// Outside the sandbox the suite runs burst() in a plain `node`, and the floods against a host
// without a budget.
import { nsmClient, type AppContext } from '../../enclave/sdk/index.ts';

export interface FloodRequest {
  readonly kind: 'burst' | 'streams' | 'attest';
  /** burst: MiB to hold; streams: how many; attest: how many documents. */
  readonly count: number;
  /** streams: the parent port to open them to, and the bytes to write to each. */
  readonly port?: number;
  readonly bytes?: number;
}

export interface FloodReport {
  readonly done: number;
  readonly refused: number;
  readonly codes: readonly string[];
}

/** Holds `mib` MiB of touched memory, 8 MiB at a time; resolves only if nothing stopped it. */
export async function burst(mib: number): Promise<FloodReport> {
  const hold: Buffer[] = [];
  while (hold.length * 8 < mib) {
    hold.push(Buffer.alloc(8 << 20, 1)); // filled, so the pages are resident
    await new Promise((r) => setImmediate(r));
  }
  return { done: hold.length * 8, refused: 0, codes: [] };
}

function codeOf(e: unknown): string {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : e instanceof Error ? e.name : String(e);
}

export async function streams(ctx: AppContext, req: FloodRequest): Promise<FloodReport> {
  const chunk = Buffer.alloc(req.bytes ?? 1 << 20, 0x5a);
  const codes = new Set<string>();
  let done = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: req.count }, async () => {
      try {
        const conn = await ctx.vsock.connect(req.port ?? 0);
        conn.on('error', () => undefined);
        // One receive window's worth: the write completes once the host has taken all of it, so
        // when this app answers, the host holds every byte it let in.
        await new Promise<void>((resolve, reject) => conn.write(chunk, (e) => (e ? reject(e) : resolve())));
        done++;
      } catch (e) {
        refused++;
        codes.add(codeOf(e));
      }
    }),
  );
  return { done, refused, codes: [...codes] };
}

export async function attest(ctx: AppContext, count: number): Promise<FloodReport> {
  const nsm = nsmClient(ctx);
  const codes = new Set<string>();
  let done = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: count }, async () => {
      try {
        await nsm.attestation({ nonce: new Uint8Array(16) });
        done++;
      } catch (e) {
        refused++;
        codes.add(`${(e as { nsmCode?: string }).nsmCode ?? codeOf(e)}`);
      }
    }),
  );
  return { done, refused, codes: [...codes] };
}
