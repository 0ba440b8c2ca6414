/**
 * Segmentation post-processing of the paper (Appendix B.3): keep the largest 26-connected
 * organ component (liver ∪ tumour) and remove every label outside it, so tumour predicted
 * outside the liver disappears. Labels 0 background, 1 liver, 2 tumour; `[nx, ny, nz]`, x fastest.
 * Mirrors `postprocess_labels` in training/metrics.py.
 */
import type { Xyz } from './resample';

/**
 * The organ (label ≥ 1) as runs along x, in raster order, joined into 26-connected components by
 * union-find: a run touches a run of an earlier row (y − 1 in its slice, or y − 1…y + 1 in the
 * slice before) when their x intervals overlap or meet diagonally. Work is per run, not per voxel.
 * Returns every run's component root and each root's voxel count; a component's rank is the
 * index of its first run (= its first voxel in raster order).
 */
function organRuns(labels: Uint8Array, shape: Xyz) {
  const [nx, ny, nz] = shape;
  const rows = ny * nz;
  const rowFirst = new Int32Array(rows + 1);
  let starts = new Int32Array(1024);
  let ends = new Int32Array(1024);
  let count = 0;
  for (let row = 0; row < rows; row++) {
    rowFirst[row] = count;
    const o = row * nx;
    let x = 0;
    while (x < nx) {
      if (labels[o + x] === 0) {
        x++;
        continue;
      }
      const start = x;
      while (x < nx && labels[o + x] !== 0) x++;
      if (count === starts.length) {
        starts = grow(starts);
        ends = grow(ends);
      }
      starts[count] = start;
      ends[count++] = x - 1;
    }
  }
  rowFirst[rows] = count;

  const parent = new Int32Array(count);
  for (let i = 0; i < count; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  // The smaller run index becomes the root, so a root is its component's first run.
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra < rb) parent[rb] = ra;
    else if (rb < ra) parent[ra] = rb;
  };
  const joinRows = (row: number, other: number) => {
    let i = rowFirst[row]!;
    let j = rowFirst[other]!;
    const iEnd = rowFirst[row + 1]!;
    const jEnd = rowFirst[other + 1]!;
    while (i < iEnd && j < jEnd) {
      if (starts[i]! <= ends[j]! + 1 && starts[j]! <= ends[i]! + 1) union(i, j);
      if (ends[i]! < ends[j]!) i++;
      else j++;
    }
  };
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) {
      const row = y + ny * z;
      if (rowFirst[row] === rowFirst[row + 1]) continue;
      if (y > 0) joinRows(row, row - 1);
      if (z > 0) for (let dy = -1; dy <= 1; dy++) if (y + dy >= 0 && y + dy < ny) joinRows(row, row - ny + dy);
    }

  const size = new Float64Array(count);
  const root = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const r = find(i);
    root[i] = r;
    size[r] = size[r]! + ends[i]! - starts[i]! + 1;
  }
  return { rowFirst, starts, ends, root, size, count };
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

export function keepLargestOrgan(labels: Uint8Array, shape: Xyz): Uint8Array {
  const { rowFirst, starts, ends, root, size, count } = organRuns(labels, shape);
  if (count === 0) return Uint8Array.from(labels);
  // Roots are first runs, visited in raster order: on equal sizes the earlier component wins.
  let best = 0;
  for (let i = 1; i < count; i++) if (root[i] === i && size[i]! > size[best]!) best = i;
  const nx = shape[0];
  const kept = new Uint8Array(labels.length);
  for (let row = 0; row < rowFirst.length - 1; row++)
    for (let i = rowFirst[row]!; i < rowFirst[row + 1]!; i++) {
      if (root[i] !== best) continue;
      const o = row * nx;
      kept.set(labels.subarray(o + starts[i]!, o + ends[i]! + 1), o + starts[i]!);
    }
  return kept;
}
