/** Intensity transforms on volumes. Pure, no Node APIs. */
import { MewmError } from '../errors';
import { makeVolume, type Volume } from './volume';

/** The paper's CT window in HU (liver-tumour models are trained on it). */
export const defaultHuWindow: readonly [number, number] = [-175, 600];

export interface WindowOptions {
  /**
   * Overwrite a Float32Array input instead of allocating (saves a volume's worth of memory on
   * large CTs; only when the caller owns the input). Other voxel types are never overwritten.
   */
  readonly inPlace?: boolean;
}

/**
 * Clips HU to [lo, hi] and maps linearly to [-1, 1] (MONAI `ScaleIntensityRange` with
 * `clip=True`, b_min -1, b_max 1). NaN voxels map to -1 (treated as below the window).
 */
export function windowHu(volume: Volume, lo = defaultHuWindow[0], hi = defaultHuWindow[1], options: WindowOptions = {}): Volume<Float32Array> {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) {
    throw new MewmError('InvalidInput', `HU window [${lo}, ${hi}] must be finite with hi > lo`);
  }
  const source = volume.data;
  const inPlace = options.inPlace === true && source instanceof Float32Array;
  const out = inPlace ? source : new Float32Array(source.length);
  const scale = 2 / (hi - lo);
  for (let i = 0; i < source.length; i++) {
    const v = source[i]!;
    out[i] = v >= hi ? 1 : v > lo ? (v - lo) * scale - 1 : -1;
  }
  return inPlace ? (volume as Volume<Float32Array>) : makeVolume(out, volume.shape, volume.affine);
}

/** Inverse of `windowHu` inside the window: [-1, 1] back to HU. */
export function unwindowHu(volume: Volume, lo = defaultHuWindow[0], hi = defaultHuWindow[1]): Volume<Float32Array> {
  const source = volume.data;
  const out = new Float32Array(source.length);
  const half = (hi - lo) / 2;
  for (let i = 0; i < source.length; i++) out[i] = (source[i]! + 1) * half + lo;
  return makeVolume(out, volume.shape, volume.affine);
}
