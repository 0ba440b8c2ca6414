import { describe, expect, it } from 'vitest';
import { isMewmError } from '../../../src/core/errors';
import { importanceMap, planWindows, slidingWindowInference, type Zyx } from '../../../src/models/onnx/sliding-window';

describe('planWindows (MONAI dense_patch_slices semantics)', () => {
  it.each<[string, Zyx, Zyx, number, number[], Zyx, Zyx]>([
    // name, image, roi, overlap, x starts, padded, padBefore
    ['interval 2, last window ends at the edge', [4, 4, 10], [4, 4, 4], 0.5, [0, 2, 4, 6], [4, 4, 10], [0, 0, 0]],
    ['last window shifted back inside', [4, 4, 5], [4, 4, 4], 0.25, [0, 1], [4, 4, 5], [0, 0, 0]],
    ['roi equal to image: one window', [4, 4, 4], [4, 4, 4], 0.75, [0], [4, 4, 4], [0, 0, 0]],
    ['image smaller than roi: padded, floor(diff/2) before', [4, 4, 2], [4, 4, 5], 0.5, [0], [4, 4, 5], [0, 0, 1]],
    ['paper overlap 0.75 on 96 windows', [96, 96, 150], [96, 96, 96], 0.75, [0, 24, 48, 54], [96, 96, 150], [0, 0, 0]],
  ])('%s', (_name, image, roi, overlap, xs, padded, padBefore) => {
    const plan = planWindows(image, roi, overlap);
    expect(plan.paddedShape).toEqual(padded);
    expect(plan.padBefore).toEqual(padBefore);
    expect([...new Set(plan.starts.map((s) => s[2]))]).toEqual(xs);
    for (const s of plan.starts) s.forEach((v, i) => expect(v + roi[i]!).toBeLessThanOrEqual(padded[i]!));
  });

  it('rejects an overlap of 1 and non-integer sizes', () => {
    expect(() => planWindows([4, 4, 4], [2, 2, 2], 1)).toThrow(/overlap/);
    expect(() => planWindows([4, 4, 4.5], [2, 2, 2], 0.5)).toThrow(/image shape/);
  });
});

describe('importanceMap (Gaussian, σ = 0.125·roi)', () => {
  it('matches hand-computed values', () => {
    // roi 3 along x: coordinates −1, 0, 1; σ = 0.375 → exp(−1/(2·0.140625)) = exp(−3.5556) = 0.028566
    const map = importanceMap([1, 1, 3]);
    expect(map[0]).toBeCloseTo(0.028566, 5);
    expect(map[1]).toBeCloseTo(1, 6);
    expect(map[2]).toBeCloseTo(0.028566, 5);
  });

  it('is floored at 1e-3 far from the centre', () => {
    const map = importanceMap([8, 8, 8]);
    expect(Math.min(...map)).toBeCloseTo(1e-3, 6);
    expect(Math.max(...map)).toBeLessThanOrEqual(1);
  });
});

describe('slidingWindowInference', () => {
  it('blends overlapping windows by Gaussian weight (hand-computed)', async () => {
    // x size 5, roi 4, overlap 0.5 → windows at x = 0 and x = 1; window k predicts the constant k.
    // roi-4 weights (σ = 0.5): e^−4.5 = 0.011109 at the ends, e^−0.5 = 0.606531 inside.
    let window = 0;
    const out = await slidingWindowInference({
      image: new Float32Array(5),
      inChannels: 1,
      shape: [1, 1, 5],
      roi: [1, 1, 4],
      overlap: 0.5,
      outChannels: 1,
      batchSize: 1,
      predict: async (_batch, n) => new Float32Array(4 * n).fill(window++),
    });
    const end = Math.exp(-4.5);
    const mid = Math.exp(-0.5);
    expect(out[0]).toBeCloseTo(0, 6);
    expect(out[1]).toBeCloseTo(end / (mid + end), 6);
    expect(out[2]).toBeCloseTo(0.5, 6);
    expect(out[3]).toBeCloseTo(mid / (mid + end), 6);
    expect(out[4]).toBeCloseTo(1, 6);
  });

  it('reproduces the input under an identity model, whatever the windows and batches', async () => {
    const shape: Zyx = [7, 9, 11];
    const image = Float32Array.from({ length: 7 * 9 * 11 }, (_, i) => Math.sin(i * 0.37) * 100);
    let calls = 0;
    const out = await slidingWindowInference({
      image,
      inChannels: 1,
      shape,
      roi: [4, 6, 12],
      overlap: 0.5,
      outChannels: 1,
      batchSize: 3,
      padValue: -1,
      predict: async (batch) => {
        calls++;
        return batch.slice();
      },
    });
    expect(calls).toBeGreaterThan(1);
    for (let i = 0; i < image.length; i++) expect(out[i]).toBeCloseTo(image[i]!, 3);
  });

  it('rejects a predictor that returns the wrong number of values', async () => {
    await expect(
      slidingWindowInference({
        image: new Float32Array(8),
        inChannels: 1,
        shape: [2, 2, 2],
        roi: [2, 2, 2],
        overlap: 0.5,
        outChannels: 3,
        batchSize: 1,
        predict: async () => new Float32Array(8),
      }),
    ).rejects.toSatisfy((e: unknown) => isMewmError(e, 'ModelContract'));
  });
});
