/**
 * Focused segmentation (src/models/onnx/focus.ts): the box whose labels the segmenter replaces,
 * the model-grid window it reads, and that labels computed from that window's logits are the
 * labels the whole grid's logits give there (so only the segmenter's context changes, not the
 * resampling or the argmax).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/random';
import { diagonalAffine, makeVolume } from '../../../src/core/volume/volume';
import { focusOf } from '../../../src/models/onnx/focus';
import { extractWindow } from '../../../src/models/onnx/sliding-window';
import type { Xyz } from '../../../src/models/onnx/resample';
import { argmaxInto, argmaxOnPlanningGrid } from '../../../src/models/onnx/world-model';

function labelsWithTumour(shape: Xyz, lo: Xyz, hi: Xyz, spacingMm = 1.5) {
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]).fill(1);
  for (let z = lo[2]; z <= hi[2]; z++) for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) data[x + shape[0] * (y + shape[1] * z)] = 2;
  return makeVolume(data, shape, diagonalAffine([spacingMm, spacingMm, spacingMm], [0, 0, 0]));
}

describe('focusOf', () => {
  it('is the tumour box dilated by the margin, read through a window of at least one segmenter window inside the model grid', () => {
    const pre = labelsWithTumour([96, 96, 96], [40, 42, 44], [50, 55, 52]);
    const f = focusOf(pre, [2, 2, 2], [48, 48, 48], [32, 32, 32], 12, 2)!;
    expect(f.lo).toEqual([32, 34, 36]); // 12 mm = 8 voxels of 1.5 mm
    expect(f.hi).toEqual([58, 63, 60]);
    f.windowShapeZyx.forEach((n) => expect(n).toBe(32));
    for (let a = 0; a < 3; a++) {
      const start = f.windowStartZyx[2 - a]!;
      const end = start + f.windowShapeZyx[2 - a]!;
      expect(start).toBeGreaterThanOrEqual(0);
      expect(end).toBeLessThanOrEqual(48);
      // every model voxel the box's trilinear taps read, plus the context
      expect(start).toBeLessThanOrEqual(Math.floor(f.lo[a]! / 2) - 2);
      expect(end).toBeGreaterThanOrEqual(Math.floor(f.hi[a]! / 2) + 2 + 2);
    }
  });

  it('grows the window past one segmenter window for a large tumour and clamps box and window to the grid', () => {
    const pre = labelsWithTumour([96, 96, 96], [0, 10, 30], [95, 60, 40]);
    const f = focusOf(pre, [2, 2, 2], [48, 48, 48], [32, 32, 32], 12, 2)!;
    expect(f.lo).toEqual([0, 2, 22]);
    expect(f.hi).toEqual([95, 68, 48]);
    expect(f.windowStartZyx[2]).toBe(0);
    expect(f.windowShapeZyx[2]).toBe(48);
    expect(f.windowShapeZyx[1]).toBeGreaterThan(32);
  });

  it('is undefined without a tumour (nothing bounds the change)', () => {
    const pre = makeVolume(new Uint8Array(20 * 20 * 20).fill(1), [20, 20, 20], diagonalAffine([1.5, 1.5, 1.5], [0, 0, 0]));
    expect(focusOf(pre, [2, 2, 2], [10, 10, 10], [32, 32, 32], 12, 2)).toBeUndefined();
  });
});

describe('argmaxInto from a window of the logits', () => {
  it.each([[[2, 2, 2]], [[1.7, 2.3, 1.9]]] as [Xyz][])('gives the whole-grid labels inside the focus box at ratio %j', (ratio) => {
    const rng = new Rng(7);
    const shape: Xyz = [70, 64, 66];
    const model = shape.map((s, a) => Math.floor((s - 1) / ratio[a]!) + 1) as unknown as Xyz;
    const zyx = [model[2], model[1], model[0]] as const;
    const per = model[0] * model[1] * model[2];
    const logits = Float32Array.from({ length: 3 * per }, () => Math.round(rng.uniform() * 4) / 2);
    const whole = argmaxOnPlanningGrid(logits, zyx, shape, ratio);
    for (const [lo, hi] of [
      [[20, 18, 25], [30, 28, 33]],
      [[0, 0, 40], [20, 63, 65]], // touches the grid's faces, where the model grid ends
    ] as [Xyz, Xyz][]) {
      const pre = labelsWithTumour(shape, lo, hi);
      const f = focusOf(pre, ratio, zyx, [16, 16, 16], 3, 2)!;
      const windowLogits = extractWindow(logits, 3, zyx, f.windowStartZyx, f.windowShapeZyx);
      const labels = new Uint8Array(whole.length).fill(9);
      argmaxInto(labels, shape, f, windowLogits, f.windowShapeZyx, f.windowStartZyx, ratio);
      let inside = 0;
      let wrong = 0;
      let touchedOutside = 0;
      for (let z = 0; z < shape[2]; z++)
        for (let y = 0; y < shape[1]; y++)
          for (let x = 0; x < shape[0]; x++) {
            const i = x + shape[0] * (y + shape[1] * z);
            const inBox = x >= f.lo[0] && x <= f.hi[0] && y >= f.lo[1] && y <= f.hi[1] && z >= f.lo[2] && z <= f.hi[2];
            if (inBox) {
              inside++;
              if (labels[i] !== whole[i]) wrong++;
            } else if (labels[i] !== 9) touchedOutside++;
          }
      expect(inside).toBeGreaterThan(1000);
      expect({ wrong, touchedOutside }).toEqual({ wrong: 0, touchedOutside: 0 });
    }
  });
});
