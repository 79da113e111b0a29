// The escape prober as an enclave app: on vsock port 5005 it reads the test's ProbeTargets (JSON,
// until half-close), tries every route in probes.ts from inside the enclave and answers with the
// report (JSON). On port 5006 it floods or bursts as a FloodRequest says (floods.ts). Used by
// test/host/escape.test.ts and test/host/resources.test.ts.
import { serveJsonRequests, type AppContext } from '../../enclave/sdk/index.ts';
import { attest, burst, streams, type FloodRequest } from './floods.ts';
import { runProbes, type ProbeTargets } from './probes.ts';

export const PROBE_PORT = 5005;
export const FLOOD_PORT = 5006;

export default function main(ctx: AppContext): void {
  serveJsonRequests(ctx, PROBE_PORT, (targets) => runProbes(targets as ProbeTargets));
  serveJsonRequests(ctx, FLOOD_PORT, (r) => {
    const req = r as FloodRequest;
    if (req.kind === 'burst') return burst(req.count);
    if (req.kind === 'streams') return streams(ctx, req);
    return attest(ctx, req.count);
  });
}
