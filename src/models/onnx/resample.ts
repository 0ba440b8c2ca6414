/**
 * Moving voxels between the planning grid (a `Volume`, any axis-aligned spacing) and a model's
 * grid (isotropic `spacingMm` from its manifest), by trilinear interpolation.
 *
 * Model patches are cubes of `P` voxels, flat `[Z, Y, X]`; patch voxel `i` along an axis sits
 * at `centre + (i − P/2)·s_model/s_roi` in planning-grid voxels (the convention of the Python
 * trainer's `crop`, which puts the tumour centroid at voxel P/2). Outside the planning grid a
 * patch reads `fill`.
 */
import { MewmError } from '../../core/errors';
import { spacingOf, type Volume, type VoxelArray } from '../../core/volume/volume';

export type Xyz = readonly [number, number, number];

/** Trilinear value of `data` (shape `[nx, ny, nz]`, x fastest) at continuous voxel (x, y, z). */
export function trilinear(data: ArrayLike<number>, shape: Xyz, x: number, y: number, z: number, fill: number): number {
  const [nx, ny, nz] = shape;
  if (x < -0.5 || y < -0.5 || z < -0.5 || x > nx - 0.5 || y > ny - 0.5 || z > nz - 0.5) return fill;
  const cx = Math.min(Math.max(x, 0), nx - 1);
  const cy = Math.min(Math.max(y, 0), ny - 1);
  const cz = Math.min(Math.max(z, 0), nz - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const z0 = Math.floor(cz);
  const x1 = Math.min(x0 + 1, nx - 1);
  const y1 = Math.min(y0 + 1, ny - 1);
  const z1 = Math.min(z0 + 1, nz - 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const fz = cz - z0;
  const r00 = nx * (y0 + ny * z0);
  const r10 = nx * (y1 + ny * z0);
  const r01 = nx * (y0 + ny * z1);
  const r11 = nx * (y1 + ny * z1);
  const c00 = data[x0 + r00]! * (1 - fx) + data[x1 + r00]! * fx;
  const c10 = data[x0 + r10]! * (1 - fx) + data[x1 + r10]! * fx;
  const c01 = data[x0 + r01]! * (1 - fx) + data[x1 + r01]! * fx;
  const c11 = data[x0 + r11]! * (1 - fx) + data[x1 + r11]! * fx;
  return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}

function axisAligned(volume: Volume): void {
  const a = volume.affine;
  const off = [a[1]!, a[2]!, a[4]!, a[6]!, a[8]!, a[9]!];
  if (off.some((v) => Math.abs(v) > 1e-6)) {
    throw new MewmError('InvalidVolume', 'the ONNX models need an axis-aligned planning grid (reorient the ROI to RAS first)');
  }
}

/** Planning-grid voxels per model voxel along x, y, z. */
export function stepRatio(volume: Volume, modelSpacingMm: number): Xyz {
  axisAligned(volume);
  const s = spacingOf(volume.affine);
  return [modelSpacingMm / s[0], modelSpacingMm / s[1], modelSpacingMm / s[2]];
}

/** Samples a `P`³ patch `[Z, Y, X]` centred at `centre` (planning voxels), mapped by `map`. */
export function samplePatch(volume: Volume<VoxelArray>, centre: Xyz, patch: number, ratio: Xyz, fill: number, map: (v: number) => number = (v) => v): Float32Array {
  const out = new Float32Array(patch * patch * patch);
  const half = patch / 2;
  for (let k = 0; k < patch; k++) {
    const z = centre[2] + (k - half) * ratio[2];
    for (let j = 0; j < patch; j++) {
      const y = centre[1] + (j - half) * ratio[1];
      for (let i = 0; i < patch; i++) {
        const x = centre[0] + (i - half) * ratio[0];
        out[(k * patch + j) * patch + i] = map(trilinear(volume.data, volume.shape, x, y, z, fill));
      }
    }
  }
  return out;
}

/**
 * Writes a patch back onto a copy of `base`: each planning voxel inside the patch's extent gets
 * `w·patchValue + (1 − w)·baseValue`, `w` from `weight` (planning grid, 0..1).
 */
export function pastePatch(base: Volume<Float32Array>, patchData: Float32Array, patch: number, centre: Xyz, ratio: Xyz, weight: Float32Array): Float32Array {
  const [nx, ny, nz] = base.shape;
  const out = Float32Array.from(base.data);
  const half = patch / 2;
  const pshape: Xyz = [patch, patch, patch];
  const lo = (a: 0 | 1 | 2) => Math.max(0, Math.floor(centre[a] - half * ratio[a]));
  const hi = (a: 0 | 1 | 2, n: number) => Math.min(n - 1, Math.ceil(centre[a] + (half - 1) * ratio[a]));
  for (let z = lo(2); z <= hi(2, nz); z++)
    for (let y = lo(1); y <= hi(1, ny); y++)
      for (let x = lo(0); x <= hi(0, nx); x++) {
        const idx = x + nx * (y + ny * z);
        const w = weight[idx]!;
        if (w <= 0) continue;
        const u = (x - centre[0]) / ratio[0] + half;
        const v = (y - centre[1]) / ratio[1] + half;
        const t = (z - centre[2]) / ratio[2] + half;
        if (u < 0 || v < 0 || t < 0 || u > patch - 1 || v > patch - 1 || t > patch - 1) continue;
        out[idx] = w * trilinear(patchData, pshape, u, v, t, 0) + (1 - w) * out[idx]!;
      }
  return out;
}

/** Resamples a whole volume onto the model grid: `[Z, Y, X]` of size `floor((n−1)/ratio)+1` per axis. */
export function resampleToModelGrid(volume: Volume<VoxelArray>, ratio: Xyz, map: (v: number) => number): { data: Float32Array; shapeZyx: [number, number, number] } {
  const size = volume.shape.map((n, a) => Math.floor((n - 1) / ratio[a]!) + 1) as [number, number, number];
  const [mx, my, mz] = size;
  const data = new Float32Array(mx * my * mz);
  for (let k = 0; k < mz; k++)
    for (let j = 0; j < my; j++)
      for (let i = 0; i < mx; i++) data[(k * my + j) * mx + i] = map(trilinear(volume.data, volume.shape, i * ratio[0], j * ratio[1], k * ratio[2], 0));
  return { data, shapeZyx: [mz, my, mx] };
}

/** Centroid (planning voxels) of voxels equal to `label`; undefined when there are none. */
export function centroidOf(labels: Volume<Uint8Array>, label: number): Xyz | undefined {
  const [nx, ny, nz] = labels.shape;
  let sx = 0;
  let sy = 0;
  let sz = 0;
  let n = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++)
        if (labels.data[x + nx * (y + ny * z)] === label) {
          sx += x;
          sy += y;
          sz += z;
          n++;
        }
  return n === 0 ? undefined : [sx / n, sy / n, sz / n];
}

/** Binary mask of `label`, dilated by a cube of `radius` voxels, as 0/1 floats. */
export function dilatedMask(labels: Volume<Uint8Array>, label: number, radius: number): Float32Array {
  const [nx, ny, nz] = labels.shape;
  let cur = binaryMask(labels.data, label);
  const strides = [1, nx, nx * ny];
  const sizes = [nx, ny, nz];
  for (let axis = 0; axis < 3; axis++) {
    const next = new Float32Array(cur.length);
    const stride = strides[axis]!;
    const n = sizes[axis]!;
    for (let idx = 0; idx < cur.length; idx++) {
      const pos = Math.floor(idx / stride) % n;
      let m = 0;
      for (let d = -radius; d <= radius && m === 0; d++) {
        const p = pos + d;
        if (p >= 0 && p < n && cur[idx + d * stride]! > 0) m = 1;
      }
      next[idx] = m;
    }
    cur = next;
  }
  return cur;
}

/** 1 where `labels` equals `label`, else 0. */
export function binaryMask(labels: ArrayLike<number>, label: number): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) if (labels[i] === label) out[i] = 1;
  return out;
}
