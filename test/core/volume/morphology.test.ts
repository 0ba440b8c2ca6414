import { describe, expect, it } from 'vitest';
import { ballOffsets, dilate, erode } from '../../../src/core/volume/morphology';
import { diagonalAffine, makeVolume, type Shape3, type Volume } from '../../../src/core/volume/volume';
import { pythonAvailable, pythonSkipReason } from '../../oracles/python-oracle';
import { maxAbsDifference, syntheticMask, volumeOracle } from '../../oracles/volume-oracle';

const affine = diagonalAffine([1, 1, 1]);
const count = (volume: Volume) => Array.from(volume.data).filter((v) => v !== 0).length;

describe('ball structuring element', () => {
  it.each([
    { radius: 0, voxels: 1 },
    { radius: 1, voxels: 7 },
    { radius: Math.SQRT2, voxels: 19 },
    { radius: Math.sqrt(3), voxels: 27 },
    { radius: 2, voxels: 33 },
    { radius: 3, voxels: 123 },
  ])('radius $radius holds $voxels voxels, and dilating one voxel gives exactly that ball', ({ radius, voxels }) => {
    expect(ballOffsets(radius)).toHaveLength(voxels);
    const shape: Shape3 = [9, 9, 9];
    const data = new Uint8Array(729);
    data[4 + 9 * (4 + 9 * 4)] = 1;
    const grown = dilate(makeVolume(data, shape, affine), radius);
    expect(count(grown)).toBe(voxels);
    for (const [dx, dy, dz] of ballOffsets(radius)) expect(grown.data[4 + dx + 9 * (4 + dy + 9 * (4 + dz))]).toBe(1);
  });

  it('supports per-axis radii (an ellipsoid in voxels, e.g. for anisotropic spacing)', () => {
    expect(ballOffsets([2, 2, 0])).toHaveLength(13);
  });
});

describe('erode', () => {
  it.each([
    { radius: 1, size: 7 },
    { radius: 2, size: 7 },
  ])('a full cube touching the border loses its border layers (radius $radius)', ({ radius, size }) => {
    const shape: Shape3 = [size, size, size];
    const full = makeVolume(new Uint8Array(size ** 3).fill(1), shape, affine);
    const eroded = erode(full, radius);
    // outside the volume is background: exactly the voxels at least `radius` from every face stay
    const side = size - 2 * radius;
    expect(count(eroded)).toBe(side ** 3);
  });

  it('erodes a dilated voxel back to the voxel', () => {
    const shape: Shape3 = [11, 11, 11];
    const data = new Uint8Array(1331);
    data[5 + 11 * (5 + 11 * 5)] = 1;
    const single = makeVolume(data, shape, affine);
    expect(Array.from(erode(dilate(single, 2), 2).data)).toEqual(Array.from(single.data));
  });

  it('rejects a negative radius', () => {
    expect(() => erode(makeVolume(new Uint8Array(8), [2, 2, 2], affine), -1)).toThrow(/non-negative/);
  });
});

/** A lumpy blob in one corner of a larger volume: the bounding-box shortcut matters here. */
function cornerBlob(): Volume<Uint8Array> {
  const shape: Shape3 = [30, 26, 20];
  const noise = syntheticMask(shape, affine, 0.5, 23);
  const data = new Uint8Array(30 * 26 * 20);
  for (let z = 0; z < 20; z++) for (let y = 0; y < 26; y++) for (let x = 0; x < 30; x++) {
    const d = Math.hypot(x - 6, y - 19, (z - 5) * 1.3);
    const index = x + 30 * (y + 26 * z);
    data[index] = d < 4.5 || (d < 6.5 && noise.data[index] === 1) ? 1 : 0;
  }
  return makeVolume(data, shape, affine);
}

describe.skipIf(!pythonAvailable)(`erode/dilate against scipy binary morphology with a ball${pythonSkipReason}`, () => {
  it.each([
    { operation: 'dilate', radius: 2 },
    { operation: 'dilate', radius: 3.2 },
    { operation: 'erode', radius: 1.5 },
    { operation: 'erode', radius: 3 },
  ] as const)('$operation radius $radius of a blob in a corner of a larger volume', ({ operation, radius }) => {
    const blob = cornerBlob();
    const ours = operation === 'dilate' ? dilate(blob, radius) : erode(blob, radius);
    const reference = volumeOracle(operation, blob, { radius });
    expect(count(ours)).toBeGreaterThan(0);
    expect(maxAbsDifference(ours, reference)).toBe(0);
  });

  const random = syntheticMask([16, 14, 12], affine, 0.55, 21);
  it.each([
    { operation: 'dilate', radius: 1 },
    { operation: 'dilate', radius: 2.5 },
    { operation: 'erode', radius: 1 },
    { operation: 'erode', radius: 2 },
  ] as const)('$operation radius $radius', ({ operation, radius }) => {
    // sparse masks for dilation, dense ones for erosion, so neither result is trivial
    const input = operation === 'dilate' ? syntheticMask([16, 14, 12], affine, 0.02, 22) : dilate(random, 1);
    const ours = operation === 'dilate' ? dilate(input, radius) : erode(input, radius);
    const reference = volumeOracle(operation, input, { radius });
    expect(count(ours)).toBeGreaterThan(0);
    expect(count(ours)).toBeLessThan(ours.data.length);
    expect(maxAbsDifference(ours, reference)).toBe(0);
  });
});
