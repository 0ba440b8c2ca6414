import { describe, expect, it } from 'vitest';
import { psnr, ssim } from '../../src/evaluation/image-metrics';

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
