// `node bench/envelope-child.ts <which>`: one envelope measurement (bench/envelope-measure.ts) in a
// fresh process that loads nothing else; prints its rates as JSON.
import { MEASUREMENTS, type Which } from './envelope-measure.ts';

const which = process.argv[2];
if (!which || !(which in MEASUREMENTS)) {
  process.stderr.write(`usage: node bench/envelope-child.ts ${Object.keys(MEASUREMENTS).join('|')}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await MEASUREMENTS[which as Which]())}\n`);
