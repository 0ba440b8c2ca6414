import { describe, expect, it } from 'vitest';
import { clipped, compositionError, psnr, ssim, tumourComposition } from '../../src/evaluation/image-metrics';

const shape = [6, 5, 4] as const;
const n = 6 * 5 * 4;

describe('psnr', () => {
  it('is 20 dB for a unit error with range 10, and infinite for identical images', () => {
    const reference = new Float32Array(n);
    const test = new Float32Array(n).fill(1);
    expect(psnr({ shape, reference, test, dataRange: 10 })).toBeCloseTo(20, 12);
    expect(psnr({ shape, reference, test: reference, dataRange: 10 })).toBe(Number.POSITIVE_INFINITY);
  });
  it('looks only inside the region', () => {
    const reference = new Float32Array(n);
    const test = new Float32Array(n).fill(100);
    const region = new Uint8Array(n);
    region[7] = 1;
    test[7] = 0;
    expect(psnr({ shape, reference, test, region, dataRange: 10 })).toBe(Number.POSITIVE_INFINITY);
    expect(() => psnr({ shape, reference, test, region: new Uint8Array(n), dataRange: 10 })).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
});

describe('ssim', () => {
  it('is 1 for identical images', () => {
    const reference = Float32Array.from({ length: n }, (_, i) => (i * 37) % 11);
    expect(ssim({ shape, reference, test: reference, dataRange: 10 })).toBeCloseTo(1, 12);
  });
  it('matches the closed form for constant images: c1 / (c² + c1)', () => {
    // L = 1 → c1 = 1e-4; an offset c = 0.01 gives 1e-4 / (1e-4 + 1e-4) = 0.5 at every voxel.
    const reference = new Float32Array(n);
    const test = new Float64Array(n).fill(0.01);
    expect(ssim({ shape, reference, test, dataRange: 1 }, 3)).toBeCloseTo(0.5, 10);
  });
  it('drops for noise and rejects even windows', () => {
    const reference = Float32Array.from({ length: n }, (_, i) => (i % 6) * 10);
    const test = Float32Array.from(reference, (v, i) => v + ((i * 7919) % 13) - 6);
    const value = ssim({ shape, reference, test, dataRange: 60 }, 3);
    expect(value).toBeLessThan(0.99);
    expect(value).toBeGreaterThan(0);
    expect(() => ssim({ shape, reference, test, dataRange: 60 }, 4)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
});

describe('tumourComposition', () => {
  const thresholds = { viableMin: 55, lipiodolMin: 250 };
  it('splits the region into viable, Lipiodol and necrotic by hand count', () => {
    const region = [1, 1, 1, 1, 0];
    const ct = [100, 300, 20, 100, 999];
    const tumour = [1, 1, 1, 0, 1];
    // viable: voxel 0; Lipiodol: voxel 1; necrotic: voxel 2 (low HU) and 3 (not labelled tumour); voxel 4 outside.
    expect(tumourComposition(region, ct, tumour, thresholds)).toEqual({ viable: 0.25, lipiodol: 0.25, necrotic: 0.5 });
    expect(compositionError({ viable: 0.25, lipiodol: 0.25, necrotic: 0.5 }, { viable: 0.5, lipiodol: 0.25, necrotic: 0.25 })).toBeCloseTo(1 / 6, 12);
    expect(() => tumourComposition([0], [1], [1], thresholds)).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
  it('clips into a window', () => {
    expect(Array.from(clipped([-500, 0, 900], -175, 600))).toEqual([-175, 0, 600]);
  });
});
