// The escape prober as an enclave app: on vsock port 5005 it reads the test's ProbeTargets (JSON,
// until half-close), tries every route in probes.ts from inside the enclave and answers with the
// report (JSON). Used by test/host/escape.test.ts.
import type { AppContext } from '../../enclave/sdk/index.ts';
import { runProbes, type ProbeTargets } from './probes.ts';

export const PROBE_PORT = 5005;

export default function main(ctx: AppContext): void {
  ctx.vsock.listen(PROBE_PORT, (conn) => {
    const chunks: Buffer[] = [];
    conn.on('error', () => undefined);
    conn.on('data', (c: Buffer) => chunks.push(c));
    conn.on('end', () => {
      const targets = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ProbeTargets;
      void runProbes(targets).then((report) => conn.end(JSON.stringify(report)));
    });
  });
}
