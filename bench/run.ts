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
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { benchmarks: Benchmark[] };
  for (const b of mod.benchmarks) {
    if (filter && !b.name.includes(filter)) continue;
    process.stderr.write(`running ${b.name} …\n`);
    const r = await b.run();
    results.push(r);
    process.stdout.write(
      `${r.pass ? 'PASS' : 'MISS'}  ${r.name}\n` +
        `      figure   ${fmt(r.figure.rate)} ${r.figure.unit}\n` +
        `      baseline ${fmt(r.baseline.rate)} ${r.baseline.unit}  (${r.baseline.name})\n` +
        `      ratio    ${r.ratio.toFixed(3)}  target ${r.target}${r.notes ? `\n      notes    ${r.notes}` : ''}\n`,
    );
  }
}
const missed = results.filter((r) => !r.pass).length;
process.stdout.write(`\n${results.length} benchmarks, ${results.length - missed} met their target, ${missed} missed\n`);
process.exitCode = missed ? 1 : 0;
