/**
 * Binary erosion and dilation with a ball (ellipsoid for per-axis radii) structuring element,
 * through an exact separable squared Euclidean distance transform (Felzenszwalb–Huttenlocher),
 * so the cost is linear in the voxel count whatever the radius. Voxels beyond the volume count
 * as background (scipy's `border_value=0`). Outputs are 0/1 Uint8Array masks. Pure, no Node APIs.
 *
 * The ball of radius r holds the offsets (dx, dy, dz) with (dx/rx)² + (dy/ry)² + (dz/rz)² ≤ 1.
 */
import { MewmError } from '../errors';
import { makeVolume, type Volume } from './volume';

export type Radius = number | readonly [number, number, number];

function radii(radius: Radius): [number, number, number] {
  const r = typeof radius === 'number' ? [radius, radius, radius] : [...radius];
  if (!r.every((v) => Number.isFinite(v) && v >= 0)) throw new MewmError('InvalidInput', `morphology radius ${r.join(',')} must be finite and non-negative (voxels)`);
  return [r[0]!, r[1]!, r[2]!];
}

/** The structuring element's offsets, for tests and callers that need it explicitly. */
export function ballOffsets(radius: Radius): Array<[number, number, number]> {
  const [rx, ry, rz] = radii(radius);
  const offsets: Array<[number, number, number]> = [];
  const term = (d: number, r: number) => (d === 0 ? 0 : r === 0 ? Infinity : (d / r) ** 2);
  for (let dz = -Math.floor(rz); dz <= Math.floor(rz); dz++) {
    for (let dy = -Math.floor(ry); dy <= Math.floor(ry); dy++) {
      for (let dx = -Math.floor(rx); dx <= Math.floor(rx); dx++) {
        if (term(dx, rx) + term(dy, ry) + term(dz, rz) <= 1 + 1e-9) offsets.push([dx, dy, dz]);
      }
    }
  }
  return offsets;
}

/**
 * 1D lower envelope of parabolas along one axis, in place on `f` (squared distances).
 * `weight` scales the squared step ((1/r)²); Infinity means no propagation along the axis.
 */
function distanceAlongAxis(f: Float32Array, n: number, stride: number, lines: Iterable<number>, weight: number): void {
  if (!Number.isFinite(weight)) return;
  const values = new Float64Array(n);
  const vertices = new Int32Array(n);
  const boundaries = new Float64Array(n + 1);
  for (const start of lines) {
    for (let i = 0; i < n; i++) values[i] = f[start + i * stride]!;
    let k = -1;
    for (let q = 0; q < n; q++) {
      const fq = values[q]!;
      if (fq === Infinity) continue;
      while (k >= 0) {
        const p = vertices[k]!;
        const s = (fq + weight * q * q - (values[p]! + weight * p * p)) / (2 * weight * (q - p));
        if (s <= boundaries[k]!) k--;
        else {
          k++;
          vertices[k] = q;
          boundaries[k] = s;
          break;
        }
      }
      if (k < 0) {
        k = 0;
        vertices[0] = q;
        boundaries[0] = -Infinity;
      }
      boundaries[k + 1] = Infinity;
    }
    if (k < 0) continue; // the whole line is at infinite distance
    let j = 0;
    for (let q = 0; q < n; q++) {
      while (boundaries[j + 1]! < q) j++;
      const p = vertices[j]!;
      f[start + q * stride] = weight * (q - p) * (q - p) + values[p]!;
    }
  }
}

/** Weighted squared distance from every voxel to the nearest voxel where `isSource` holds. */
function squaredDistanceTo(mask: Uint8Array, shape: readonly [number, number, number], sourceValue: 0 | 1, r: [number, number, number]): Float32Array {
  const [nx, ny, nz] = shape;
  // float32 halves the memory of a CT-sized map; values near the ball's edge (~1) keep ~1e-7 precision
  const f = new Float32Array(mask.length);
  for (let i = 0; i < f.length; i++) f[i] = mask[i] === sourceValue ? 0 : Infinity;
  const weights = r.map((v) => (v === 0 ? Infinity : 1 / (v * v)));
  const plane = nx * ny;
  distanceAlongAxis(f, nx, 1, lineStarts(ny * nz, (l) => l * nx), weights[0]!);
  distanceAlongAxis(f, ny, nx, lineStarts(nx * nz, (l) => (l % nx) + plane * Math.floor(l / nx)), weights[1]!);
  distanceAlongAxis(f, nz, plane, lineStarts(plane, (l) => l), weights[2]!);
  return f;
}

function* lineStarts(count: number, start: (line: number) => number): Generator<number> {
  for (let l = 0; l < count; l++) yield start(l);
}

const inBall = 1 + 1e-6;

/**
 * Runs `operate` on the smallest box that can change: the foreground's bounding box grown by
 * `margin` voxels (clipped to the volume), as a 0/1 mask; everything outside the box is 0 in
 * the result. Exact for both operations: outside the box is background, as beyond the volume.
 */
function withinForegroundBox(mask: Volume, margin: readonly number[], operate: (box: Uint8Array, shape: [number, number, number]) => Uint8Array): Volume<Uint8Array> {
  const [nx, ny, nz] = mask.shape;
  const out = new Uint8Array(mask.data.length);
  const min = [nx, ny, nz];
  const max = [-1, -1, -1];
  let index = 0;
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++, index++) {
    if (mask.data[index] === 0) continue;
    if (x < min[0]!) min[0] = x;
    if (x > max[0]!) max[0] = x;
    if (y < min[1]!) min[1] = y;
    if (y > max[1]!) max[1] = y;
    if (z < min[2]!) min[2] = z;
    if (z > max[2]!) max[2] = z;
  }
  if (max[0]! < 0) return makeVolume(out, mask.shape, mask.affine);
  const lo = [0, 1, 2].map((a) => Math.max(0, min[a]! - margin[a]!));
  const hi = [0, 1, 2].map((a) => Math.min(mask.shape[a]! - 1, max[a]! + margin[a]!));
  const shape: [number, number, number] = [hi[0]! - lo[0]! + 1, hi[1]! - lo[1]! + 1, hi[2]! - lo[2]! + 1];
  const box = new Uint8Array(shape[0] * shape[1] * shape[2]);
  let b = 0;
  for (let z = lo[2]!; z <= hi[2]!; z++) for (let y = lo[1]!; y <= hi[1]!; y++) {
    const row = nx * (y + ny * z);
    for (let x = lo[0]!; x <= hi[0]!; x++, b++) box[b] = mask.data[row + x] !== 0 ? 1 : 0;
  }
  const result = operate(box, shape);
  b = 0;
  for (let z = lo[2]!; z <= hi[2]!; z++) for (let y = lo[1]!; y <= hi[1]!; y++) {
    out.set(result.subarray(b, b + shape[0]), lo[0]! + nx * (y + ny * z));
    b += shape[0];
  }
  return makeVolume(out, mask.shape, mask.affine);
}

/** Foreground (non-zero) grown by the ball: voxels within the ball of any foreground voxel. */
export function dilate(mask: Volume, radiusVoxels: Radius): Volume<Uint8Array> {
  const r = radii(radiusVoxels);
  return withinForegroundBox(mask, r.map((v) => Math.floor(v + 1e-9)), (box, shape) => {
    const distance = squaredDistanceTo(box, shape, 1, r);
    const out = new Uint8Array(box.length);
    for (let i = 0; i < out.length; i++) out[i] = distance[i]! <= inBall ? 1 : 0;
    return out;
  });
}

/** Foreground voxels whose whole ball lies in the foreground (outside the volume is background). */
export function erode(mask: Volume, radiusVoxels: Radius): Volume<Uint8Array> {
  const r = radii(radiusVoxels);
  // the nearest virtual background voxel beyond each face of the box
  const reach = r.map((v) => Math.floor(v + 1e-9));
  return withinForegroundBox(mask, [0, 0, 0], (box, shape) => {
    const distance = squaredDistanceTo(box, shape, 0, r);
    const [nx, ny, nz] = shape;
    const out = new Uint8Array(box.length);
    let index = 0;
    for (let z = 0; z < nz; z++) {
      const zInside = z >= reach[2]! && z < nz - reach[2]!;
      for (let y = 0; y < ny; y++) {
        const yzInside = zInside && y >= reach[1]! && y < ny - reach[1]!;
        for (let x = 0; x < nx; x++, index++) {
          out[index] = yzInside && x >= reach[0]! && x < nx - reach[0]! && box[index] !== 0 && distance[index]! > inBall ? 1 : 0;
        }
      }
    }
    return out;
  });
}
