/**
 * Regression for issue 12: the separable / typed-array versions of the voxel loops must give the
 * same bits as the straightforward per-voxel versions they replaced (kept here as references),
 * on grids with fractional ratios, off-grid centres and patches that leave the volume.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/random';
import { diagonalAffine, makeVolume, type Volume } from '../../../src/core/volume/volume';
import { keepLargestOrgan } from '../../../src/models/onnx/postprocess';
import { binaryMask, dilatedMask, pastePatch, resampleToModelGrid, samplePatch, trilinear, type Xyz } from '../../../src/models/onnx/resample';
import { WindowAccumulator, importanceMap, planWindows } from '../../../src/models/onnx/sliding-window';
import { argmaxOnPlanningGrid } from '../../../src/models/onnx/world-model';

// ---- the per-voxel references (the code before issue 12) ----

function samplePatchRef(volume: Volume, centre: Xyz, patch: number, ratio: Xyz, fill: number, map: (v: number) => number = (v) => v): Float32Array {
  const out = new Float32Array(patch * patch * patch);
  const half = patch / 2;
  for (let k = 0; k < patch; k++)
    for (let j = 0; j < patch; j++)
      for (let i = 0; i < patch; i++) {
        const [x, y, z] = [centre[0] + (i - half) * ratio[0], centre[1] + (j - half) * ratio[1], centre[2] + (k - half) * ratio[2]];
        out[(k * patch + j) * patch + i] = map(trilinear(volume.data, volume.shape, x, y, z, fill));
      }
  return out;
}

function pastePatchRef(base: Volume<Float32Array>, patchData: Float32Array, patch: number, centre: Xyz, ratio: Xyz, weight: Float32Array): Float32Array {
  const [nx, ny, nz] = base.shape;
  const out = Float32Array.from(base.data);
  const half = patch / 2;
  const lo = (a: 0 | 1 | 2) => Math.max(0, Math.floor(centre[a] - half * ratio[a]));
  const hi = (a: 0 | 1 | 2, n: number) => Math.min(n - 1, Math.ceil(centre[a] + (half - 1) * ratio[a]));
  for (let z = lo(2); z <= hi(2, nz); z++)
    for (let y = lo(1); y <= hi(1, ny); y++)
      for (let x = lo(0); x <= hi(0, nx); x++) {
        const idx = x + nx * (y + ny * z);
        const w = weight[idx]!;
        if (w <= 0) continue;
        const [u, v, t] = [(x - centre[0]) / ratio[0] + half, (y - centre[1]) / ratio[1] + half, (z - centre[2]) / ratio[2] + half];
        if (u < 0 || v < 0 || t < 0 || u > patch - 1 || v > patch - 1 || t > patch - 1) continue;
        out[idx] = w * trilinear(patchData, [patch, patch, patch], u, v, t, 0) + (1 - w) * out[idx]!;
      }
  return out;
}

function resampleRef(volume: Volume, ratio: Xyz, map: (v: number) => number): Float32Array {
  const [mx, my, mz] = volume.shape.map((n, a) => Math.floor((n - 1) / ratio[a]!) + 1) as [number, number, number];
  const data = new Float32Array(mx * my * mz);
  for (let k = 0; k < mz; k++)
    for (let j = 0; j < my; j++)
      for (let i = 0; i < mx; i++) data[(k * my + j) * mx + i] = map(trilinear(volume.data, volume.shape, i * ratio[0], j * ratio[1], k * ratio[2], 0));
  return data;
}

function dilatedMaskRef(labels: Volume<Uint8Array>, label: number, radius: number): Float32Array {
  const [nx, ny, nz] = labels.shape;
  let cur = binaryMask(labels.data, label);
  const strides = [1, nx, nx * ny];
  const sizes = [nx, ny, nz];
  for (let axis = 0; axis < 3; axis++) {
    const next = new Float32Array(cur.length);
    for (let idx = 0; idx < cur.length; idx++) {
      const pos = Math.floor(idx / strides[axis]!) % sizes[axis]!;
      let m = 0;
      for (let d = -radius; d <= radius && m === 0; d++) {
        const p = pos + d;
        if (p >= 0 && p < sizes[axis]! && cur[idx + d * strides[axis]!]! > 0) m = 1;
      }
      next[idx] = m;
    }
    cur = next;
  }
  return cur;
}

function argmaxRef(logits: Float32Array, modelZyx: readonly [number, number, number], planningShape: Xyz, ratio: Xyz): Uint8Array {
  const [mz, my, mx] = modelZyx;
  const per = mx * my * mz;
  const [nx, ny, nz] = planningShape;
  const labels = new Uint8Array(nx * ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        let best = 0;
        let bestValue = -Infinity;
        for (let c = 0; c < 3; c++) {
          const v = trilinear(logits.subarray(c * per, (c + 1) * per), [mx, my, mz], x / ratio[0], y / ratio[1], z / ratio[2], c === 0 ? 1e9 : -1e9);
          if (v > bestValue) [bestValue, best] = [v, c];
        }
        labels[x + nx * (y + ny * z)] = best;
      }
  return labels;
}

function keepLargestOrganRef(labels: Uint8Array, shape: Xyz): Uint8Array {
  const { ids, sizes } = componentsRef(Uint8Array.from(labels, (v) => (v >= 1 ? 1 : 0)), shape);
  let best = 1;
  for (let i = 2; i < sizes.length; i++) if (sizes[i]! > sizes[best]!) best = i;
  return Uint8Array.from(labels, (v, i) => (sizes.length > 1 && ids[i] !== best ? 0 : v));
}

/** Two 3×3×3 organ cubes far apart, the later one with tumour in it, and stray voxels. */
function equalComponents(): Uint8Array {
  const data = new Uint8Array(n);
  const put = (x: number, y: number, z: number, v: number) => (data[x + shape[0] * (y + shape[1] * z)] = v);
  for (let z = 0; z < 3; z++)
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 3; x++) {
        put(15 + x, 2 + y, 1 + z, 1);
        put(2 + x, 10 + y, 12 + z, x === 1 && y === 1 ? 2 : 1);
      }
  put(10, 16, 18, 2);
  put(22, 0, 5, 1);
  return data;
}

function componentsRef(mask: Uint8Array, [nx, ny, nz]: Xyz): { ids: Int32Array; sizes: number[] } {
  const ids = new Int32Array(mask.length);
  const sizes = [0];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || ids[start]) continue;
    const id = sizes.length;
    const stack = [start];
    ids[start] = id;
    let size = 0;
    while (stack.length) {
      const idx = stack.pop()!;
      size++;
      const [x, y, z] = [idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny))];
      for (let dz = -1; dz <= 1; dz++)
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const [xx, yy, zz] = [x + dx, y + dy, z + dz];
            if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
            const n = xx + nx * (yy + ny * zz);
            if (mask[n] && !ids[n]) {
              ids[n] = id;
              stack.push(n);
            }
          }
    }
    sizes.push(size);
  }
  return { ids, sizes };
}

// ---- inputs ----

const rng = new Rng(12);
const shape: Xyz = [23, 17, 19];
const n = shape[0] * shape[1] * shape[2];
const ct = makeVolume(Float32Array.from({ length: n }, () => rng.uniform() * 1200 - 400), shape, diagonalAffine([1.5, 1.5, 1.5]));
/** Blobby labels: thresholded smooth noise, so components have shape and several exist. */
const labels = makeVolume(
  Uint8Array.from({ length: n }, (_, i) => {
    const [x, y, z] = [i % shape[0], Math.floor(i / shape[0]) % shape[1], Math.floor(i / (shape[0] * shape[1]))];
    const v = Math.sin(x * 0.7) + Math.cos(y * 0.9) + Math.sin(z * 0.5 + x * 0.2) + rng.uniform() * 0.6;
    return v > 1.4 ? 2 : v > 0.6 ? 1 : 0;
  }),
  shape,
  diagonalAffine([1.5, 1.5, 1.5]),
);
const map = (v: number) => Math.max(-1, Math.min(1, (v + 175) / 387.5 - 1));

describe('fast voxel loops give the same bits as the per-voxel references', () => {
  const cases: { centre: Xyz; ratio: Xyz; patch: number }[] = [
    { centre: [11.3, 8.6, 9.2], ratio: [2, 2, 2], patch: 8 },
    { centre: [2.5, 15.1, 0.4], ratio: [1.7, 2.3, 0.9], patch: 10 },
    { centre: [22, 0, 18.9], ratio: [3, 3, 3], patch: 6 },
  ];

  it.each(cases)('samplePatch and pastePatch at centre $centre, ratio $ratio', ({ centre, ratio, patch }) => {
    expect(samplePatch(ct, centre, patch, ratio, -1175, map)).toEqual(samplePatchRef(ct, centre, patch, ratio, -1175, map));
    expect(samplePatch(labels, centre, patch, ratio, 0)).toEqual(samplePatchRef(labels, centre, patch, ratio, 0));
    const patchData = Float32Array.from({ length: patch ** 3 }, () => rng.uniform() * 900 - 100);
    const weight = Float32Array.from({ length: n }, () => Math.max(0, rng.uniform() * 1.4 - 0.4));
    expect(pastePatch(ct, patchData, patch, centre, ratio, weight)).toEqual(pastePatchRef(ct, patchData, patch, centre, ratio, weight));
  });

  it.each([[[2, 2, 2]], [[1.7, 2.3, 0.9]], [[3, 1, 2.5]]] as [Xyz][])('resampleToModelGrid at ratio %j', (ratio) => {
    expect(resampleToModelGrid(ct, ratio, map).data).toEqual(resampleRef(ct, ratio, map));
  });

  it.each([0, 1, 2, 4, 30])('dilatedMask with radius %i', (radius) => {
    expect(dilatedMask(labels, 2, radius)).toEqual(dilatedMaskRef(labels, 2, radius));
  });

  it.each([[[2, 2, 2]], [[1.7, 2.3, 0.9]]] as [Xyz][])('argmaxOnPlanningGrid at ratio %j (ties and the outside included)', (ratio) => {
    const model = shape.map((s, a) => Math.floor((s - 1) / ratio[a]!) + 1) as unknown as Xyz;
    const per = model[0] * model[1] * model[2];
    // quantised logits so that ties between channels occur
    const logits = Float32Array.from({ length: 3 * per }, () => Math.round(rng.uniform() * 4) / 2);
    const zyx = [model[2], model[1], model[0]] as const;
    expect(argmaxOnPlanningGrid(logits, zyx, shape, ratio)).toEqual(argmaxRef(logits, zyx, shape, ratio));
    // a planning grid larger than the model grid covers: the outside is background
    const bigger: Xyz = [shape[0] + 6, shape[1] + 3, shape[2] + 5];
    expect(argmaxOnPlanningGrid(logits, zyx, bigger, ratio)).toEqual(argmaxRef(logits, zyx, bigger, ratio));
  });

  it('argmaxOnPlanningGrid on smooth logits (most cells decided by their corners)', () => {
    const ratio: Xyz = [2, 1.6, 2.4];
    const model = shape.map((s, a) => Math.floor((s - 1) / ratio[a]!) + 1) as unknown as Xyz;
    const per = model[0] * model[1] * model[2];
    const logits = new Float32Array(3 * per);
    for (let i = 0; i < per; i++) {
      const [x, y, z] = [i % model[0], Math.floor(i / model[0]) % model[1], Math.floor(i / (model[0] * model[1]))];
      logits[i] = Math.sin(x * 0.5) * 4;
      logits[per + i] = Math.cos(y * 0.4 + z * 0.3) * 4;
      logits[2 * per + i] = i % 7 === 0 ? logits[per + i]! : Math.sin(z * 0.6 + x * 0.1) * 4; // exact ties too
    }
    const zyx = [model[2], model[1], model[0]] as const;
    expect(argmaxOnPlanningGrid(logits, zyx, shape, ratio)).toEqual(argmaxRef(logits, zyx, shape, ratio));
  });

  it.each([
    ['blobs of the fixture', labels.data],
    ['two organ components of equal size (the first in raster order wins)', equalComponents()],
    ['no organ', new Uint8Array(n)],
  ])('keepLargestOrgan: %s', (_, data) => {
    expect(keepLargestOrgan(data, shape)).toEqual(keepLargestOrganRef(data, shape));
  });

  it('WindowAccumulator blends rows exactly as voxel by voxel', () => {
    const plan = planWindows([9, 11, 7], [4, 6, 4], 0.5);
    const importance = importanceMap(plan.roi);
    const acc = new WindowAccumulator(plan, 2, importance);
    const [pz, py, px] = plan.paddedShape;
    const [rz, ry, rx] = plan.roi;
    const sum = new Float32Array(2 * pz * py * px);
    const weight = new Float32Array(pz * py * px);
    for (const start of plan.starts) {
      const prediction = Float32Array.from({ length: 2 * rz * ry * rx }, () => rng.uniform() * 6 - 3);
      acc.add(start, prediction);
      for (let z = 0; z < rz; z++)
        for (let y = 0; y < ry; y++)
          for (let x = 0; x < rx; x++) {
            const w = importance[(z * ry + y) * rx + x]!;
            const dst = ((start[0] + z) * py + start[1] + y) * px + start[2] + x;
            weight[dst] = weight[dst]! + w;
            for (let c = 0; c < 2; c++) sum[c * pz * py * px + dst] = sum[c * pz * py * px + dst]! + prediction[c * rz * ry * rx + (z * ry + y) * rx + x]! * w;
          }
    }
    const expected = Float32Array.from({ length: 2 * pz * py * px }, (_, i) => sum[i]! / weight[i % (pz * py * px)]!);
    expect(acc.finalize()).toEqual(expected);
  });
});
