/**
 * Image-level realism of a simulated post-treatment CT against the true one, inside a region
 * (typically the tumour mask dilated a little). Volumes are flat arrays in the project's layout
 * `data[x + nx*(y + ny*z)]` with `shape = [nx, ny, nz]`; intensities in HU.
 *
 * - PSNR = 10·log10(L² / MSE) over the region's voxels, L the data range (e.g. 775 HU for the
 *   paper's window [−175, 600]); Infinity when the images agree exactly.
 * - SSIM: Wang et al. with a cubic box window of side `window` (7 by default, truncated at the
 *   volume border), K1 = 0.01, K2 = 0.03, sample covariances (N/(N−1), as scikit-image's
 *   default), averaged over the window centres inside the region.
 */
import { MewmError } from '../core/errors';

export interface RegionImages {
  readonly shape: readonly [number, number, number];
  readonly reference: ArrayLike<number>;
  readonly test: ArrayLike<number>;
  /** Non-zero voxels form the region; all voxels when absent. */
  readonly region?: ArrayLike<number>;
  /** Intensity range L of the images (max − min possible value). */
  readonly dataRange: number;
}

function checkRegionImages(input: RegionImages): { n: number; count: number } {
  const [nx, ny, nz] = input.shape;
  const n = nx * ny * nz;
  if (![nx, ny, nz].every((v) => Number.isInteger(v) && v > 0)) throw new MewmError('InvalidInput', `image metrics: bad shape [${input.shape.join(', ')}]`);
  for (const [name, arr] of [
    ['reference', input.reference],
    ['test', input.test],
    ['region', input.region],
  ] as const) {
    if (arr !== undefined && arr.length !== n) throw new MewmError('InvalidInput', `image metrics: ${name} has ${arr.length} voxels, shape needs ${n}`);
  }
  if (!(input.dataRange > 0)) throw new MewmError('InvalidInput', `image metrics: data range must be positive, got ${input.dataRange}`);
  let count = 0;
  for (let i = 0; i < n; i++) if (input.region === undefined || input.region[i] !== 0) count++;
  if (count === 0) throw new MewmError('InvalidInput', 'image metrics: the region is empty');
  return { n, count };
}

export function psnr(input: RegionImages): number {
  const { n, count } = checkRegionImages(input);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (input.region !== undefined && input.region[i] === 0) continue;
    const d = input.reference[i]! - input.test[i]!;
    sum += d * d;
  }
  const mse = sum / count;
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((input.dataRange * input.dataRange) / mse);
}

export function ssim(input: RegionImages, window = 7): number {
  const { n, count } = checkRegionImages(input);
  if (!Number.isInteger(window) || window < 1 || window % 2 === 0)
    throw new MewmError('InvalidInput', `SSIM window must be an odd positive integer, got ${window}`);
  const shape = input.shape;
  const x = Float64Array.from(input.reference);
  const y = Float64Array.from(input.test);
  const xx = new Float64Array(n);
  const yy = new Float64Array(n);
  const xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i]! * x[i]!;
    yy[i] = y[i]! * y[i]!;
    xy[i] = x[i]! * y[i]!;
  }
  const radius = (window - 1) / 2;
  const counts = boxCounts(shape, radius);
  const [mx, my, mxx, myy, mxy] = [x, y, xx, yy, xy].map((a) => boxMean(a, shape, radius));
  const c1 = (0.01 * input.dataRange) ** 2;
  const c2 = (0.03 * input.dataRange) ** 2;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (input.region !== undefined && input.region[i] === 0) continue;
    const np = counts[i]!;
    const norm = np > 1 ? np / (np - 1) : 1;
    const ux = mx![i]!;
    const uy = my![i]!;
    const vx = norm * (mxx![i]! - ux * ux);
    const vy = norm * (myy![i]! - uy * uy);
    const cxy = norm * (mxy![i]! - ux * uy);
    sum += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  }
  return sum / count;
}

/** Mean over the cube of half-width `radius` around each voxel, truncated at the border (separable). */
function boxMean(values: Float64Array, shape: readonly [number, number, number], radius: number): Float64Array {
  let current = values;
  for (let axis = 0; axis < 3; axis++) current = boxMeanAlong(current, shape, radius, axis);
  return current;
}

function boxMeanAlong(values: Float64Array, shape: readonly [number, number, number], radius: number, axis: number): Float64Array {
  const [nx, ny] = shape;
  const len = shape[axis]!;
  const stride = axis === 0 ? 1 : axis === 1 ? nx : nx * ny;
  const out = new Float64Array(values.length);
  const prefix = new Float64Array(len + 1);
  for (let start = 0; start < values.length; start++) {
    // Visit each line once, from its first voxel along `axis`.
    const coord = Math.floor(start / stride) % len;
    if (coord !== 0) continue;
    for (let k = 0; k < len; k++) prefix[k + 1] = prefix[k]! + values[start + k * stride]!;
    for (let k = 0; k < len; k++) {
      const lo = Math.max(0, k - radius);
      const hi = Math.min(len - 1, k + radius);
      out[start + k * stride] = (prefix[hi + 1]! - prefix[lo]!) / (hi - lo + 1);
    }
  }
  return out;
}

function boxCounts(shape: readonly [number, number, number], radius: number): Float64Array {
  const [nx, ny, nz] = shape;
  const along = (len: number, k: number) => Math.min(len - 1, k + radius) - Math.max(0, k - radius) + 1;
  const out = new Float64Array(nx * ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) out[x + nx * (y + ny * z)] = along(nx, x) * along(ny, y) * along(nz, z);
  return out;
}

/** HU thresholds that split a treated tumour into viable tissue, Lipiodol deposit and necrosis. */
export interface CompositionThresholds {
  /** Tumour-labelled voxels at or above this (and below `lipiodolMin`) are viable. */
  readonly viableMin: number;
  /** Voxels at or above this are Lipiodol. */
  readonly lipiodolMin: number;
}

/** Fractions of the pre-treatment tumour region after treatment; they sum to 1. */
export interface TumourComposition {
  readonly viable: number;
  readonly lipiodol: number;
  readonly necrotic: number;
}

/**
 * Composition of the pre-treatment tumour region (`region` non-zero, usually pre labels = 2) in a
 * post-treatment CT: Lipiodol where HU ≥ lipiodolMin; viable where the post labels say tumour
 * and viableMin ≤ HU < lipiodolMin; necrotic otherwise (dead, resorbed or unenhanced).
 */
export function tumourComposition(
  region: ArrayLike<number>,
  postCt: ArrayLike<number>,
  postTumour: ArrayLike<boolean | number>,
  thresholds: CompositionThresholds,
): TumourComposition {
  if (postCt.length !== region.length || postTumour.length !== region.length)
    throw new MewmError('InvalidInput', 'tumour composition: region, CT and labels differ in size');
  let total = 0;
  let viable = 0;
  let lipiodol = 0;
  for (let i = 0; i < region.length; i++) {
    if (region[i] === 0) continue;
    total++;
    const hu = postCt[i]!;
    if (hu >= thresholds.lipiodolMin) lipiodol++;
    else if (postTumour[i] && hu >= thresholds.viableMin) viable++;
  }
  if (total === 0) throw new MewmError('InvalidInput', 'tumour composition: the region is empty');
  return { viable: viable / total, lipiodol: lipiodol / total, necrotic: (total - viable - lipiodol) / total };
}

/** Mean absolute difference of the three fractions. */
export function compositionError(a: TumourComposition, b: TumourComposition): number {
  return (Math.abs(a.viable - b.viable) + Math.abs(a.lipiodol - b.lipiodol) + Math.abs(a.necrotic - b.necrotic)) / 3;
}

/** Clips values into [lo, hi] (e.g. the paper's HU window [−175, 600] before SSIM/PSNR). */
export function clipped(values: ArrayLike<number>, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: values.length }, (_, i) => Math.min(hi, Math.max(lo, values[i]!)));
}
