/**
 * Orientation of a voxel grid relative to RAS+ world axes, and reorientation to the closest
 * RAS grid by permuting and flipping voxel axes (no interpolation, voxel values are copied).
 * Pure: no Node APIs (safe inside Temporal workflows).
 */
import { makeVolume, type Affine, type Volume, type VoxelArray } from './volume';

/** One letter per voxel axis i, j, k: the world direction that axis increases towards. */
export type AxisCode = 'R' | 'L' | 'A' | 'P' | 'S' | 'I';

export interface AxisOrientation {
  /** `worldAxisOf[c]`: the RAS world axis (0 = x, 1 = y, 2 = z) closest to voxel axis c. */
  readonly worldAxisOf: readonly [number, number, number];
  /** `flipped[c]`: voxel axis c points along the negative world axis (L, P or I). */
  readonly flipped: readonly [boolean, boolean, boolean];
}

const positiveCode: readonly AxisCode[] = ['R', 'A', 'S'];
const negativeCode: readonly AxisCode[] = ['L', 'P', 'I'];

/**
 * The closest world axis for each voxel axis, chosen greedily by the largest absolute
 * direction cosine (as nibabel's `io_orientation` does for near-orthogonal affines).
 */
export function axisOrientation(affine: Affine): AxisOrientation {
  const cosine: number[][] = [[], [], []];
  for (let c = 0; c < 3; c++) {
    const norm = Math.hypot(affine[c]!, affine[4 + c]!, affine[8 + c]!);
    if (!(norm > 0) || !Number.isFinite(norm)) {
      throw new RangeError(`affine column ${c} has no direction (norm ${norm})`);
    }
    for (let w = 0; w < 3; w++) cosine[w]![c] = affine[4 * w + c]! / norm;
  }
  const worldAxisOf = [-1, -1, -1];
  const flipped = [false, false, false];
  const worldTaken = [false, false, false];
  for (let round = 0; round < 3; round++) {
    let best = -1;
    let bestW = 0;
    let bestC = 0;
    for (let w = 0; w < 3; w++) {
      if (worldTaken[w]) continue;
      for (let c = 0; c < 3; c++) {
        if (worldAxisOf[c] !== -1) continue;
        const magnitude = Math.abs(cosine[w]![c]!);
        if (magnitude > best) {
          best = magnitude;
          bestW = w;
          bestC = c;
        }
      }
    }
    worldAxisOf[bestC] = bestW;
    worldTaken[bestW] = true;
    flipped[bestC] = cosine[bestW]![bestC]! < 0;
  }
  return { worldAxisOf: [worldAxisOf[0]!, worldAxisOf[1]!, worldAxisOf[2]!], flipped: [flipped[0]!, flipped[1]!, flipped[2]!] };
}

/** Axis codes as nibabel's `aff2axcodes` spells them, e.g. `['L', 'P', 'S']` for DICOM-like grids. */
export function axisCodes(affine: Affine): [AxisCode, AxisCode, AxisCode] {
  const { worldAxisOf, flipped } = axisOrientation(affine);
  const code = (c: number): AxisCode => (flipped[c] ? negativeCode : positiveCode)[worldAxisOf[c]!]!;
  return [code(0), code(1), code(2)];
}

/** A typed array of the same kind as `like`, zero-filled, with `length` elements. */
export function allocateLike<T extends VoxelArray>(like: T, length: number): T {
  const Constructor = like.constructor as new (length: number) => T;
  return new Constructor(length);
}

/**
 * Permutes and flips voxel axes so that i, j, k increase towards R, A, S as closely as the
 * grid allows (oblique grids keep their obliquity: only axis order and sign change).
 * The affine is updated so that every voxel keeps its world position. Returns the input
 * unchanged when it is already RAS-oriented.
 */
export function reorientToRas<T extends VoxelArray>(volume: Volume<T>): Volume<T> {
  const { worldAxisOf, flipped } = axisOrientation(volume.affine);
  if (worldAxisOf.every((w, c) => w === c) && flipped.every((f) => !f)) return volume;
  const [nx, ny, nz] = volume.shape;
  const inputStride = [1, nx, nx * ny];
  const inputSize = [nx, ny, nz];
  // For output axis w: which input axis feeds it, its step in the input array, its size.
  const sourceAxis = [0, 0, 0];
  for (let c = 0; c < 3; c++) sourceAxis[worldAxisOf[c]!] = c;
  const step = [0, 0, 0];
  const outSize = [0, 0, 0];
  let start = 0;
  // transform[w] = out index -> in index: column of the 4x4 voxel-to-voxel map.
  const voxelMap = new Array<number>(16).fill(0);
  voxelMap[15] = 1;
  for (let w = 0; w < 3; w++) {
    const c = sourceAxis[w]!;
    outSize[w] = inputSize[c]!;
    const flip = flipped[c]!;
    step[w] = flip ? -inputStride[c]! : inputStride[c]!;
    if (flip) start += (inputSize[c]! - 1) * inputStride[c]!;
    voxelMap[4 * c + w] = flip ? -1 : 1;
    if (flip) voxelMap[4 * c + 3] = inputSize[c]! - 1;
  }
  const [ox, oy, oz] = outSize as [number, number, number];
  const [sx, sy, sz] = step as [number, number, number];
  const source = volume.data;
  const out = allocateLike(source, source.length);
  let o = 0;
  for (let k = 0; k < oz; k++) {
    const planeStart = start + k * sz;
    for (let j = 0; j < oy; j++) {
      let index = planeStart + j * sy;
      if (sx === 1) {
        out.set(source.subarray(index, index + ox), o);
        o += ox;
        continue;
      }
      for (let i = 0; i < ox; i++) {
        out[o++] = source[index]!;
        index += sx;
      }
    }
  }
  return makeVolume(out, [ox, oy, oz], multiplyAffine(volume.affine, voxelMap));
}

/** Row-major 4x4 product `a · b`. */
export function multiplyAffine(a: Affine, b: Affine): number[] {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += a[4 * r + k]! * b[4 * k + c]!;
      out[4 * r + c] = sum;
    }
  }
  return out;
}

/** Inverse of a row-major 4x4 affine (last row 0 0 0 1). Throws on a singular matrix. */
export function invertAffine(a: Affine): number[] {
  const [m00, m01, m02, t0, m10, m11, m12, t1, m20, m21, m22, t2] = a as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const c00 = m11 * m22 - m12 * m21;
  const c01 = m12 * m20 - m10 * m22;
  const c02 = m10 * m21 - m11 * m20;
  const det = m00 * c00 + m01 * c01 + m02 * c02;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new RangeError('affine is singular');
  const inv = 1 / det;
  const r00 = c00 * inv;
  const r01 = (m02 * m21 - m01 * m22) * inv;
  const r02 = (m01 * m12 - m02 * m11) * inv;
  const r10 = c01 * inv;
  const r11 = (m00 * m22 - m02 * m20) * inv;
  const r12 = (m02 * m10 - m00 * m12) * inv;
  const r20 = c02 * inv;
  const r21 = (m01 * m20 - m00 * m21) * inv;
  const r22 = (m00 * m11 - m01 * m10) * inv;
  return [
    r00,
    r01,
    r02,
    -(r00 * t0 + r01 * t1 + r02 * t2),
    r10,
    r11,
    r12,
    -(r10 * t0 + r11 * t1 + r12 * t2),
    r20,
    r21,
    r22,
    -(r20 * t0 + r21 * t1 + r22 * t2),
    0,
    0,
    0,
    1,
  ];
}
