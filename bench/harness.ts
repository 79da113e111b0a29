// Benchmark harness. Every benchmark measures a figure and a baseline *in the same run*, on the same
// machine, and reports their ratio; absolute numbers vary between machines, ratios much less.
// Benchmarks live in `bench/*.bench.ts` and export `benchmarks: Benchmark[]`.

export interface Measurement {
  /** Operations (or bytes, see `unit`) per second. */
  readonly rate: number;
  readonly unit: string;
}

export interface BenchResult {
  readonly name: string;
  readonly figure: Measurement;
  readonly baseline: Measurement & { readonly name: string };
  /** figure.rate / baseline.rate; latencies and sizes are given as rates (1 / ms, 1 / MiB), so higher is better. */
  readonly ratio: number;
  /** The acceptance target for the ratio, e.g. `>= 0.8`. */
  readonly target: string;
  readonly pass: boolean;
  readonly notes?: string;
}

export interface Benchmark {
  readonly name: string;
  run(): Promise<BenchResult>;
}

/** Runs `fn` repeatedly for about `ms` milliseconds (after a warm-up) and returns calls per second. */
export async function rate(fn: () => unknown | Promise<unknown>, ms = 1500): Promise<number> {
  const warmUntil = performance.now() + Math.min(300, ms / 4);
  while (performance.now() < warmUntil) await fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    await fn();
    n++;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

/** Synchronous variant of `rate` for sub-microsecond-to-millisecond synchronous work. */
export function rateSync(fn: () => unknown, ms = 1500): number {
  const warmUntil = performance.now() + Math.min(300, ms / 4);
  while (performance.now() < warmUntil) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    fn();
    n++;
    if ((n & 7) === 0) now = performance.now();
  }
  now = performance.now();
  return (n * 1000) / (now - start);
}

/**
 * Measures figure and baseline alternately in `rounds` rounds and keeps the best of each, so a
 * burst of noise on a shared 2-core machine hits both sides instead of one.
 */
export function interleaved(figure: () => number, baseline: () => number, rounds = 3): { figure: number; baseline: number } {
  let f = 0;
  let b = 0;
  for (let i = 0; i < rounds; i++) {
    b = Math.max(b, baseline());
    f = Math.max(f, figure());
  }
  return { figure: f, baseline: b };
}

/** `interleaved` for asynchronous measurements (baseline first in each round, as there). */
export async function interleavedAsync(figure: () => Promise<number>, baseline: () => Promise<number>, rounds = 3): Promise<{ figure: number; baseline: number }> {
  let f = 0;
  let b = 0;
  for (let i = 0; i < rounds; i++) {
    b = Math.max(b, await baseline());
    f = Math.max(f, await figure());
  }
  return { figure: f, baseline: b };
}

export function result(
  name: string,
  figure: Measurement,
  baseline: Measurement & { name: string },
  minRatio: number,
  notes?: string,
): BenchResult {
  const ratio = figure.rate / baseline.rate;
  return { name, figure, baseline, ratio, target: `>= ${minRatio}`, pass: ratio >= minRatio, ...(notes ? { notes } : {}) };
}

export function fmt(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} k`;
  return n.toFixed(2);
}
