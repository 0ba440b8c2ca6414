/**
 * Separable Gaussian smoothing with sigma in millimetres (converted per axis with the voxel
 * spacing). Matches scipy.ndimage.gaussian_filter: kernel radius `floor(truncate · sigma + 0.5)`
 * voxels (truncate 4), normalised weights, 'reflect' borders (d c b a | a b c d | d c b a).
 * Output Float32Array. Pure, no Node APIs.
 */
import { MewmError } from '../errors';
import { makeVolume, spacingOf, type Volume } from './volume';

export function gaussianKernel(sigmaVoxels: number, truncate = 4): Float64Array {
  const radius = Math.floor(truncate * sigmaVoxels + 0.5);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const w = Math.exp((-0.5 * i * i) / (sigmaVoxels * sigmaVoxels));
    kernel[i + radius] = w;
    sum += w;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= sum;
  return kernel;
}

/** Index into [0, n) with scipy's 'reflect' rule (the edge voxel is repeated). */
function reflect(index: number, n: number): number {
  const period = 2 * n;
  let i = index % period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

function blurAxis(data: Float32Array, shape: readonly number[], axis: number, kernel: Float64Array): void {
  const [nx, ny, nz] = shape as [number, number, number];
  const n = shape[axis]!;
  const stride = axis === 0 ? 1 : axis === 1 ? nx : nx * ny;
  const radius = (kernel.length - 1) / 2;
  const line = new Float64Array(n + 2 * radius);
  const lineCount = (nx * ny * nz) / n;
  for (let l = 0; l < lineCount; l++) {
    let start: number;
    if (axis === 0) start = l * nx;
    else if (axis === 1) start = (l % nx) + nx * ny * Math.floor(l / nx);
    else start = l;
    for (let i = -radius; i < n + radius; i++) line[i + radius] = data[start + reflect(i, n) * stride]!;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let t = 0; t < kernel.length; t++) sum += kernel[t]! * line[i + t]!;
      data[start + i * stride] = sum;
    }
  }
}

/**
 * Blurs with a Gaussian of standard deviation `sigmaMm` (one number or per axis i, j, k),
 * each axis in turn. A sigma of 0 leaves that axis untouched.
 */
export function gaussianBlur(volume: Volume, sigmaMm: number | readonly [number, number, number], options: { truncate?: number } = {}): Volume<Float32Array> {
  const sigma = typeof sigmaMm === 'number' ? [sigmaMm, sigmaMm, sigmaMm] : [...sigmaMm];
  if (!sigma.every((s) => Number.isFinite(s) && s >= 0)) throw new MewmError('InvalidInput', `Gaussian sigma ${sigma.join(',')} mm must be finite and non-negative`);
  const spacing = spacingOf(volume.affine);
  const data = Float32Array.from(volume.data);
  for (let axis = 0; axis < 3; axis++) {
    const sigmaVoxels = sigma[axis]! / spacing[axis]!;
    if (sigmaVoxels === 0) continue;
    blurAxis(data, volume.shape, axis, gaussianKernel(sigmaVoxels, options.truncate ?? 4));
  }
  return makeVolume(data, volume.shape, volume.affine);
}
