/**
 * Connected components of binary masks (any non-zero voxel is foreground) and size filters.
 * Components are numbered 1..n in order of first appearance in memory order (x fastest), as
 * scipy.ndimage.label numbers a `[Z, Y, X]` array. Pure, no Node APIs.
 */
import { MewmError } from '../errors';
import { allocateLike } from './orientation';
import { makeVolume, type Volume, type VoxelArray } from './volume';

/** 6: faces only; 26: faces, edges and corners. */
export type Connectivity = 6 | 26;

export interface Components {
  /** 0 background, 1..count the component of each voxel. */
  readonly labels: Volume<Int32Array>;
  readonly count: number;
  /** `sizes[c - 1]`: voxels in component c. */
  readonly sizes: readonly number[];
}

function neighbourOffsets(connectivity: Connectivity): Array<readonly [number, number, number]> {
  if (connectivity !== 6 && connectivity !== 26) throw new MewmError('InvalidInput', `connectivity must be 6 or 26, got ${connectivity}`);
  const offsets: Array<readonly [number, number, number]> = [];
  for (let dz = -1; dz <= 1; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const steps = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (steps === 0 || (connectivity === 6 && steps > 1)) continue;
        offsets.push([dx, dy, dz]);
      }
    }
  }
  return offsets;
}

export function connectedComponents(mask: Volume, connectivity: Connectivity = 26): Components {
  const offsets = neighbourOffsets(connectivity);
  const [nx, ny, nz] = mask.shape;
  const plane = nx * ny;
  const source = mask.data;
  const labels = new Int32Array(source.length);
  const queue = new Int32Array(source.length);
  const sizes: number[] = [];
  let count = 0;
  for (let seed = 0; seed < source.length; seed++) {
    if (source[seed] === 0 || labels[seed] !== 0) continue;
    count++;
    labels[seed] = count;
    let head = 0;
    let tail = 0;
    queue[tail++] = seed;
    while (head < tail) {
      const index = queue[head++]!;
      const z = Math.floor(index / plane);
      const rest = index - z * plane;
      const y = Math.floor(rest / nx);
      const x = rest - y * nx;
      for (const [dx, dy, dz] of offsets) {
        const xx = x + dx;
        const yy = y + dy;
        const zz = z + dz;
        if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
        const neighbour = xx + nx * yy + plane * zz;
        if (source[neighbour] === 0 || labels[neighbour] !== 0) continue;
        labels[neighbour] = count;
        queue[tail++] = neighbour;
      }
    }
    sizes.push(tail);
  }
  return { labels: makeVolume(labels, mask.shape, mask.affine), count, sizes };
}

function keepWhere<T extends VoxelArray>(mask: Volume<T>, components: Components, keep: (component: number) => boolean): Volume<T> {
  const out = allocateLike(mask.data, mask.data.length);
  const labels = components.labels.data;
  const kept = new Uint8Array(components.count + 1);
  for (let c = 1; c <= components.count; c++) kept[c] = keep(c) ? 1 : 0;
  for (let i = 0; i < labels.length; i++) if (kept[labels[i]!]) out[i] = mask.data[i]!;
  return makeVolume(out, mask.shape, mask.affine);
}

/**
 * Keeps the `count` largest components (ties: the earlier-numbered one), zeroing the rest.
 * Kept voxels keep their values, so a liver/tumour map stays a label map.
 */
export function keepLargestComponents<T extends VoxelArray>(mask: Volume<T>, count = 1, connectivity: Connectivity = 26): Volume<T> {
  const components = connectedComponents(mask, connectivity);
  const order = components.sizes.map((size, i) => ({ size, component: i + 1 })).sort((a, b) => b.size - a.size || a.component - b.component);
  const kept = new Set(order.slice(0, count).map((entry) => entry.component));
  return keepWhere(mask, components, (component) => kept.has(component));
}

/** Zeroes components with fewer than `minVoxels` voxels; kept voxels keep their values. */
export function removeSmallComponents<T extends VoxelArray>(mask: Volume<T>, minVoxels: number, connectivity: Connectivity = 26): Volume<T> {
  const components = connectedComponents(mask, connectivity);
  return keepWhere(mask, components, (component) => components.sizes[component - 1]! >= minVoxels);
}
