/**
 * Resampling of volumes onto other grids: trilinear for images, nearest-neighbour for labels.
 * Pure typed-array code, no Node APIs (safe inside Temporal workflows).
 *
 * Coordinates: output voxel (i, j, k) is sampled at input voxel coordinates
 * `inv(input.affine) · output.affine · (i, j, k, 1)`, i.e. voxel centres are aligned in world
 * space (nibabel `resample_from_to`, scipy `map_coordinates` with `order` 1 or 0).
 */
import { invertAffine, multiplyAffine, allocateLike } from './orientation';
import { assertPlausibleSpacing } from './validate';
import { makeVolume, spacingOf, type Affine, type Shape3, type Volume, type VoxelArray } from './volume';

export type InterpolationMode = 'linear' | 'nearest';

export interface ResampleOptions {
  /**
   * What points outside the input grid get: 'border' (default) clamps coordinates to the
   * nearest edge voxel (scipy `mode='nearest'`, MONAI `padding_mode='border'`); a number fills
   * them with that value (e.g. -1024 HU for CT, 0 for labels).
   */
  readonly outside?: 'border' | number;
}

/** Linear output is Float32Array; nearest output keeps the input's voxel type. */
export type Resampled<T extends VoxelArray, M extends InterpolationMode> = M extends 'linear' ? Float32Array : T;

/**
 * Resamples `volume` onto the grid `(shape, affine)`. Linear mode interpolates trilinearly and
 * returns Float32Array voxels; nearest mode copies the nearest voxel (ties round up, as
 * scipy's order 0) and keeps the voxel type, for label maps.
 */
export function resampleToGrid<T extends VoxelArray, M extends InterpolationMode>(
  volume: Volume<T>,
  shape: Shape3,
  affine: Affine,
  mode: M,
  options: ResampleOptions = {},
): Volume<Resampled<T, M>> {
  const toInput = multiplyAffine(invertAffine(volume.affine), affine);
  const [ox, oy, oz] = shape;
  const out: VoxelArray = mode === 'linear' ? new Float32Array(ox * oy * oz) : allocateLike(volume.data, ox * oy * oz);
  const axisAligned = toInput[1] === 0 && toInput[2] === 0 && toInput[4] === 0 && toInput[6] === 0 && toInput[8] === 0 && toInput[9] === 0;
  if (axisAligned) resampleAxisAligned(volume, shape, toInput, mode, options.outside ?? 'border', out);
  else resampleGeneral(volume, shape, toInput, mode, options.outside ?? 'border', out);
  return makeVolume(out, shape, affine) as Volume<Resampled<T, M>>;
}

/** Per-axis sampling table: for output index o, input indices lo/hi, weight of hi, inside flag. */
interface AxisTable {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly weight: Float32Array;
  readonly inside: Uint8Array;
}

const insideTolerance = 1e-6;

function axisTable(count: number, scale: number, shift: number, size: number, mode: InterpolationMode, outside: 'border' | number): AxisTable {
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  const weight = new Float32Array(count);
  const inside = new Uint8Array(count);
  for (let o = 0; o < count; o++) {
    let u = scale * o + shift;
    inside[o] = u >= -insideTolerance && u <= size - 1 + insideTolerance ? 1 : 0;
    if (outside === 'border' || inside[o]) u = Math.min(size - 1, Math.max(0, u));
    if (mode === 'nearest') {
      const n = Math.min(size - 1, Math.max(0, Math.floor(u + 0.5)));
      lo[o] = n;
      hi[o] = n;
    } else {
      const base = Math.min(size - 1, Math.max(0, Math.floor(u)));
      lo[o] = base;
      hi[o] = Math.min(size - 1, base + 1);
      weight[o] = u - base;
    }
  }
  return { lo, hi, weight, inside };
}

/**
 * Axis-aligned grids (the usual case after `reorientToRas`): per-axis index/weight tables, and
 * for linear mode each needed input slice is interpolated in-plane once into a cache of two
 * planes, then output slices are blended along z: about 3x fewer reads than 8-neighbour
 * trilinear per voxel, with identical results up to float32 rounding of the planes.
 */
function resampleAxisAligned(volume: Volume, shape: Shape3, m: readonly number[], mode: InterpolationMode, outside: 'border' | number, out: VoxelArray): void {
  const [nx, ny, nz] = volume.shape;
  const [ox, oy, oz] = shape;
  const tx = axisTable(ox, m[0]!, m[3]!, nx, mode, outside);
  const ty = axisTable(oy, m[5]!, m[7]!, ny, mode, outside);
  const tz = axisTable(oz, m[10]!, m[11]!, nz, mode, outside);
  const source = volume.data;
  const fill = outside === 'border' ? 0 : outside;
  const checkInside = outside !== 'border';
  const plane = nx * ny;
  const outPlane = ox * oy;
  if (mode === 'nearest') {
    let o = 0;
    for (let k = 0; k < oz; k++) {
      const z0 = tz.lo[k]! * plane;
      const insideZ = tz.inside[k]!;
      for (let j = 0; j < oy; j++) {
        const row = z0 + ty.lo[j]! * nx;
        const insideYZ = insideZ & ty.inside[j]!;
        for (let i = 0; i < ox; i++, o++) {
          out[o] = checkInside && !(insideYZ & tx.inside[i]!) ? fill : source[row + tx.lo[i]!]!;
        }
      }
    }
    return;
  }
  // Bilinear in-plane resampling of input slice z into `target` (ox * oy), fill outside in-plane.
  const interpolatePlane = (z: number, target: Float32Array) => {
    const base = z * plane;
    let p = 0;
    for (let j = 0; j < oy; j++) {
      const y0 = base + ty.lo[j]! * nx;
      const y1 = base + ty.hi[j]! * nx;
      const wy = ty.weight[j]!;
      const insideY = ty.inside[j]!;
      for (let i = 0; i < ox; i++, p++) {
        if (checkInside && !(insideY & tx.inside[i]!)) {
          target[p] = fill;
          continue;
        }
        const x0 = tx.lo[i]!;
        const x1 = tx.hi[i]!;
        const wx = tx.weight[i]!;
        const a = source[y0 + x0]!;
        const b = source[y1 + x0]!;
        const c0 = a + wx * (source[y0 + x1]! - a);
        const c1 = b + wx * (source[y1 + x1]! - b);
        target[p] = c0 + wy * (c1 - c0);
      }
    }
  };
  const cached = [new Float32Array(outPlane), new Float32Array(outPlane)];
  const cachedSlice = [-1, -1];
  let evict = 0;
  const planeFor = (z: number, keep: number): Float32Array => {
    for (let slot = 0; slot < 2; slot++) if (cachedSlice[slot] === z) return cached[slot]!;
    const slot = cachedSlice[evict] === keep ? 1 - evict : evict;
    evict = 1 - slot;
    interpolatePlane(z, cached[slot]!);
    cachedSlice[slot] = z;
    return cached[slot]!;
  };
  for (let k = 0; k < oz; k++) {
    const offset = k * outPlane;
    if (checkInside && !tz.inside[k]) {
      out.fill(fill, offset, offset + outPlane);
      continue;
    }
    const z0 = tz.lo[k]!;
    const z1 = tz.hi[k]!;
    const wz = tz.weight[k]!;
    const p0 = planeFor(z0, -1);
    if (z1 === z0 || wz === 0) {
      out.set(p0, offset);
      continue;
    }
    const p1 = planeFor(z1, z0);
    for (let p = 0; p < outPlane; p++) {
      const a = p0[p]!;
      out[offset + p] = a + wz * (p1[p]! - a);
    }
  }
}

function resampleGeneral(volume: Volume, shape: Shape3, m: readonly number[], mode: InterpolationMode, outside: 'border' | number, out: VoxelArray): void {
  const [nx, ny, nz] = volume.shape;
  const [ox, oy, oz] = shape;
  const source = volume.data;
  const plane = nx * ny;
  const border = outside === 'border';
  const fill = border ? 0 : outside;
  const lowest = -insideTolerance;
  let o = 0;
  for (let k = 0; k < oz; k++) {
    for (let j = 0; j < oy; j++) {
      let u = m[1]! * j + m[2]! * k + m[3]!;
      let v = m[5]! * j + m[6]! * k + m[7]!;
      let w = m[9]! * j + m[10]! * k + m[11]!;
      for (let i = 0; i < ox; i++, o++, u += m[0]!, v += m[4]!, w += m[8]!) {
        const inside =
          u >= lowest && v >= lowest && w >= lowest && u <= nx - 1 + insideTolerance && v <= ny - 1 + insideTolerance && w <= nz - 1 + insideTolerance;
        if (!inside && !border) {
          out[o] = fill;
          continue;
        }
        const cu = u < 0 ? 0 : u > nx - 1 ? nx - 1 : u;
        const cv = v < 0 ? 0 : v > ny - 1 ? ny - 1 : v;
        const cw = w < 0 ? 0 : w > nz - 1 ? nz - 1 : w;
        if (mode === 'nearest') {
          out[o] =
            source[Math.min(nx - 1, Math.floor(cu + 0.5)) + nx * Math.min(ny - 1, Math.floor(cv + 0.5)) + plane * Math.min(nz - 1, Math.floor(cw + 0.5))]!;
          continue;
        }
        const x0 = Math.floor(cu);
        const y0 = Math.floor(cv);
        const z0 = Math.floor(cw);
        const x1 = x0 < nx - 1 ? x0 + 1 : x0;
        const y1 = y0 < ny - 1 ? y0 + 1 : y0;
        const z1 = z0 < nz - 1 ? z0 + 1 : z0;
        const wx = cu - x0;
        const wy = cv - y0;
        const wz = cw - z0;
        const p00 = nx * y0 + plane * z0;
        const p01 = nx * y1 + plane * z0;
        const p10 = nx * y0 + plane * z1;
        const p11 = nx * y1 + plane * z1;
        const c00 = source[p00 + x0]! + wx * (source[p00 + x1]! - source[p00 + x0]!);
        const c01 = source[p01 + x0]! + wx * (source[p01 + x1]! - source[p01 + x0]!);
        const c10 = source[p10 + x0]! + wx * (source[p10 + x1]! - source[p10 + x0]!);
        const c11 = source[p11 + x0]! + wx * (source[p11 + x1]! - source[p11 + x0]!);
        const c0 = c00 + wy * (c01 - c00);
        const c1 = c10 + wy * (c11 - c10);
        out[o] = c0 + wz * (c1 - c0);
      }
    }
  }
}

/**
 * The grid `resampleToSpacing` samples onto: same directions and same world position of voxel
 * (0, 0, 0) as the input, columns rescaled to `spacingMm`, and `round((n - 1) · old / new + 1)`
 * voxels per axis (MONAI `Spacing`), so the first and last input voxel centres are covered.
 */
export function spacingGrid(volume: Volume, spacingMm: number | readonly [number, number, number]): { shape: Shape3; affine: number[] } {
  const target = typeof spacingMm === 'number' ? [spacingMm, spacingMm, spacingMm] : [...spacingMm];
  assertPlausibleSpacing(target, 'target spacing');
  const old = spacingOf(volume.affine);
  const affine = [...volume.affine];
  const shape = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const ratio = target[c]! / old[c]!;
    for (let r = 0; r < 3; r++) affine[4 * r + c] = volume.affine[4 * r + c]! * ratio;
    shape[c] = Math.max(1, Math.round(((volume.shape[c]! - 1) * old[c]!) / target[c]! + 1));
  }
  return { shape: [shape[0]!, shape[1]!, shape[2]!], affine };
}

/**
 * Resamples to a voxel spacing in mm (one number for isotropic), keeping orientation and the
 * world position of voxel (0, 0, 0); see `spacingGrid` for the output grid. The last output
 * voxel can lie up to half an output voxel beyond the last input centre: it takes the border
 * value (MONAI's default border padding).
 */
export function resampleToSpacing<T extends VoxelArray, M extends InterpolationMode>(
  volume: Volume<T>,
  spacingMm: number | readonly [number, number, number],
  mode: M,
): Volume<Resampled<T, M>> {
  const { shape, affine } = spacingGrid(volume, spacingMm);
  return resampleToGrid(volume, shape, affine, mode, { outside: 'border' });
}
