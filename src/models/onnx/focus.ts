/**
 * Focused segmentation: where a simulated CT can differ from the CT it was simulated from.
 *
 * The dynamics model replaces the CT only around the pre-treatment tumour (the pasted patch) and
 * shifts the liver's attenuation elsewhere, which moves no organ boundary. So the assistant needs
 * to segment only a box around that tumour, dilated by a margin; everywhere else the labels of
 * the pre-treatment CT stand. `focusOf` gives the box on the planning grid (the labels that are
 * replaced) and the model-grid window the segmenter reads for it: the box plus context, at least
 * one segmenter window wide on every axis, inside the model grid.
 */
import { spacingOf, Label, type Volume } from '../../core/volume/volume';
import type { Xyz } from './resample';
import type { Zyx } from './sliding-window';

export interface SegmentationWindow {
  /** Planning-grid voxels whose labels come from the segmenter, inclusive bounds `[x, y, z]`. */
  readonly lo: Xyz;
  readonly hi: Xyz;
  /** Model-grid window the segmenter reads, `[z, y, x]`. */
  readonly windowStartZyx: Zyx;
  readonly windowShapeZyx: Zyx;
}

/**
 * The focus for labels simulated from `pre`: the bounding box of its tumour dilated by `marginMm`
 * (clamped to the grid), and a model-grid window around it with `contextVoxels` more on each side
 * (where the grid allows), grown to at least `roiZyx`. Undefined when `pre` has no tumour: then
 * nothing bounds the change and the whole CT is segmented.
 */
export function focusOf(pre: Volume<Uint8Array>, ratio: Xyz, modelShapeZyx: Zyx, roiZyx: Zyx, marginMm: number, contextVoxels: number): SegmentationWindow | undefined {
  const [nx, ny, nz] = pre.shape;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  let i = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        if (pre.data[i] !== Label.tumour) continue;
        if (x < lo[0]!) lo[0] = x;
        if (x > hi[0]!) hi[0] = x;
        if (y < lo[1]!) lo[1] = y;
        if (y > hi[1]!) hi[1] = y;
        if (z < lo[2]!) lo[2] = z;
        if (z > hi[2]!) hi[2] = z;
      }
  if (lo[0] === Infinity) return undefined;
  const spacing = spacingOf(pre.affine);
  const box = [0, 1, 2].map((a) => {
    const pad = Math.ceil(marginMm / spacing[a]! - 1e-9);
    return [Math.max(0, lo[a]! - pad), Math.min(pre.shape[a]! - 1, hi[a]! + pad)] as const;
  });
  // Model-grid window per axis (x, y, z): every model voxel the box's trilinear taps read, plus context.
  const window = [0, 1, 2].map((a) => {
    const m = modelShapeZyx[2 - a]!;
    const roi = roiZyx[2 - a]!;
    let start = Math.max(0, Math.floor(box[a]![0] / ratio[a]!) - contextVoxels);
    let end = Math.min(m, Math.floor(box[a]![1] / ratio[a]!) + 2 + contextVoxels);
    const missing = Math.min(roi, m) - (end - start);
    if (missing > 0) {
      start = Math.max(0, start - Math.ceil(missing / 2));
      end = Math.min(m, start + Math.min(roi, m));
      start = end - Math.min(roi, m);
    }
    return [start, end - start] as const;
  });
  return {
    lo: [box[0]![0], box[1]![0], box[2]![0]],
    hi: [box[0]![1], box[1]![1], box[2]![1]],
    windowStartZyx: [window[2]![0], window[1]![0], window[0]![0]],
    windowShapeZyx: [window[2]![1], window[1]![1], window[0]![1]],
  };
}
