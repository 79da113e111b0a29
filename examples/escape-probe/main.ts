// The escape prober as an enclave app: on vsock port 5005 it reads the test's ProbeTargets (JSON,
// until half-close), tries every route in probes.ts from inside the enclave and answers with the
// report (JSON). Used by test/host/escape.test.ts.
import { serveJsonRequests, type AppContext } from '../../enclave/sdk/index.ts';
import { runProbes, type ProbeTargets } from './probes.ts';

export const PROBE_PORT = 5005;

export default function main(ctx: AppContext): void {
  serveJsonRequests(ctx, PROBE_PORT, (targets) => runProbes(targets as ProbeTargets));
}
