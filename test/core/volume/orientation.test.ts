import { describe, expect, it } from 'vitest';
import { axisCodes, invertAffine, multiplyAffine, reorientToRas } from '../../../src/core/volume/orientation';
import { makeVolume, type Affine } from '../../../src/core/volume/volume';
import { pythonAvailable, pythonSkipReason } from '../../oracles/python-oracle';
import { maxAffineDifference, maxAbsDifference, syntheticCt, volumeOracle } from '../../oracles/volume-oracle';

const rotationZ = (angle: number, spacing: [number, number, number]): Affine => {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return [c * spacing[0], -s * spacing[1], 0, 5, s * spacing[0], c * spacing[1], 0, -7, 0, 0, spacing[2], 11, 0, 0, 0, 1];
};

const orientationCases: Array<{ name: string; affine: Affine; codes: string }> = [
  { name: 'RAS', affine: [0.8, 0, 0, 0, 0, 0.8, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1], codes: 'RAS' },
  { name: 'LPS (DICOM-like)', affine: [-0.8, 0, 0, 200, 0, -0.8, 0, 200, 0, 0, 3, -50, 0, 0, 0, 1], codes: 'LPS' },
  { name: 'LAS', affine: [-0.8, 0, 0, 10, 0, 0.8, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1], codes: 'LAS' },
  { name: 'RPI (rows copied whole)', affine: [0.8, 0, 0, 10, 0, -0.8, 0, 0, 0, 0, -3, 0, 0, 0, 0, 1], codes: 'RPI' },
  { name: 'permuted SRP', affine: [0, 0.7, 0, 1, 0, 0, -2.5, 2, 3, 0, 0, 3, 0, 0, 0, 1], codes: 'SRP' },
  { name: 'oblique 20 degrees', affine: rotationZ((20 * Math.PI) / 180, [0.8, 0.7, 3]), codes: 'RAS' },
  { name: 'oblique 160 degrees', affine: rotationZ((160 * Math.PI) / 180, [0.8, 0.7, 3]), codes: 'LPS' },
  { name: 'permuted IAR', affine: [0, 0, 1, 0, 0, 2, 0, 0, -1, 0, 0, 0, 0, 0, 0, 1], codes: 'IAR' },
];

describe('axisCodes', () => {
  it.each(orientationCases)('$name → $codes', ({ affine, codes }) => {
    expect(axisCodes(affine).join('')).toBe(codes);
  });
});

describe('reorientToRas', () => {
  it.each(orientationCases)('$name: RAS codes, and every voxel keeps its world position', ({ affine }) => {
    const shape = [4, 3, 5] as const;
    const data = Int32Array.from({ length: 60 }, (_, i) => i);
    const input = makeVolume(data, shape, affine);
    const output = reorientToRas(input);
    expect(axisCodes(output.affine).join('')).toBe('RAS');
    expect(output.shape[0] * output.shape[1] * output.shape[2]).toBe(60);
    const [ox, oy] = output.shape;
    // output voxel -> its value is the input index it came from; both must map to one world point
    const outToIn = multiplyAffine(invertAffine(input.affine), output.affine);
    output.data.forEach((source, o) => {
      const i = o % ox;
      const j = Math.floor(o / ox) % oy;
      const k = Math.floor(o / (ox * oy));
      const mapped = [0, 1, 2].map((r) => outToIn[4 * r]! * i + outToIn[4 * r + 1]! * j + outToIn[4 * r + 2]! * k + outToIn[4 * r + 3]!);
      const expected = [source % 4, Math.floor(source / 4) % 3, Math.floor(source / 12)];
      mapped.forEach((v, a) => expect(v).toBeCloseTo(expected[a]!, 9));
    });
  });

  it('returns the same object for an already-RAS volume', () => {
    const volume = makeVolume(new Uint8Array(8), [2, 2, 2], orientationCases[0]!.affine);
    expect(reorientToRas(volume)).toBe(volume);
  });
});

describe.skipIf(!pythonAvailable)(`reorientToRas against nibabel as_closest_canonical${pythonSkipReason}`, () => {
  it.each(orientationCases.slice(1))('$name', ({ affine }) => {
    const input = syntheticCt([7, 6, 5], affine);
    const ours = reorientToRas(input);
    const reference = volumeOracle('canonical', input);
    expect(ours.shape).toEqual(reference.shape);
    // the reference affine went through float32 NIfTI fields
    expect(maxAffineDifference(ours.affine, reference.affine)).toBeLessThan(1e-4);
    expect(maxAbsDifference(ours, reference)).toBe(0);
  });
});
