import { describe, expect, it } from 'vitest';
import { resampleToGrid, resampleToSpacing, spacingGrid } from '../../../src/core/volume/resample';
import { diagonalAffine, makeVolume, spacingOf, type Affine, type Shape3, type Volume } from '../../../src/core/volume/volume';
import { pythonAvailable, pythonSkipReason } from '../../oracles/python-oracle';
import { maxAffineDifference, maxAbsDifference, syntheticCt, syntheticMask, volumeOracle } from '../../oracles/volume-oracle';

const lps: Affine = [-0.8, 0, 0, 120, 0, -0.8, 0, 110, 0, 0, 3, -40, 0, 0, 0, 1];

/** f(world) = 2x - 3y + 0.5z + 7: trilinear interpolation reproduces it exactly inside the grid. */
function linearField(shape: Shape3, affine: Affine) {
  const [nx, ny, nz] = shape;
  const data = new Float32Array(nx * ny * nz);
  let o = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, o++) {
        const x = affine[0]! * i + affine[1]! * j + affine[2]! * k + affine[3]!;
        const y = affine[4]! * i + affine[5]! * j + affine[6]! * k + affine[7]!;
        const z = affine[8]! * i + affine[9]! * j + affine[10]! * k + affine[11]!;
        data[o] = 2 * x - 3 * y + 0.5 * z + 7;
      }
  return makeVolume(data, shape, affine);
}

describe('spacingGrid (MONAI Spacing size rule)', () => {
  it.each([
    { n: [512, 512, 300], old: [0.8, 0.8, 3], target: 1, shape: [410, 410, 898] },
    { n: [10, 10, 10], old: [1, 1, 1], target: 2, shape: [6, 6, 6] },
    { n: [7, 5, 4], old: [0.7, 1.3, 5], target: [1.4, 1.3, 2.5], shape: [4, 5, 7] },
    { n: [1, 3, 3], old: [1, 1, 1], target: 0.5, shape: [1, 5, 5] },
  ])('$n at $old mm → $target mm gives $shape', ({ n, old, target, shape }) => {
    const volume = makeVolume(new Uint8Array(n[0]! * n[1]! * n[2]!), n as unknown as Shape3, diagonalAffine(old as [number, number, number], [3, 4, 5]));
    const grid = spacingGrid(volume, target as number | [number, number, number]);
    expect(grid.shape).toEqual(shape);
    const want = typeof target === 'number' ? [target, target, target] : target;
    spacingOf(grid.affine).forEach((s, a) => expect(s).toBeCloseTo(want[a]!, 12));
    expect([grid.affine[3], grid.affine[7], grid.affine[11]]).toEqual([3, 4, 5]);
  });

  it.each([0, -1, 60, Number.NaN])('rejects target spacing %s', (target) => {
    const volume = makeVolume(new Uint8Array(8), [2, 2, 2], diagonalAffine([1, 1, 1]));
    expect(() => spacingGrid(volume, target)).toThrow(/spacing/);
  });
});

describe('resampleToGrid', () => {
  it('keeps values on the identical grid, in both modes', () => {
    const ct = syntheticCt([6, 5, 4], lps);
    expect(maxAbsDifference(resampleToGrid(ct, ct.shape, ct.affine, 'linear'), ct)).toBe(0);
    expect(maxAbsDifference(resampleToGrid(ct, ct.shape, ct.affine, 'nearest'), ct)).toBe(0);
  });

  it.each([
    { name: 'axis-aligned finer grid', shape: [9, 9, 9] as Shape3, affine: diagonalAffine([0.5, 0.5, 1.1], [116.3, 106.5, -38]) },
    {
      name: 'rotated grid (general path)',
      shape: [6, 6, 6] as Shape3,
      affine: [0.6, -0.3, 0.1, 115, 0.3, 0.6, 0, 105, 0, 0.1, 1.5, -36, 0, 0, 0, 1] as Affine,
    },
  ])('reproduces a linear field exactly inside the input: $name', ({ shape, affine }) => {
    const input = linearField([10, 12, 6], lps);
    const expected = linearField(shape, affine);
    const out = resampleToGrid(input, shape, affine, 'linear', { outside: -9999 });
    let compared = 0;
    out.data.forEach((v, i) => {
      if (v === -9999) return;
      compared++;
      expect(Math.abs(v - expected.data[i]!)).toBeLessThan(2e-3);
    });
    expect(compared).toBeGreaterThan(out.data.length / 2);
  });

  it('nearest keeps the voxel type and only input values; outside points take the fill', () => {
    const labels = makeVolume(
      Uint8Array.from({ length: 24 }, (_, i) => i % 3),
      [4, 3, 2],
      diagonalAffine([1, 1, 1]),
    );
    const out = resampleToGrid(labels, [6, 3, 2], diagonalAffine([1, 1, 1], [-1, 0, 0]), 'nearest', { outside: 0 });
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(out.data.subarray(0, 6))).toEqual([0, 0, 1, 2, 0, 0]);
    const bordered = resampleToGrid(labels, [6, 3, 2], diagonalAffine([1, 1, 1], [-1, 0, 0]), 'nearest');
    expect(Array.from(bordered.data.subarray(0, 6))).toEqual([0, 0, 1, 2, 0, 0]);
    expect(Array.from(bordered.data.subarray(6, 12))).toEqual([1, 1, 2, 0, 1, 1]);
  });

  it('linear output is Float32Array even for int16 input', () => {
    const ct = makeVolume(Int16Array.from([0, 100, 200, 300, 0, 100, 200, 300]), [2, 2, 2], diagonalAffine([1, 1, 1]));
    const out = resampleToGrid(ct, [3, 1, 1], diagonalAffine([0.5, 1, 1]), 'linear');
    expect(out.data).toBeInstanceOf(Float32Array);
    expect(Array.from(out.data)).toEqual([0, 50, 100]);
  });
});

/*
 * Tolerance: both sides interpolate trilinearly at the same voxel coordinates, but mewm stores
 * results (and axis weights) in float32 while scipy works in float64: values up to ~1500 HU
 * agree to float32 rounding, well under 0.01 HU. Nearest-neighbour must agree exactly (the
 * grids below avoid coordinates that fall exactly halfway between voxels).
 */
const linearToleranceHu = 0.01;

describe.skipIf(!pythonAvailable)(`resampling against nibabel resample_from_to / scipy${pythonSkipReason}`, () => {
  const ct = syntheticCt([20, 18, 8], lps, 3);
  const labels = syntheticMask([20, 18, 8], lps, 0.4, 4);
  // generic numbers: no sample falls exactly halfway between voxels or exactly on the grid edge
  const rotated: Affine = [0.5531, -0.3477, 0.2113, 118.1373, 0.3529, 0.5473, -0.1041, 104.071, -0.0517, 0.1493, 1.9071, -37.029, 0, 0, 0, 1];

  it('linear onto a rotated grid, border padding', () => {
    const ours = resampleToGrid(ct, [16, 16, 10], rotated, 'linear');
    const reference = volumeOracle('resample', ct, { shape: [16, 16, 10], affine: rotated, order: 1, mode: 'nearest' });
    expect(maxAbsDifference(ours, reference)).toBeLessThan(linearToleranceHu);
  });

  it('linear onto a rotated grid, constant fill -1024', () => {
    const ours = resampleToGrid(ct, [16, 16, 10], rotated, 'linear', { outside: -1024 });
    const reference = volumeOracle('resample', ct, { shape: [16, 16, 10], affine: rotated, order: 1, mode: 'constant', cval: -1024 });
    expect(maxAbsDifference(ours, reference)).toBeLessThan(linearToleranceHu);
  });

  it('linear onto an axis-aligned grid that is flipped against the input and partly outside it, fill -1024', () => {
    const grid: Affine = [0.9, 0, 0, 105.13, 0, 1.1, 0, 97.07, 0, 0, 2.2, -43.1, 0, 0, 0, 1];
    const ours = resampleToGrid(ct, [20, 12, 12], grid, 'linear', { outside: -1024 });
    const reference = volumeOracle('resample', ct, { shape: [20, 12, 12], affine: grid, order: 1, mode: 'constant', cval: -1024 });
    expect(Array.from(ours.data).filter((v) => v === -1024).length).toBeGreaterThan(100);
    expect(maxAbsDifference(ours, reference)).toBeLessThan(linearToleranceHu);
  });

  it('nearest labels onto a rotated grid', () => {
    const ours = resampleToGrid(labels, [16, 16, 10], rotated, 'nearest');
    const reference = volumeOracle('resample', labels, { shape: [16, 16, 10], affine: rotated, order: 0, mode: 'nearest' });
    expect(maxAbsDifference(ours, reference)).toBe(0);
  });

  it.each([
    { target: 1.1, mode: 'linear' as const },
    { target: [0.7, 0.9, 1.3] as [number, number, number], mode: 'linear' as const },
    { target: 1.13, mode: 'nearest' as const },
  ])('resampleToSpacing $target mm ($mode) matches the MONAI grid + nibabel', ({ target, mode }) => {
    const input: Volume = mode === 'linear' ? ct : labels;
    const ours = resampleToSpacing(input, target, mode);
    const spacing = typeof target === 'number' ? [target, target, target] : target;
    const reference = volumeOracle('spacing', input, { spacing, order: mode === 'linear' ? 1 : 0 });
    expect(ours.shape).toEqual(reference.shape);
    expect(maxAffineDifference(ours.affine, reference.affine)).toBeLessThan(1e-4);
    expect(maxAbsDifference(ours, reference)).toBeLessThan(mode === 'linear' ? linearToleranceHu : 1e-9);
  });
});
