/** Key axial slices of a labelled CT as PNGs: what the policy is shown, and the reports' pictures. */
import { reorientToRas } from '../core/volume/orientation';
import { Label, type LabelledCt } from '../core/volume/volume';
import { encodePng, renderAxialSlice } from './png';

/**
 * PNGs of `count` axial slices through the tumour (the slice with the most tumour and its
 * neighbours spread over the lesion), abdominal window, liver and tumour outlined.
 */
export function renderKeySlices(roi: LabelledCt, count: number): Uint8Array[] {
  if (count === 0) return [];
  const labels = reorientToRas(roi.labels);
  const [nx, ny, nz] = labels.shape;
  const plane = nx * ny;
  const area = new Array<number>(nz).fill(0);
  for (let z = 0; z < nz; z++) for (let q = z * plane; q < (z + 1) * plane; q++) if (labels.data[q] === Label.tumour) area[z]!++;
  const withTumour = area.map((a, z) => ({ a, z })).filter((s) => s.a > 0);
  if (withTumour.length === 0) return [];
  const best = withTumour.reduce((m, s) => (s.a > m.a ? s : m));
  const lo = withTumour[0]!.z;
  const hi = withTumour[withTumour.length - 1]!.z;
  const picks = new Set<number>([best.z]);
  for (let k = 1; picks.size < count && k <= count; k++) {
    const step = Math.max(1, Math.round(((hi - lo) / (count + 1)) * k));
    for (const z of [best.z - step, best.z + step]) if (z >= lo && z <= hi && picks.size < count) picks.add(z);
  }
  return [...picks]
    .sort((a, b) => a - b)
    .map((z) => {
      const image = renderAxialSlice(roi.ct, z, { labels: roi.labels });
      return encodePng(image.rgba, image.width, image.height);
    });
}
