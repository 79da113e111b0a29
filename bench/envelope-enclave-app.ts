// The enclave app of the in-enclave envelope benchmark: its bundle holds only the envelope library
// and bench/envelope-measure.ts. On a connection to ENVELOPE_BENCH_PORT it runs the `encryption`
// measurement inside the enclave (both sides under the enclave's isolation) and answers with the
// rates as JSON, or `{"error": …}`.
import type { AppContext } from '../enclave/sdk/index.ts';
import { MEASUREMENTS } from './envelope-measure.ts';

export const ENVELOPE_BENCH_PORT = 5010;

export default async function main(ctx: AppContext): Promise<void> {
  ctx.vsock.listen(ENVELOPE_BENCH_PORT, (conn) => {
    conn.on('error', () => {});
    conn.once('data', () => {
      MEASUREMENTS.encryption().then(
        (r) => conn.end(JSON.stringify(r)),
        (e: unknown) => conn.end(JSON.stringify({ error: String((e as Error)?.stack ?? e) })),
      );
    });
  });
}
