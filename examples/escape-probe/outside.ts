// The same probes outside the sandbox: `node outside.ts '<ProbeTargets JSON>'` prints the report
// (JSON) on stdout, then exits. The escape suite runs it as a plain child process with normal
// permissions to prove that every route it expects to fail in an enclave does work out here.
import { runProbes, type ProbeTargets } from './probes.ts';

const targets = JSON.parse(process.argv[2] ?? '{}') as ProbeTargets;
const report = await runProbes(targets);
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
