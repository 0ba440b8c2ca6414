/**
 * The textual observation the policy is given: numbers computed from the pre-CT (HU) and its
 * label map (0 background, 1 liver, 2 tumour) on the same grid, plus a summary sentence.
 *
 * Definitions (units in the names):
 * - lesions: 26-connected components of the tumour label with at least `minLesionMl`;
 * - largest diameter: the largest lesion's extent in world mm along 13 directions (axes, face and
 *   body diagonals), the maximum taken — a cheap, rotation-tolerant stand-in for the Feret diameter;
 * - liver volume: liver *including* tumour (the whole organ), so burden = tumour / liver;
 * - enhancement: mean tumour HU − mean liver-parenchyma HU;
 * - heterogeneity: standard deviation / mean of tumour HU (mean floored at 10 HU in magnitude);
 * - location: RAS x of the largest lesion's centroid against the liver's centroid (RAS +x points
 *   to the patient's right, where the larger right lobe lies); `bilobar` when lesions lie on both
 *   sides of that line.
 */
import { MewmError } from '../core/errors';
import { connectedComponents } from '../core/volume/components';
import { Label, makeVolume, sameGrid, type LabelledCt } from '../core/volume/volume';
import type { TumourObservation } from './policy';

export interface ObservationOptions {
  /** Components smaller than this are segmentation noise, not lesions (default 0.05 ml). */
  readonly minLesionMl?: number;
  /** Case id for error messages only. */
  readonly caseId?: string;
}

const DIRECTIONS: ReadonlyArray<readonly [number, number, number]> = (() => {
  const out: Array<[number, number, number]> = [];
  for (let x = -1; x <= 1; x++)
    for (let y = -1; y <= 1; y++)
      for (let z = -1; z <= 1; z++) {
        if (x === 0 && y === 0 && z === 0) continue;
        // Keep one of each ±u pair.
        const first = x !== 0 ? x : y !== 0 ? y : z;
        if (first < 0) continue;
        const n = Math.hypot(x, y, z);
        out.push([x / n, y / n, z / n]);
      }
  return out;
})();

function enhancementWord(hu: number): string {
  if (hu >= 20) return 'hyper-enhancing';
  if (hu >= 5) return 'mildly enhancing';
  if (hu > -5) return 'iso-attenuating';
  return 'hypo-attenuating';
}

const LOCATION_TEXT: Readonly<Record<TumourObservation['location'], string>> = {
  'right-lobe': 'in the right lobe',
  'left-lobe': 'in the left lobe',
  bilobar: 'in both lobes',
};

export function observeTumour(roi: LabelledCt, options: ObservationOptions = {}): TumourObservation {
  const caseId = options.caseId ?? 'unknown-case';
  const { ct, labels } = roi;
  if (!sameGrid(ct, labels)) throw new MewmError('InvalidVolume', `case ${caseId}: CT and labels are not on the same grid`, { caseId });
  const a = ct.affine;
  const voxelMm3 = Math.abs(a[0]! * (a[5]! * a[10]! - a[6]! * a[9]!) - a[1]! * (a[4]! * a[10]! - a[6]! * a[8]!) + a[2]! * (a[4]! * a[9]! - a[5]! * a[8]!));
  if (!(voxelMm3 > 0) || !Number.isFinite(voxelMm3)) throw new MewmError('InvalidVolume', `case ${caseId}: the affine has no volume`, { caseId });
  const voxelMl = voxelMm3 / 1000;
  const [nx, ny] = ct.shape;
  const plane = nx * ny;
  const world = (index: number): [number, number, number] => {
    const k = Math.floor(index / plane);
    const rest = index - k * plane;
    const j = Math.floor(rest / nx);
    const i = rest - j * nx;
    return [a[0]! * i + a[1]! * j + a[2]! * k + a[3]!, a[4]! * i + a[5]! * j + a[6]! * k + a[7]!, a[8]! * i + a[9]! * j + a[10]! * k + a[11]!];
  };

  const tumourMask = new Uint8Array(labels.data.length);
  let liverVoxels = 0;
  let liverSum = 0;
  let liverX = 0;
  let organVoxels = 0;
  for (let v = 0; v < labels.data.length; v++) {
    const label = labels.data[v];
    if (label === Label.tumour) tumourMask[v] = 1;
    if (label === Label.liver) {
      liverVoxels++;
      liverSum += ct.data[v]!;
    }
    if (label === Label.liver || label === Label.tumour) {
      organVoxels++;
      liverX += world(v)[0];
    }
  }
  if (liverVoxels === 0) throw new MewmError('InvalidInput', `case ${caseId}: the label map has no liver voxels (label 1)`, { caseId });

  const components = connectedComponents(makeVolume(tumourMask, labels.shape, labels.affine), 26);
  const minVoxels = Math.max(1, Math.ceil((options.minLesionMl ?? 0.05) / voxelMl));
  const lesionIds = components.sizes.map((size, i) => ({ id: i + 1, size })).filter((c) => c.size >= minVoxels);
  if (lesionIds.length === 0)
    throw new MewmError('InvalidInput', `case ${caseId}: no tumour (label 2) of at least ${options.minLesionMl ?? 0.05} ml`, { caseId });
  const isLesion = new Uint8Array(components.count + 1);
  for (const c of lesionIds) isLesion[c.id] = 1;
  const largest = lesionIds.reduce((best, c) => (c.size > best.size ? c : best));

  const centroidX = new Float64Array(components.count + 1);
  const lo = DIRECTIONS.map(() => Infinity);
  const hi = DIRECTIONS.map(() => -Infinity);
  let tumourVoxels = 0;
  let tumourSum = 0;
  let tumourSumSq = 0;
  const componentOf = components.labels.data;
  for (let v = 0; v < componentOf.length; v++) {
    const c = componentOf[v]!;
    if (c === 0 || !isLesion[c]) continue;
    const hu = ct.data[v]!;
    tumourVoxels++;
    tumourSum += hu;
    tumourSumSq += hu * hu;
    const p = world(v);
    centroidX[c] = centroidX[c]! + p[0];
    if (c === largest.id) {
      DIRECTIONS.forEach((u, d) => {
        const t = p[0] * u[0] + p[1] * u[1] + p[2] * u[2];
        if (t < lo[d]!) lo[d] = t;
        if (t > hi[d]!) hi[d] = t;
      });
    }
  }
  // Extent between voxel centres plus one voxel's thickness along the direction.
  const [sx, sy, sz] = [Math.hypot(a[0]!, a[4]!, a[8]!), Math.hypot(a[1]!, a[5]!, a[9]!), Math.hypot(a[2]!, a[6]!, a[10]!)];
  const largestDiameterMm = Math.max(...DIRECTIONS.map((u, d) => hi[d]! - lo[d]! + Math.hypot(u[0] * sx, u[1] * sy, u[2] * sz)));

  const liverCentreX = liverX / organVoxels;
  const sideOf = (c: number) => (centroidX[c]! / components.sizes[c - 1]! > liverCentreX ? 'right-lobe' : 'left-lobe');
  const sides = new Set(lesionIds.map((c) => sideOf(c.id)));
  const location: TumourObservation['location'] = sides.size > 1 ? 'bilobar' : sideOf(largest.id);

  const tumourMean = tumourSum / tumourVoxels;
  const tumourSd = Math.sqrt(Math.max(0, tumourSumSq / tumourVoxels - tumourMean * tumourMean));
  const enhancementHu = tumourMean - liverSum / liverVoxels;
  const heterogeneity = tumourSd / Math.max(Math.abs(tumourMean), 10);
  if (!Number.isFinite(enhancementHu) || !Number.isFinite(heterogeneity)) {
    throw new MewmError('InvalidVolume', `case ${caseId}: the CT has non-finite HU inside the liver or tumour`, { caseId });
  }
  const totalTumourMl = tumourVoxels * voxelMl;
  const liverMl = organVoxels * voxelMl;
  const tumourBurden = totalTumourMl / liverMl;
  const count = lesionIds.length;

  const lesionText = count === 1 ? `A single ${enhancementWord(enhancementHu)} lesion` : `${count} ${enhancementWord(enhancementHu)} lesions, the largest`;
  const summary =
    `${lesionText} of ${largestDiameterMm.toFixed(0)} mm ${LOCATION_TEXT[location]}; ` +
    `total tumour volume ${totalTumourMl.toFixed(1)} ml, ${(tumourBurden * 100).toFixed(1)} % of a ${liverMl.toFixed(0)} ml liver; ` +
    `enhancement ${enhancementHu >= 0 ? '+' : ''}${enhancementHu.toFixed(0)} HU over liver; ${heterogeneity > 0.25 ? 'heterogeneous' : 'homogeneous'} (CV ${heterogeneity.toFixed(2)}).`;

  return { tumourCount: count, largestDiameterMm, totalTumourMl, liverMl, tumourBurden, enhancementHu, heterogeneity, location, summary };
}
