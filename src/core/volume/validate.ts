/**
 * Plausibility checks shared by every reader of images (NIfTI, DICOM, artifacts): a volume that
 * fails them is rejected with `MewmError('InvalidVolume')` naming the file and the problem,
 * instead of flowing on as a silently wrong volume. Pure: no Node APIs.
 */
import { MewmError } from '../errors';
import { spacingOf, voxelCount, type Volume } from './volume';

/** Voxels larger than this (mm) along any axis are not a CT of a patient. */
export const maxPlausibleSpacingMm = 50;

export function invalidVolume(name: string, problem: string, details: Record<string, unknown> = {}, cause?: unknown): MewmError {
  return new MewmError('InvalidVolume', `${name}: ${problem}`, { file: name, problem, ...details }, cause === undefined ? undefined : { cause });
}

/** Checks a spacing triple (mm): finite, positive and at most `maxPlausibleSpacingMm`. */
export function assertPlausibleSpacing(spacing: readonly number[], name: string): void {
  spacing.forEach((value, axis) => {
    if (Number.isNaN(value)) throw invalidVolume(name, `voxel spacing along axis ${axis} is NaN`, { spacing });
    if (!Number.isFinite(value)) throw invalidVolume(name, `voxel spacing along axis ${axis} is infinite`, { spacing });
    if (value === 0) throw invalidVolume(name, `voxel spacing along axis ${axis} is 0 mm`, { spacing });
    if (value < 0) throw invalidVolume(name, `voxel spacing along axis ${axis} is negative (${value} mm)`, { spacing });
    if (value > maxPlausibleSpacingMm) {
      throw invalidVolume(name, `voxel spacing along axis ${axis} is ${value} mm, above the plausible ${maxPlausibleSpacingMm} mm`, { spacing });
    }
  });
}

/**
 * Checks shape, affine and spacing of a volume, and that it holds at least one finite voxel.
 * `requireFinite: false` skips the voxel scan (for label maps, which are integers anyway).
 */
export function assertPlausibleVolume(volume: Volume, name: string, options: { requireFinite?: boolean } = {}): void {
  const { shape, affine, data } = volume;
  if (shape.length !== 3 || !shape.every((n) => Number.isInteger(n) && n >= 1)) {
    throw invalidVolume(name, `shape ${shape.join('x')} is not three positive integers`);
  }
  if (data.length !== voxelCount(shape)) {
    throw invalidVolume(name, `holds ${data.length} voxels but its shape ${shape.join('x')} needs ${voxelCount(shape)}`);
  }
  if (affine.length !== 16) throw invalidVolume(name, `affine has ${affine.length} numbers, not 16`);
  assertPlausibleSpacing(spacingOf(affine), name);
  if (!affine.every(Number.isFinite)) throw invalidVolume(name, 'affine holds NaN or infinite numbers');
  if (options.requireFinite !== false && (data instanceof Float32Array || data instanceof Float64Array)) {
    let anyFinite = false;
    for (let i = 0; i < data.length; i++) {
      if (Number.isFinite(data[i]!)) {
        anyFinite = true;
        break;
      }
    }
    if (!anyFinite) throw invalidVolume(name, 'every voxel is NaN or infinite');
  }
}
