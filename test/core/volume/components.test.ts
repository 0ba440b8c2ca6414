import { describe, expect, it } from 'vitest';
import { connectedComponents, keepLargestComponents, removeSmallComponents } from '../../../src/core/volume/components';
import { diagonalAffine, makeVolume, type Shape3 } from '../../../src/core/volume/volume';
import { pythonAvailable, pythonSkipReason } from '../../oracles/python-oracle';
import { maxAbsDifference, syntheticMask, volumeOracle } from '../../oracles/volume-oracle';

const shape: Shape3 = [5, 5, 5];
const affine = diagonalAffine([1, 1, 1]);
function mask(voxels: ReadonlyArray<readonly [number, number, number]>, value = 1) {
  const data = new Uint8Array(125);
  for (const [x, y, z] of voxels) data[x + 5 * (y + 5 * z)] = value;
  return makeVolume(data, shape, affine);
}

describe('connectedComponents', () => {
  it.each([
    {
      name: 'face neighbours',
      voxels: [
        [1, 1, 1],
        [2, 1, 1],
      ],
      six: [2],
      twentySix: [2],
    },
    {
      name: 'edge neighbours',
      voxels: [
        [1, 1, 1],
        [2, 2, 1],
      ],
      six: [1, 1],
      twentySix: [2],
    },
    {
      name: 'corner neighbours',
      voxels: [
        [1, 1, 1],
        [2, 2, 2],
      ],
      six: [1, 1],
      twentySix: [2],
    },
    {
      name: 'apart',
      voxels: [
        [0, 0, 0],
        [4, 4, 4],
        [4, 0, 0],
      ],
      six: [1, 1, 1],
      twentySix: [1, 1, 1],
    },
    { name: 'empty', voxels: [], six: [], twentySix: [] },
  ] as const)('$name', ({ voxels, six, twentySix }) => {
    expect(connectedComponents(mask(voxels), 6).sizes).toEqual(six);
    expect(connectedComponents(mask(voxels), 26).sizes).toEqual(twentySix);
  });

  it('numbers components in memory order (x fastest)', () => {
    const result = connectedComponents(
      mask([
        [4, 0, 0],
        [0, 1, 0],
        [0, 0, 3],
      ]),
    );
    expect(result.labels.data[4]).toBe(1);
    expect(result.labels.data[5]).toBe(2);
    expect(result.labels.data[75]).toBe(3);
  });

  it('rejects an unknown connectivity', () => {
    expect(() => connectedComponents(mask([]), 18 as 6)).toThrow(/6 or 26/);
  });
});

describe('component filters', () => {
  const blobs = mask(
    [
      [0, 0, 0],
      [1, 0, 0],
      [2, 0, 0],
      [4, 4, 4],
      [4, 3, 4],
      [2, 4, 2],
    ],
    2,
  );

  it.each([
    { count: 1, kept: 3 },
    { count: 2, kept: 5 },
    { count: 9, kept: 6 },
  ])('keepLargestComponents($count) keeps $kept voxels with their values', ({ count, kept }) => {
    const out = keepLargestComponents(blobs, count);
    expect(out.data.reduce((n, v) => n + (v === 2 ? 1 : 0), 0)).toBe(kept);
    expect(out.data).toBeInstanceOf(Uint8Array);
  });

  it.each([
    { minVoxels: 1, kept: 6 },
    { minVoxels: 2, kept: 5 },
    { minVoxels: 3, kept: 3 },
    { minVoxels: 4, kept: 0 },
  ])('removeSmallComponents($minVoxels) keeps $kept voxels', ({ minVoxels, kept }) => {
    expect(removeSmallComponents(blobs, minVoxels).data.reduce((n, v) => n + (v ? 1 : 0), 0)).toBe(kept);
  });
});

describe.skipIf(!pythonAvailable)(`connectedComponents against scipy.ndimage.label${pythonSkipReason}`, () => {
  it.each([6, 26] as const)('connectivity %s gives identical labels', (connectivity) => {
    const random = syntheticMask([17, 13, 9], diagonalAffine([0.8, 0.8, 3]), 0.3, 11);
    const ours = connectedComponents(random, connectivity);
    const reference = volumeOracle('label', random, { connectivity });
    expect(ours.count).toBeGreaterThan(5);
    expect(maxAbsDifference(ours.labels, reference)).toBe(0);
  });
});
