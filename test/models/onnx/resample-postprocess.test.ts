import { describe, expect, it } from 'vitest';
import { diagonalAffine, makeVolume } from '../../../src/core/volume/volume';
import { keepLargestOrgan } from '../../../src/models/onnx/postprocess';
import { centroidOf, dilatedMask, pastePatch, resampleToModelGrid, samplePatch, stepRatio, trilinear } from '../../../src/models/onnx/resample';

describe('trilinear and patches', () => {
  // f(x, y, z) = x + 10y + 100z on a 6³ grid: trilinear interpolation is exact for it.
  const n = 6;
  const data = Float32Array.from({ length: n * n * n }, (_, i) => (i % n) + 10 * (Math.floor(i / n) % n) + 100 * Math.floor(i / (n * n)));
  const volume = makeVolume(data, [n, n, n], diagonalAffine([1, 1, 1]));

  it('interpolates linearly and reads fill outside the grid', () => {
    expect(trilinear(data, [n, n, n], 1.5, 2.25, 3.5, -1)).toBeCloseTo(1.5 + 22.5 + 350, 5);
    expect(trilinear(data, [n, n, n], -2, 0, 0, -1)).toBe(-1);
  });

  it('samples a patch with voxel P/2 at the centre and the model/planning spacing ratio', () => {
    const ratio = stepRatio(makeVolume(data, [n, n, n], diagonalAffine([0.5, 0.5, 0.5])), 1);
    expect(ratio).toEqual([2, 2, 2]);
    const patch = samplePatch(volume, [2, 2, 2], 4, [0.5, 0.5, 0.5], -1);
    // patch voxel (i, j, k) = (2, 2, 2) sits at the centre
    expect(patch[(2 * 4 + 2) * 4 + 2]).toBeCloseTo(222, 5);
    expect(patch[(2 * 4 + 2) * 4 + 3]).toBeCloseTo(222.5, 5);
  });

  it('pastes a patch back only where the weight is positive', () => {
    const base = makeVolume(new Float32Array(n * n * n), [n, n, n], diagonalAffine([1, 1, 1]));
    const weight = new Float32Array(n * n * n);
    weight[3 + n * (3 + n * 3)] = 1;
    const out = pastePatch(base, new Float32Array(64).fill(7), 4, [3, 3, 3], [1, 1, 1], weight);
    expect(out[3 + n * (3 + n * 3)]).toBeCloseTo(7, 6);
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(7, 6);
  });

  it('resamples a volume onto a coarser model grid', () => {
    const { data: coarse, shapeZyx } = resampleToModelGrid(volume, [2, 2, 2], (v) => v);
    expect(shapeZyx).toEqual([3, 3, 3]);
    expect(coarse[1 + 3 * (1 + 3 * 1)]).toBeCloseTo(2 + 20 + 200, 5);
  });

  it('finds centroids and dilates masks', () => {
    const labels = makeVolume(new Uint8Array(n * n * n), [n, n, n], diagonalAffine([1, 1, 1]));
    labels.data[2 + n * (3 + n * 4)] = 2;
    expect(centroidOf(labels, 2)).toEqual([2, 3, 4]);
    expect(centroidOf(labels, 1)).toBeUndefined();
    expect(dilatedMask(labels, 2, 1).reduce((a, b) => a + b, 0)).toBe(27);
  });
});

describe('segmentation post-processing', () => {
  it('joins 26-connected voxels (diagonal neighbours) into one organ component', () => {
    const labels = new Uint8Array(27);
    labels[0] = 1;
    labels[13] = 2; // (1,1,1) touches (0,0,0) and (2,2,2) diagonally
    labels[26] = 1;
    labels[2] = 1; // (2,0,0) touches (1,1,1) diagonally too
    expect([...keepLargestOrgan(labels, [3, 3, 3])]).toEqual([...labels]);
    labels[13] = 0; // without the centre, four single voxels: the first in raster order stays
    expect([...keepLargestOrgan(labels, [3, 3, 3])].map((v, i) => (v ? i : -1)).filter((i) => i >= 0)).toEqual([0]);
  });

  it('keeps the largest organ component and drops tumour outside it', () => {
    const shape = [8, 1, 1] as const;
    const labels = Uint8Array.from([1, 1, 2, 1, 0, 2, 0, 1]);
    expect([...keepLargestOrgan(labels, shape)]).toEqual([1, 1, 2, 1, 0, 0, 0, 0]);
  });
});
