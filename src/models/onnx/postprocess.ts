/**
 * Segmentation post-processing of the paper (Appendix B.3): keep the largest 26-connected
 * organ component (liver ∪ tumour) and remove every label outside it, so tumour predicted
 * outside the liver disappears. Labels 0 background, 1 liver, 2 tumour; `[nx, ny, nz]`, x fastest.
 * Mirrors `postprocess_labels` in training/metrics.py.
 */
import type { Xyz } from './resample';

/**
 * Labels each 26-connected component of `mask`; returns component ids (0 = outside) and sizes.
 * Ids are given in raster order of each component's first voxel. Depth-first flood fill with a
 * typed stack; voxels off the volume's faces use precomputed neighbour offsets, the rest check
 * bounds.
 */
export function connectedComponents(mask: Uint8Array, shape: Xyz): { ids: Int32Array; sizes: number[] } {
  const [nx, ny, nz] = shape;
  const ids = new Int32Array(mask.length);
  const sizes: number[] = [0];
  const stack = new Int32Array(mask.length);
  const offsets: number[] = [];
  for (let dz = -1; dz <= 1; dz++) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (dx || dy || dz) offsets.push(dx + nx * (dy + ny * dz));
  const plane = nx * ny;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || ids[start]) continue;
    const id = sizes.length;
    let size = 0;
    let top = 0;
    ids[start] = id;
    stack[top++] = start;
    while (top > 0) {
      const idx = stack[--top]!;
      size++;
      const z = (idx / plane) | 0;
      const rest = idx - z * plane;
      const y = (rest / nx) | 0;
      const x = rest - y * nx;
      if (x > 0 && x < nx - 1 && y > 0 && y < ny - 1 && z > 0 && z < nz - 1) {
        for (let k = 0; k < 26; k++) {
          const n = idx + offsets[k]!;
          if (mask[n] && !ids[n]) {
            ids[n] = id;
            stack[top++] = n;
          }
        }
        continue;
      }
      for (let dz = -1; dz <= 1; dz++) {
        const zz = z + dz;
        if (zz < 0 || zz >= nz) continue;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= ny) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= nx) continue;
            const n = xx + nx * (yy + ny * zz);
            if (mask[n] && !ids[n]) {
              ids[n] = id;
              stack[top++] = n;
            }
          }
        }
      }
    }
    sizes.push(size);
  }
  return { ids, sizes };
}

export function keepLargestOrgan(labels: Uint8Array, shape: Xyz): Uint8Array {
  const organ = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) organ[i] = labels[i]! >= 1 ? 1 : 0;
  const { ids, sizes } = connectedComponents(organ, shape);
  const kept = Uint8Array.from(labels);
  if (sizes.length <= 1) return kept;
  let best = 1;
  for (let i = 2; i < sizes.length; i++) if (sizes[i]! > sizes[best]!) best = i;
  for (let i = 0; i < kept.length; i++) if (ids[i] !== best) kept[i] = 0;
  return kept;
}
