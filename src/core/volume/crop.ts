/**
 * Bounding boxes, cropping and pasting on voxel grids (indices x, y, z along i, j, k).
 * Affines follow the voxels: a crop's affine puts its voxel (0, 0, 0) where the source voxel
 * `start` sits. Pure, no Node APIs.
 */
import { MewmError } from '../errors';
import { allocateLike, invertAffine, multiplyAffine } from './orientation';
import { makeVolume, type Affine, type Shape3, type Volume, type VoxelArray } from './volume';

export type Voxel3 = readonly [x: number, y: number, z: number];

/** Inclusive voxel bounds. */
export interface BoundingBox {
  readonly min: [number, number, number];
  readonly max: [number, number, number];
}

/**
 * The smallest box holding every voxel where `predicate(value)` is true (default: non-zero),
 * or undefined when there is none.
 */
export function boundingBox(volume: Volume, predicate: (value: number) => boolean = (value) => value !== 0): BoundingBox | undefined {
  const [nx, ny, nz] = volume.shape;
  const data = volume.data;
  const min: [number, number, number] = [nx, ny, nz];
  const max: [number, number, number] = [-1, -1, -1];
  let index = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, index++) {
        if (!predicate(data[index]!)) continue;
        if (x < min[0]) min[0] = x;
        if (x > max[0]) max[0] = x;
        if (y < min[1]) min[1] = y;
        if (y > max[1]) max[1] = y;
        if (z < min[2]) min[2] = z;
        if (z > max[2]) max[2] = z;
      }
    }
  }
  return max[0] < 0 ? undefined : { min, max };
}

/** Centre voxel of a box (rounded down), e.g. to crop around a tumour. */
export function boxCentre(box: BoundingBox): [number, number, number] {
  return [0, 1, 2].map((a) => Math.floor((box.min[a]! + box.max[a]!) / 2)) as [number, number, number];
}

/** First source voxel of a crop of `size` centred on `centre`: `centre - floor(size / 2)`. */
export function cropStart(centre: Voxel3, size: Shape3): [number, number, number] {
  return [0, 1, 2].map((a) => centre[a]! - Math.floor(size[a]! / 2)) as [number, number, number];
}

function translateAffine(affine: Affine, start: Voxel3): number[] {
  return multiplyAffine(affine, [1, 0, 0, start[0], 0, 1, 0, start[1], 0, 0, 1, start[2], 0, 0, 0, 1]);
}

/**
 * A patch of `size` voxels centred on `centre` (starting at `cropStart(centre, size)`); voxels
 * beyond the source get `fill` (e.g. -1024 HU, 0 for labels). Keeps the voxel type.
 */
export function cropAround<T extends VoxelArray>(volume: Volume<T>, centre: Voxel3, size: Shape3, fill = 0): Volume<T> {
  if (!size.every((n) => Number.isInteger(n) && n >= 1)) throw new MewmError('InvalidInput', `crop size ${size.join('x')} must be positive integers`);
  if (!centre.every(Number.isInteger)) throw new MewmError('InvalidInput', `crop centre ${centre.join(',')} must be integer voxel indices`);
  const start = cropStart(centre, size);
  const [nx, ny, nz] = volume.shape;
  const [sx, sy, sz] = size;
  const out = allocateLike(volume.data, sx * sy * sz);
  if (fill !== 0) out.fill(fill);
  // overlap in x, copied as one run per row
  const x0 = Math.max(0, start[0]);
  const x1 = Math.min(nx, start[0] + sx);
  for (let z = 0; z < sz; z++) {
    const zs = start[2] + z;
    if (zs < 0 || zs >= nz) continue;
    for (let y = 0; y < sy; y++) {
      const ys = start[1] + y;
      if (ys < 0 || ys >= ny || x1 <= x0) continue;
      const sourceRow = nx * (ys + ny * zs);
      out.set(volume.data.subarray(sourceRow + x0, sourceRow + x1), x0 - start[0] + sx * (y + sy * z));
    }
  }
  return makeVolume(out, size, translateAffine(volume.affine, start));
}

/**
 * A copy of `target` with `patch` written at voxel `offset` (the target voxel where patch
 * voxel (0, 0, 0) lands); parts of the patch beyond the target are dropped. Without `offset`,
 * it is derived from the two affines (the patch must sit on the target's grid, as a crop does).
 */
export function pasteInto<T extends VoxelArray>(target: Volume<T>, patch: Volume, offset?: Voxel3): Volume<T> {
  const start = offset ?? gridOffset(target.affine, patch.affine);
  const [nx, ny, nz] = target.shape;
  const [sx, sy, sz] = patch.shape;
  const out = allocateLike(target.data, target.data.length);
  out.set(target.data);
  const x0 = Math.max(0, start[0]);
  const x1 = Math.min(nx, start[0] + sx);
  for (let z = 0; z < sz; z++) {
    const zt = start[2] + z;
    if (zt < 0 || zt >= nz) continue;
    for (let y = 0; y < sy; y++) {
      const yt = start[1] + y;
      if (yt < 0 || yt >= ny) continue;
      const patchRow = sx * (y + sy * z);
      const targetRow = nx * (yt + ny * zt);
      for (let x = x0; x < x1; x++) out[targetRow + x] = patch.data[patchRow + x - start[0]]!;
    }
  }
  return makeVolume(out, target.shape, target.affine);
}

/** Integer voxel offset of `patch` on `target`'s grid; throws if the grids do not align. */
export function gridOffset(target: Affine, patch: Affine): [number, number, number] {
  const relative = multiplyAffine(invertAffine(target), patch);
  const tolerance = 1e-3;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      if (Math.abs(relative[4 * r + c]! - (r === c ? 1 : 0)) > tolerance) {
        throw new MewmError('InvalidInput', 'patch is not on the target grid (different spacing or orientation): pass an explicit offset or resample first');
      }
    }
  }
  const offset = [relative[3]!, relative[7]!, relative[11]!].map((v) => {
    const rounded = Math.round(v);
    if (Math.abs(v - rounded) > tolerance)
      throw new MewmError('InvalidInput', 'patch origin falls between target voxels: pass an explicit offset or resample first');
    return rounded;
  });
  return [offset[0]!, offset[1]!, offset[2]!];
}
