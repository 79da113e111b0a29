// `npm run bench [name-filter]`: runs every benchmark in bench/*.bench.ts and prints, for each, the
// measured figure, the baseline measured in the same run, their ratio and the target.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmt, type BenchResult, type Benchmark } from './harness.ts';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort();
const results: BenchResult[] = [];
let failed = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { benchmarks: Benchmark[] };
  for (const b of mod.benchmarks) {
    if (filter && !b.name.includes(filter)) continue;
    process.stderr.write(`running ${b.name} …\n`);
    let r: BenchResult;
    try {
      r = await b.run();
    } catch (e) {
      // One benchmark that cannot run does not stop the others; it counts as missed.
      failed++;
      process.stdout.write(`FAIL  ${b.name}\n      error    ${e instanceof Error ? e.message : String(e)}\n`);
      continue;
    }
    results.push(r);
    process.stdout.write(
      `${r.pass ? 'PASS' : 'MISS'}  ${r.name}\n` +
        `      figure   ${fmt(r.figure.rate)} ${r.figure.unit}\n` +
        `      baseline ${fmt(r.baseline.rate)} ${r.baseline.unit}  (${r.baseline.name})\n` +
        `      ratio    ${r.ratio.toFixed(3)}  target ${r.target}${r.notes ? `\n      notes    ${r.notes}` : ''}\n`,
    );
  }
}
const missed = results.filter((r) => !r.pass).length + failed;
const total = results.length + failed;
process.stdout.write(`\n${total} benchmarks, ${total - missed} met their target, ${missed} missed${failed ? ` (${failed} could not run)` : ''}\n`);
process.exitCode = missed ? 1 : 0;
