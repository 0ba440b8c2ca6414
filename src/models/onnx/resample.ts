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

/**
 * Trilinear taps of one axis for a list of continuous positions, with exactly the arithmetic of
 * `trilinear` (clamp, floor, neighbour, fraction), so that separable loops give the same bits:
 * `inside` is 0 where `trilinear` would return `fill`.
 */
export interface AxisTaps {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly f: Float64Array;
  readonly inside: Uint8Array;
}

export function axisTaps(n: number, positions: ArrayLike<number>): AxisTaps {
  const m = positions.length;
  const taps = { i0: new Int32Array(m), i1: new Int32Array(m), f: new Float64Array(m), inside: new Uint8Array(m) };
  for (let i = 0; i < m; i++) {
    const x = positions[i]!;
    if (x < -0.5 || x > n - 0.5) continue;
    const c = Math.min(Math.max(x, 0), n - 1);
    const x0 = Math.floor(c);
    taps.i0[i] = x0;
    taps.i1[i] = Math.min(x0 + 1, n - 1);
    taps.f[i] = c - x0;
    taps.inside[i] = 1;
  }
  return taps;
}

function positionsOf(count: number, at: (i: number) => number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = at(i);
  return out;
}

/**
 * Trilinear resampling on a separable grid of positions (`xs`, `ys`, `zs` in voxels of `data`,
 * shape `[nx, ny, nz]`), written x fastest into `out`; the value of `trilinear` at every point,
 * bit for bit, without a call per voxel.
 */
export function resampleSeparable(data: ArrayLike<number>, shape: Xyz, xs: AxisTaps, ys: AxisTaps, zs: AxisTaps, fill: number, out: Float32Array, map?: (v: number) => number): Float32Array {
  const [nx, ny] = shape;
  const mx = xs.i0.length;
  const my = ys.i0.length;
  const mz = zs.i0.length;
  let o = 0;
  for (let k = 0; k < mz; k++) {
    const insideZ = zs.inside[k] === 1;
    const z0 = zs.i0[k]!;
    const z1 = zs.i1[k]!;
    const fz = zs.f[k]!;
    for (let j = 0; j < my; j++) {
      if (!insideZ || ys.inside[j] !== 1) {
        const v = map ? map(fill) : fill;
        out.fill(v, o, o + mx);
        o += mx;
        continue;
      }
      const y0 = ys.i0[j]!;
      const y1 = ys.i1[j]!;
      const fy = ys.f[j]!;
      const r00 = nx * (y0 + ny * z0);
      const r10 = nx * (y1 + ny * z0);
      const r01 = nx * (y0 + ny * z1);
      const r11 = nx * (y1 + ny * z1);
      for (let i = 0; i < mx; i++, o++) {
        let v: number;
        if (xs.inside[i] !== 1) v = fill;
        else {
          const x0 = xs.i0[i]!;
          const x1 = xs.i1[i]!;
          const fx = xs.f[i]!;
          const c00 = data[x0 + r00]! * (1 - fx) + data[x1 + r00]! * fx;
          const c10 = data[x0 + r10]! * (1 - fx) + data[x1 + r10]! * fx;
          const c01 = data[x0 + r01]! * (1 - fx) + data[x1 + r01]! * fx;
          const c11 = data[x0 + r11]! * (1 - fx) + data[x1 + r11]! * fx;
          v = (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
        }
        out[o] = map ? map(v) : v;
      }
    }
  }
  return out;
}

/** Samples a `P`³ patch `[Z, Y, X]` centred at `centre` (planning voxels), mapped by `map`. */
export function samplePatch(volume: Volume<VoxelArray>, centre: Xyz, patch: number, ratio: Xyz, fill: number, map?: (v: number) => number): Float32Array {
  const half = patch / 2;
  const [nx, ny, nz] = volume.shape;
  const taps = [0, 1, 2].map((a) => axisTaps([nx, ny, nz][a]!, positionsOf(patch, (i) => centre[a]! + (i - half) * ratio[a]!)));
  return resampleSeparable(volume.data, volume.shape, taps[0]!, taps[1]!, taps[2]!, fill, new Float32Array(patch * patch * patch), map);
}

/**
 * Writes a patch back onto a copy of `base`: each planning voxel inside the patch's extent gets
 * `w·patchValue + (1 − w)·baseValue`, `w` from `weight` (planning grid, 0..1).
 */
export function pastePatch(base: Volume<Float32Array>, patchData: Float32Array, patch: number, centre: Xyz, ratio: Xyz, weight: Float32Array): Float32Array {
  const [nx, ny, nz] = base.shape;
  const out = Float32Array.from(base.data);
  const half = patch / 2;
  const lo = (a: 0 | 1 | 2) => Math.max(0, Math.floor(centre[a] - half * ratio[a]));
  const hi = (a: 0 | 1 | 2, n: number) => Math.min(n - 1, Math.ceil(centre[a] + (half - 1) * ratio[a]));
  // Patch coordinates of the planning voxels in range, per axis; outside [0, P−1] nothing is pasted.
  const axis = (a: 0 | 1 | 2, n: number) => {
    const first = lo(a);
    const count = Math.max(0, hi(a, n) - first + 1);
    const at = positionsOf(count, (i) => (first + i - centre[a]) / ratio[a] + half);
    const ok = Uint8Array.from(at, (u) => (u < 0 || u > patch - 1 ? 0 : 1));
    return { first, count, ok, taps: axisTaps(patch, at) };
  };
  const X = axis(0, nx);
  const Y = axis(1, ny);
  const Z = axis(2, nz);
  const P = patch;
  for (let k = 0; k < Z.count; k++) {
    if (Z.ok[k] !== 1) continue;
    const z = Z.first + k;
    const t0 = Z.taps.i0[k]!;
    const t1 = Z.taps.i1[k]!;
    const fz = Z.taps.f[k]!;
    for (let j = 0; j < Y.count; j++) {
      if (Y.ok[j] !== 1) continue;
      const y = Y.first + j;
      const v0 = Y.taps.i0[j]!;
      const v1 = Y.taps.i1[j]!;
      const fy = Y.taps.f[j]!;
      const r00 = P * (v0 + P * t0);
      const r10 = P * (v1 + P * t0);
      const r01 = P * (v0 + P * t1);
      const r11 = P * (v1 + P * t1);
      const row = nx * (y + ny * z);
      for (let i = 0; i < X.count; i++) {
        if (X.ok[i] !== 1) continue;
        const idx = X.first + i + row;
        const w = weight[idx]!;
        if (w <= 0) continue;
        const u0 = X.taps.i0[i]!;
        const u1 = X.taps.i1[i]!;
        const fx = X.taps.f[i]!;
        const c00 = patchData[u0 + r00]! * (1 - fx) + patchData[u1 + r00]! * fx;
        const c10 = patchData[u0 + r10]! * (1 - fx) + patchData[u1 + r10]! * fx;
        const c01 = patchData[u0 + r01]! * (1 - fx) + patchData[u1 + r01]! * fx;
        const c11 = patchData[u0 + r11]! * (1 - fx) + patchData[u1 + r11]! * fx;
        const value = (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
        out[idx] = w * value + (1 - w) * out[idx]!;
      }
    }
  }
  return out;
}

/** Resamples a whole volume onto the model grid: `[Z, Y, X]` of size `floor((n−1)/ratio)+1` per axis. */
export function resampleToModelGrid(volume: Volume<VoxelArray>, ratio: Xyz, map?: (v: number) => number): { data: Float32Array; shapeZyx: [number, number, number] } {
  const size = volume.shape.map((n, a) => Math.floor((n - 1) / ratio[a]!) + 1) as [number, number, number];
  const [mx, my, mz] = size;
  const taps = [0, 1, 2].map((a) => axisTaps(volume.shape[a]!, positionsOf(size[a]!, (i) => i * ratio[a]!)));
  const data = resampleSeparable(volume.data, volume.shape, taps[0]!, taps[1]!, taps[2]!, 0, new Float32Array(mx * my * mz), map);
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

/** Binary mask of `label`, dilated by a cube of `radius` voxels, as 0/1 floats (separable, a running count per line). */
export function dilatedMask(labels: Volume<Uint8Array>, label: number, radius: number): Float32Array {
  const [nx, ny, nz] = labels.shape;
  let cur = binaryMask(labels.data, label);
  const strides = [1, nx, nx * ny];
  const sizes = [nx, ny, nz];
  for (let axis = 0; axis < 3; axis++) {
    const next = new Float32Array(cur.length);
    const stride = strides[axis]!;
    const n = sizes[axis]!;
    const block = stride * n;
    for (let outer = 0; outer < cur.length; outer += block)
      for (let inner = 0; inner < stride; inner++) {
        const line = outer + inner;
        // ones = how many of cur[p − radius … p + radius] (inside the line) are set
        let ones = 0;
        for (let p = 0; p < Math.min(radius, n); p++) if (cur[line + p * stride]! > 0) ones++;
        for (let p = 0; p < n; p++) {
          const enter = p + radius;
          if (enter < n && cur[line + enter * stride]! > 0) ones++;
          const leave = p - radius - 1;
          if (leave >= 0 && cur[line + leave * stride]! > 0) ones--;
          if (ones > 0) next[line + p * stride] = 1;
        }
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
