/**
 * Is this a CT in Hounsfield units on a usable grid? The stated rules (docs/architecture.md,
 * "Bounded ingest"), applied to every pre-treatment CT at ingest (activities/case.ts), after the
 * reader's own checks (src/io/nifti.ts, src/io/dicom.ts, src/core/volume/validate.ts):
 *
 * 1. Every voxel is finite. A NaN or infinite voxel would spread through resampling into the ROI.
 * 2. Not all-constant: a CT with one value holds no anatomy.
 * 3. Hounsfield units: some voxel is at or below `airHu` (−500 HU: air around the body, lung or
 *    bowel gas; every abdominal CT holds some) and every voxel lies in [−32768, 32767] (what HU
 *    stored as int16 with padding can reach). This refuses 8-bit "HU/10" (int8: air at −100) and
 *    uint8 / uint16-without-intercept / normalised [0, 1] data, which would be read as soft tissue.
 * 4. Grid: the voxel axes may be sheared (a DICOM gantry tilt steps slices along the table) by at
 *    most `maxShearDegrees` (30°) from orthogonal; more, or a degenerate (flat) grid, is refused.
 *    A sheared grid within the limit is accepted and resampled onto an axis-aligned grid before
 *    any model sees it (activities/case.ts).
 * Each refusal is a `MewmError('InvalidVolume')` naming the input by its label and saying how to fix it.
 */
import { invalidVolume } from '../core/volume/validate';
import type { Affine, Volume } from '../core/volume/volume';

export const CT_RULES = { airHu: -500, minHu: -32768, maxHu: 32767, maxShearDegrees: 30 } as const;

export interface CtValueSummary {
  readonly min: number;
  readonly max: number;
  readonly nonFinite: number;
}

export function summariseCtValues(data: ArrayLike<number>): CtValueSummary {
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!;
    if (!Number.isFinite(value)) {
      nonFinite++;
      continue;
    }
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { min, max, nonFinite };
}

/** Rules 1–3 (values). */
export function assertHounsfieldValues(volume: Volume, name: string): CtValueSummary {
  const summary = summariseCtValues(volume.data);
  const { min, max, nonFinite } = summary;
  if (nonFinite === volume.data.length) throw invalidVolume(name, 'every voxel is NaN or infinite');
  if (nonFinite > 0)
    throw invalidVolume(name, `holds ${nonFinite} NaN or infinite voxels; a CT in HU has finite values everywhere (replace them with -1024, air)`, {
      nonFinite,
    });
  if (min === max) throw invalidVolume(name, `is all-constant (every voxel is ${min}); a CT holds anatomy`, { min, max });
  if (min < CT_RULES.minHu || max > CT_RULES.maxHu) {
    throw invalidVolume(name, `spans ${min} to ${max}, outside [${CT_RULES.minHu}, ${CT_RULES.maxHu}]: not Hounsfield units`, { min, max });
  }
  if (min > CT_RULES.airHu) {
    throw invalidVolume(
      name,
      `spans ${min} to ${max} with no voxel at or below ${CT_RULES.airHu} HU (air, lung or bowel gas): not Hounsfield units (8-bit "HU/10", uint8, a missing rescale intercept or normalised data?); convert the CT to HU first`,
      { min, max },
    );
  }
  return summary;
}

/** Largest deviation from 90° (degrees) between two voxel axes of an affine; Infinity for a degenerate grid. */
export function shearDegrees(affine: Affine): number {
  const columns = [0, 1, 2].map((c) => [affine[c]!, affine[4 + c]!, affine[8 + c]!]);
  const norms = columns.map((v) => Math.hypot(v[0]!, v[1]!, v[2]!));
  if (!norms.every((n) => n > 0 && Number.isFinite(n))) return Infinity;
  const unit = columns.map((v, c) => v.map((x) => x / norms[c]!));
  const [a, b, c] = unit as [number[], number[], number[]];
  const det = a[0]! * (b[1]! * c[2]! - b[2]! * c[1]!) - a[1]! * (b[0]! * c[2]! - b[2]! * c[0]!) + a[2]! * (b[0]! * c[1]! - b[1]! * c[0]!);
  if (Math.abs(det) < 1e-3) return Infinity;
  let worst = 0;
  for (const [i, j] of [
    [0, 1],
    [0, 2],
    [1, 2],
  ] as const) {
    const cosine = unit[i]!.reduce((sum, x, k) => sum + x * unit[j]![k]!, 0);
    worst = Math.max(worst, Math.abs(90 - (Math.acos(Math.max(-1, Math.min(1, cosine))) * 180) / Math.PI));
  }
  return worst;
}

/** Rule 4 (grid). Returns whether the grid is sheared (beyond 0.01°) and so needs resampling onto an axis-aligned grid. */
export function assertUsableGrid(affine: Affine, name: string): { sheared: boolean; shearDegrees: number } {
  const degrees = shearDegrees(affine);
  if (!Number.isFinite(degrees)) throw invalidVolume(name, 'has a degenerate affine (its voxel axes do not span 3D space)');
  if (degrees > CT_RULES.maxShearDegrees) {
    throw invalidVolume(
      name,
      `has voxel axes ${degrees.toFixed(1)}° from orthogonal (sheared), above the ${CT_RULES.maxShearDegrees}° mewm accepts; resample the CT onto an orthogonal grid first`,
      { shearDegrees: degrees },
    );
  }
  return { sheared: degrees > 0.01, shearDegrees: degrees };
}

/** All rules: what ingest calls on a pre-treatment CT. */
export function assertPlausibleCt(volume: Volume, name: string): { sheared: boolean } {
  assertHounsfieldValues(volume, name);
  return assertUsableGrid(volume.affine, name);
}
