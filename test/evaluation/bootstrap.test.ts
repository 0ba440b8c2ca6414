import { describe, expect, it } from 'vitest';
import { bootstrapIntervals, bootstrapMean, quantile } from '../../src/evaluation/bootstrap';

describe('quantile', () => {
  it('interpolates linearly like numpy', () => {
    const sorted = [1, 2, 3, 4];
    expect(quantile(sorted, 0)).toBe(1);
    expect(quantile(sorted, 1)).toBe(4);
    expect(quantile(sorted, 0.5)).toBe(2.5);
    expect(quantile(sorted, 0.25)).toBeCloseTo(1.75, 12);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });
});

describe('bootstrapMean', () => {
  it('gives a zero-width interval for constant data', () => {
    expect(bootstrapMean([0.5, 0.5, 0.5], { seed: 1, resamples: 200 })).toEqual({ estimate: 0.5, lower: 0.5, upper: 0.5 });
  });

  it('is reproducible from its seed and changes with it', () => {
    const values = Array.from({ length: 40 }, (_, i) => (i * 7919) % 13);
    const a = bootstrapMean(values, { seed: 42, resamples: 500 });
    const b = bootstrapMean(values, { seed: 42, resamples: 500 });
    const c = bootstrapMean(values, { seed: 43, resamples: 500 });
    expect(a).toEqual(b);
    expect(c.lower === a.lower && c.upper === a.upper).toBe(false);
    expect(a.lower).toBeLessThan(a.estimate);
    expect(a.upper).toBeGreaterThan(a.estimate);
  });

  it('covers roughly ±1.96 standard errors for a large sample', () => {
    // 0/1 data with p = 0.5, n = 400: SE = 0.025, so the 95% interval is about 0.451..0.549.
    const values = Array.from({ length: 400 }, (_, i) => i % 2);
    const ci = bootstrapMean(values, { seed: 7, resamples: 2000 });
    expect(ci.estimate).toBe(0.5);
    expect(ci.lower).toBeGreaterThan(0.44);
    expect(ci.lower).toBeLessThan(0.46);
    expect(ci.upper).toBeGreaterThan(0.54);
    expect(ci.upper).toBeLessThan(0.56);
  });
});

describe('bootstrapIntervals', () => {
  it('skips non-finite resample values and rejects bad options', () => {
    const out = bootstrapIntervals(5, (idx) => [idx[0] === 0 ? Number.NaN : 1], { seed: 3, resamples: 100 });
    expect(out[0]!.lower).toBe(1);
    expect(() => bootstrapIntervals(0, () => [0], { seed: 1 })).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    expect(() => bootstrapIntervals(3, () => [0], { seed: 1, level: 1.5 })).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
  });
});
