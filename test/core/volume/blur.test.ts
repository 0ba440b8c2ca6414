import { describe, expect, it } from 'vitest';
import { gaussianBlur, gaussianKernel } from '../../../src/core/volume/blur';
import { diagonalAffine, makeVolume } from '../../../src/core/volume/volume';
import { pythonAvailable, pythonSkipReason } from '../../oracles/python-oracle';
import { maxAbsDifference, syntheticCt, volumeOracle } from '../../oracles/volume-oracle';

describe('gaussianKernel', () => {
  it.each([
    { sigma: 0.5, length: 5 },
    { sigma: 1, length: 9 },
    { sigma: 2.3, length: 19 },
  ])('sigma $sigma voxels: $length taps (radius floor(4σ + 0.5)), sums to 1, symmetric', ({ sigma, length }) => {
    const kernel = gaussianKernel(sigma);
    expect(kernel).toHaveLength(length);
    expect(kernel.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(kernel[0]).toBeCloseTo(kernel[length - 1]!, 15);
  });
});

describe('gaussianBlur', () => {
  it('keeps a constant volume constant (reflect borders) and leaves sigma-0 axes alone', () => {
    const constant = makeVolume(new Float32Array(60).fill(42), [5, 4, 3], diagonalAffine([1, 1, 1]));
    expect(Array.from(gaussianBlur(constant, 1.5).data).every((v) => Math.abs(v - 42) < 1e-4)).toBe(true);
    const impulse = new Float32Array(125);
    impulse[2 + 5 * (2 + 5 * 2)] = 1;
    const blurred = gaussianBlur(makeVolume(impulse, [5, 5, 5], diagonalAffine([1, 1, 1])), [1, 0, 0]);
    expect(blurred.data.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0)).toBe(5);
  });

  it('converts sigma from mm with the voxel spacing', () => {
    const impulse = new Float32Array(21 * 3 * 3);
    impulse[10 + 21 * (1 + 3 * 1)] = 1;
    const blurred = gaussianBlur(makeVolume(impulse, [21, 3, 3], diagonalAffine([0.5, 1, 1])), [1, 0, 0]);
    const kernel = gaussianKernel(2);
    for (let x = 0; x < 21; x++) expect(blurred.data[x + 21 * 4]).toBeCloseTo(Math.abs(x - 10) <= 8 ? kernel[x - 10 + 8]! : 0, 6);
  });
});

describe.skipIf(!pythonAvailable)(`gaussianBlur against scipy.ndimage.gaussian_filter${pythonSkipReason}`, () => {
  it.each([
    { sigma: 1.2 },
    { sigma: [0.6, 2, 3.5] as [number, number, number] },
  ])('sigma $sigma mm on an anisotropic CT', ({ sigma }) => {
    const ct = syntheticCt([14, 12, 9], [-0.8, 0, 0, 10, 0, -0.8, 0, 20, 0, 0, 3, 0, 0, 0, 0, 1], 9);
    const sigmaMm = typeof sigma === 'number' ? [sigma, sigma, sigma] : sigma;
    const reference = volumeOracle('blur', ct, { sigma_mm: sigmaMm });
    // float32 storage between passes on both sides: agreement to ~1e-4 HU on values ~1e3 HU
    expect(maxAbsDifference(gaussianBlur(ct, sigma), reference)).toBeLessThan(1e-2);
  });
});
