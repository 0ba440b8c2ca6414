/**
 * The planning ROI, the one grid every model input lives on: axis-aligned RAS+, isotropic
 * `spacingMm`, `size` voxels [nx, ny, nz], its centre voxel (floor(n/2) per axis) on the tumour's
 * centre of mass. Ingest (activities/case.ts), evaluation, `mewm compare` and the training patch
 * export build it with these functions, so a case has the same ROI everywhere.
 *
 * Resampling straight from the source grid onto the ROI (any orientation: the affines carry it)
 * avoids resampling whole CTs. Outside the source: −1024 HU (air) and label 0.
 */
import { MewmError } from '../errors';
import { resampleToGrid } from './resample';
import { Label, diagonalAffine, type LabelledCt, type Volume } from './volume';

/** HU given to ROI voxels outside the source CT (air). */
export const ROI_OUTSIDE_HU = -1024;

export interface RoiGrid {
  readonly shape: [number, number, number];
  /** Row-major 4x4 voxel → RAS mm. */
  readonly affine: number[];
}

/** Centre of mass of the tumour voxels (label 2), in RAS mm. */
export function tumourCentreMm(caseId: string, labels: Volume<Uint8Array>): [number, number, number] {
  const [nx, ny, nz] = labels.shape;
  let sx = 0;
  let sy = 0;
  let sz = 0;
  let count = 0;
  let index = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, index++) {
        if (labels.data[index] !== Label.tumour) continue;
        sx += x;
        sy += y;
        sz += z;
        count++;
      }
    }
  }
  if (count === 0) throw new MewmError('InvalidInput', `case ${caseId}: the mask has no tumour voxels (label 2); planning needs a tumour`, { caseId });
  const [i, j, k] = [sx / count, sy / count, sz / count];
  const a = labels.affine;
  return [0, 1, 2].map((r) => a[4 * r]! * i + a[4 * r + 1]! * j + a[4 * r + 2]! * k + a[4 * r + 3]!) as [number, number, number];
}

/** The ROI grid: RAS-aligned, isotropic spacing, centre voxel on `centreMm`. */
export function roiGrid(centreMm: readonly [number, number, number], size: readonly [number, number, number], spacingMm: number): RoiGrid {
  const origin = [0, 1, 2].map((a) => centreMm[a]! - Math.floor(size[a]! / 2) * spacingMm) as [number, number, number];
  return { shape: [size[0], size[1], size[2]], affine: [...diagonalAffine([spacingMm, spacingMm, spacingMm], origin)] };
}

/** A CT (trilinear, outside −1024 HU) and its labels (nearest, outside 0) resampled onto `grid`. */
export function resampleToRoi(source: LabelledCt, grid: RoiGrid): LabelledCt {
  return {
    ct: resampleToGrid(source.ct, grid.shape, grid.affine, 'linear', { outside: ROI_OUTSIDE_HU }),
    labels: resampleToGrid(source.labels, grid.shape, grid.affine, 'nearest', { outside: 0 }),
  };
}

/** The planning ROI of a labelled CT: the tumour-centred grid and both volumes resampled onto it. */
export function planningRoi(
  caseId: string,
  source: LabelledCt,
  settings: { readonly roiSize: readonly [number, number, number]; readonly roiSpacingMm: number },
): { grid: RoiGrid; centreMm: [number, number, number]; roi: LabelledCt } {
  const centreMm = tumourCentreMm(caseId, source.labels);
  const grid = roiGrid(centreMm, settings.roiSize, settings.roiSpacingMm);
  return { grid, centreMm, roi: resampleToRoi(source, grid) };
}

/** Axial index (RAS voxel z) of the slice with the most tumour voxels; the middle slice when there is none. */
export function largestTumourSlice(labels: Volume<Uint8Array>): number {
  const [nx, ny, nz] = labels.shape;
  let best = Math.floor(nz / 2);
  let bestCount = 0;
  for (let z = 0; z < nz; z++) {
    let count = 0;
    for (let q = z * nx * ny; q < (z + 1) * nx * ny; q++) if (labels.data[q] === Label.tumour) count++;
    if (count > bestCount) {
      best = z;
      bestCount = count;
    }
  }
  return best;
}
