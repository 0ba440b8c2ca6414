/**
 * Nonparametric bootstrap over patients with percentile intervals. Resampling is driven by the
 * seeded `Rng`, so an interval is reproducible from (data, seed, resamples).
 */
import { MewmError } from '../core/errors';
import { Rng } from '../core/random';

export interface BootstrapOptions {
  readonly seed: number;
  /** Number of bootstrap resamples; 2000 by default. */
  readonly resamples?: number;
  /** Two-sided coverage, 0.95 by default. */
  readonly level?: number;
}

export interface Interval {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
}

/**
 * Percentile bootstrap for several statistics computed on the same resampled patients.
 * `statistic(indices)` receives the resampled patient indices (length n, with repeats) and
 * returns one value per statistic; resamples where a statistic is not finite are skipped for
 * that statistic (e.g. a C-index with no comparable pair). Returns one interval per statistic,
 * whose `estimate` is the statistic on the original sample.
 */
export function bootstrapIntervals(n: number, statistic: (indices: Uint32Array) => readonly number[], options: BootstrapOptions): Interval[] {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(n) || n < 1) throw new MewmError('InvalidInput', `bootstrap needs at least one patient, got n=${n}`);
  if (!Number.isInteger(resamples) || resamples < 1) throw new MewmError('InvalidInput', `bootstrap resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new MewmError('InvalidInput', `bootstrap level must lie in (0, 1), got ${level}`);

  const identity = new Uint32Array(n);
  for (let i = 0; i < n; i++) identity[i] = i;
  const estimates = statistic(identity);
  const k = estimates.length;
  const draws: number[][] = Array.from({ length: k }, () => []);
  const rng = new Rng(options.seed);
  const indices = new Uint32Array(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) indices[i] = Math.floor(rng.uniform() * n);
    const values = statistic(indices);
    if (values.length !== k) throw new MewmError('InvalidInput', `bootstrap statistic returned ${values.length} values, expected ${k}`);
    for (let s = 0; s < k; s++) {
      const v = values[s]!;
      if (Number.isFinite(v)) draws[s]!.push(v);
    }
  }
  const alpha = (1 - level) / 2;
  return estimates.map((estimate, s) => {
    const sorted = Float64Array.from(draws[s]!).sort();
    return { estimate, lower: quantile(sorted, alpha), upper: quantile(sorted, 1 - alpha) };
  });
}

/** Percentile bootstrap interval of the mean of `values`. */
export function bootstrapMean(values: ArrayLike<number>, options: BootstrapOptions): Interval {
  return bootstrapIntervals(values.length, (idx) => [meanAt(values, idx)], options)[0]!;
}

export function meanAt(values: ArrayLike<number>, indices: Uint32Array): number {
  let sum = 0;
  for (let i = 0; i < indices.length; i++) sum += values[indices[i]!]!;
  return sum / indices.length;
}

/** Linear-interpolation quantile (numpy's default, "linear") of an ascending array; NaN when empty. */
export function quantile(sortedAscending: ArrayLike<number>, q: number): number {
  const n = sortedAscending.length;
  if (n === 0) return Number.NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  return sortedAscending[lo]! + frac * (sortedAscending[hi]! - sortedAscending[lo]!);
}
