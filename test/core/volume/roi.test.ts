import { describe, expect, it } from 'vitest';
import { largestTumourSlice, planningRoi, roiGrid, tumourCentreMm } from '../../../src/core/volume/roi';
import { diagonalAffine, Label, makeVolume } from '../../../src/core/volume/volume';

const shape = [8, 6, 4] as [number, number, number];
const affine = diagonalAffine([2, 2, 3], [-10, 5, 100]);

function labelsWithTumourAt(voxels: readonly (readonly [number, number, number])[]) {
  const data = new Uint8Array(8 * 6 * 4).fill(Label.liver);
  for (const [x, y, z] of voxels) data[x + 8 * (y + 6 * z)] = Label.tumour;
  return makeVolume(data, shape, affine);
}

describe('the planning ROI', () => {
  it('centres on the tumour centre of mass in RAS mm', () => {
    const labels = labelsWithTumourAt([
      [2, 1, 1],
      [4, 1, 1],
    ]);
    expect(tumourCentreMm('c', labels)).toEqual([-10 + 3 * 2, 5 + 1 * 2, 100 + 1 * 3]);
    expect(() => tumourCentreMm('SYN-1-0001', labelsWithTumourAt([]))).toThrow(/case SYN-1-0001: the mask has no tumour voxels/);
  });

  it('puts voxel floor(n/2) of an isotropic RAS grid on the centre', () => {
    const grid = roiGrid([1, 2, 3], [5, 4, 3], 1.5);
    expect(grid.shape).toEqual([5, 4, 3]);
    const [i, j, k] = [2, 2, 1];
    const a = grid.affine;
    expect([0, 1, 2].map((r) => a[4 * r]! * i + a[4 * r + 1]! * j + a[4 * r + 2]! * k + a[4 * r + 3]!)).toEqual([1, 2, 3]);
    expect([a[0], a[5], a[10]]).toEqual([1.5, 1.5, 1.5]);
  });

  it('resamples the CT (air outside) and the labels onto the grid; the key slice has the most tumour', () => {
    const labels = labelsWithTumourAt([
      [3, 3, 2],
      [4, 3, 2],
      [3, 3, 1],
    ]);
    const ct = makeVolume(new Float32Array(labels.data.length).fill(40), shape, affine);
    const { grid, roi } = planningRoi('c', { ct, labels }, { roiSize: [16, 16, 16], roiSpacingMm: 1 });
    expect(roi.ct.shape).toEqual(grid.shape);
    expect(roi.ct.data[0]).toBe(-1024);
    expect(roi.labels.data).toContain(Label.tumour);
    expect(largestTumourSlice(labels)).toBe(2);
  });
});
