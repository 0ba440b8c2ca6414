import { describe, expect, it } from 'vitest';
import { unwindowHu, windowHu } from '../../../src/core/volume/intensity';
import { diagonalAffine, makeVolume } from '../../../src/core/volume/volume';
import { pythonAvailable, pythonSkipReason } from '../../oracles/python-oracle';
import { maxAbsDifference, syntheticCt, volumeOracle } from '../../oracles/volume-oracle';

const affine = diagonalAffine([1, 1, 1]);

describe('windowHu', () => {
  it.each([
    { hu: -1000, expected: -1 },
    { hu: -175, expected: -1 },
    { hu: 212.5, expected: 0 },
    { hu: 600, expected: 1 },
    { hu: 3000, expected: 1 },
    { hu: Number.NaN, expected: -1 },
    { hu: 406.25, expected: 0.5 },
  ])('$hu HU → $expected in the default [-175, 600] window', ({ hu, expected }) => {
    const volume = makeVolume(Float32Array.from([hu, 0]), [2, 1, 1], affine);
    expect(windowHu(volume).data[0]).toBeCloseTo(expected, 6);
  });

  it('takes a custom window, accepts int16 input, and unwindowHu inverts it inside the window', () => {
    const volume = makeVolume(Int16Array.from([-100, 0, 100, 200]), [2, 2, 1], affine);
    const windowed = windowHu(volume, -100, 100);
    expect(Array.from(windowed.data)).toEqual([-1, 0, 1, 1]);
    expect(Array.from(unwindowHu(windowed, -100, 100).data)).toEqual([-100, 0, 100, 100]);
  });

  it('rejects an empty or inverted window', () => {
    const volume = makeVolume(new Float32Array(2), [2, 1, 1], affine);
    expect(() => windowHu(volume, 10, 10)).toThrow(/hi > lo/);
    expect(() => windowHu(volume, 10, -10)).toThrow(/hi > lo/);
  });
});

describe.skipIf(!pythonAvailable)(`windowHu against numpy clip${pythonSkipReason}`, () => {
  it('agrees to float32 rounding on a CT-like volume', () => {
    const ct = syntheticCt([12, 10, 6], diagonalAffine([0.8, 0.8, 3]), 5);
    const reference = volumeOracle('window', ct, { lo: -175, hi: 600 });
    expect(maxAbsDifference(windowHu(ct), reference)).toBeLessThan(1e-6);
  });
});

describe('windowHu in place', () => {
  it('overwrites a Float32Array input only when asked, and never other voxel types', () => {
    const floats = makeVolume(Float32Array.from([-175, 600]), [2, 1, 1], affine);
    expect(Array.from(windowHu(floats).data)).toEqual([-1, 1]);
    expect(Array.from(floats.data)).toEqual([-175, 600]);
    const same = windowHu(floats, -175, 600, { inPlace: true });
    expect(same.data).toBe(floats.data);
    expect(Array.from(floats.data)).toEqual([-1, 1]);
    const ints = makeVolume(Int16Array.from([-175, 600]), [2, 1, 1], affine);
    expect(windowHu(ints, -175, 600, { inPlace: true }).data).not.toBe(ints.data);
    expect(Array.from(ints.data)).toEqual([-175, 600]);
  });
});
