/**
 * Sliding-window inference from small parts, with MONAI `sliding_window_inference` semantics:
 * - `planWindows`: dims smaller than the window are padded (⌊d/2⌋ before, the rest after);
 *   scan interval `int(roi·(1−overlap))` (the full roi where it equals the image), windows start
 *   at multiples of the interval and the last one is shifted back inside the image.
 * - `importanceMap`: separable Gaussian on centred coordinates `−(r−1)/2 … (r−1)/2`,
 *   σ = sigmaScale·roi, floored at max(min, 1e-3) (MONAI 1.x, no max-normalisation).
 * - `WindowAccumulator`: Σ(pred·w) / Σw, then the padding is cropped away.
 * - `slidingWindowInference`: composes them over any batched `predict` function.
 *
 * All arrays are flat, `[C, Z, Y, X]` with X fastest (the `Volume` memory order); shapes and
 * window sizes are given `[Z, Y, X]`.
 */
import { MewmError } from '../../core/errors';

export type Zyx = readonly [number, number, number];

export interface WindowPlan {
  readonly imageShape: Zyx;
  /** Image shape after padding up to the window where needed. */
  readonly paddedShape: Zyx;
  readonly padBefore: Zyx;
  readonly roi: Zyx;
  /** Window start corners in the padded image, `[z, y, x]`, z slowest. */
  readonly starts: readonly Zyx[];
}

function checkZyx(name: string, v: Zyx): void {
  if (v.length !== 3 || !v.every((n) => Number.isInteger(n) && n > 0)) {
    throw new MewmError('InvalidInput', `${name} must be three positive integers [Z, Y, X], got [${v.join(', ')}]`);
  }
}

export function planWindows(imageShape: Zyx, roi: Zyx, overlap: number): WindowPlan {
  checkZyx('image shape', imageShape);
  checkZyx('window size', roi);
  if (!(overlap >= 0 && overlap < 1)) throw new MewmError('InvalidInput', `overlap must be in [0, 1), got ${overlap}`);
  const padBefore = imageShape.map((n, i) => Math.floor(Math.max(roi[i]! - n, 0) / 2)) as unknown as Zyx;
  const paddedShape = imageShape.map((n, i) => Math.max(n, roi[i]!)) as unknown as Zyx;
  const perAxis = paddedShape.map((size, i) => {
    const r = roi[i]!;
    const interval = r === size ? r : Math.max(Math.trunc(r * (1 - overlap)), 1);
    const num = Math.ceil(size / interval);
    let count = 1;
    for (let d = 0; d < num; d++) {
      if (d * interval + r >= size) {
        count = d + 1;
        break;
      }
    }
    return Array.from({ length: count }, (_, d) => {
      const start = d * interval;
      return start - Math.max(start + r - size, 0);
    });
  });
  const starts: Zyx[] = [];
  for (const z of perAxis[0]!) for (const y of perAxis[1]!) for (const x of perAxis[2]!) starts.push([z, y, x]);
  return { imageShape, paddedShape, padBefore, roi, starts };
}

/** Gaussian blending weights for one window, flat `[Z, Y, X]`. */
export function importanceMap(roi: Zyx, sigmaScale = 0.125): Float32Array {
  checkZyx('window size', roi);
  const axes = roi.map((r) => {
    const sigma = r * sigmaScale;
    return Float64Array.from({ length: r }, (_, k) => {
      const c = k - (r - 1) / 2;
      return Math.exp((c * c) / (-2 * sigma * sigma));
    });
  });
  const [rz, ry, rx] = roi;
  const map = new Float32Array(rz * ry * rx);
  let min = Infinity;
  for (let z = 0; z < rz; z++)
    for (let y = 0; y < ry; y++)
      for (let x = 0; x < rx; x++) {
        const v = Math.fround(axes[0]![z]! * axes[1]![y]! * axes[2]![x]!);
        map[(z * ry + y) * rx + x] = v;
        if (v < min) min = v;
      }
  const floor = Math.max(min, 1e-3);
  for (let i = 0; i < map.length; i++) if (map[i]! < floor) map[i] = floor;
  return map;
}

/** Copies one window `[C, rz, ry, rx]` out of a padded image `[C, Z, Y, X]` (into `out` at `offset` when given). */
export function extractWindow(image: Float32Array, channels: number, shape: Zyx, start: Zyx, roi: Zyx, out = new Float32Array(channels * roi[0] * roi[1] * roi[2]), offset = 0): Float32Array {
  const [, ny, nx] = shape;
  const [rz, ry, rx] = roi;
  for (let c = 0; c < channels; c++)
    for (let z = 0; z < rz; z++)
      for (let y = 0; y < ry; y++) {
        const src = ((c * shape[0] + start[0] + z) * ny + start[1] + y) * nx + start[2];
        out.set(image.subarray(src, src + rx), offset + ((c * rz + z) * ry + y) * rx);
      }
  return out;
}

/** Pads `[C, Z, Y, X]` to the plan's padded shape with a constant. */
export function padImage(image: Float32Array, channels: number, plan: WindowPlan, value: number): Float32Array {
  const [iz, iy, ix] = plan.imageShape;
  const [pz, py, px] = plan.paddedShape;
  if (pz === iz && py === iy && px === ix) return image;
  const out = new Float32Array(channels * pz * py * px).fill(value);
  for (let c = 0; c < channels; c++)
    for (let z = 0; z < iz; z++)
      for (let y = 0; y < iy; y++) {
        const src = ((c * iz + z) * iy + y) * ix;
        const dst = ((c * pz + z + plan.padBefore[0]) * py + y + plan.padBefore[1]) * px + plan.padBefore[2];
        out.set(image.subarray(src, src + ix), dst);
      }
  return out;
}

/** Weighted sum of window predictions on the padded grid; `finalize` divides and crops. */
export class WindowAccumulator {
  private readonly sum: Float32Array;
  private readonly weight: Float32Array;

  constructor(
    readonly plan: WindowPlan,
    readonly channels: number,
    private readonly importance: Float32Array,
  ) {
    const [pz, py, px] = plan.paddedShape;
    this.sum = new Float32Array(channels * pz * py * px);
    this.weight = new Float32Array(pz * py * px);
  }

  add(start: Zyx, prediction: Float32Array): void {
    const [rz, ry, rx] = this.plan.roi;
    const [pz, py, px] = this.plan.paddedShape;
    const voxels = rz * ry * rx;
    const channels = this.channels;
    if (prediction.length !== channels * voxels) {
      throw new MewmError('ModelContract', `window prediction has ${prediction.length} values, expected ${channels}×${rz}×${ry}×${rx}`);
    }
    const { sum, weight, importance } = this;
    const plane = pz * py * px;
    // Row by row; per voxel the same float32 accumulation as Σ(pred·w), window by window.
    for (let z = 0; z < rz; z++)
      for (let y = 0; y < ry; y++) {
        const src = (z * ry + y) * rx;
        const dst = ((start[0] + z) * py + start[1] + y) * px + start[2];
        for (let x = 0; x < rx; x++) weight[dst + x] = weight[dst + x]! + importance[src + x]!;
        for (let c = 0; c < channels; c++) {
          const o = c * plane + dst;
          const p = c * voxels + src;
          for (let x = 0; x < rx; x++) sum[o + x] = sum[o + x]! + prediction[p + x]! * importance[src + x]!;
        }
      }
  }

  /** `[C, Z, Y, X]` on the original (unpadded) image grid. */
  finalize(): Float32Array {
    const [iz, iy, ix] = this.plan.imageShape;
    const [pz, py, px] = this.plan.paddedShape;
    const [bz, by, bx] = this.plan.padBefore;
    const { sum, weight } = this;
    const out = new Float32Array(this.channels * iz * iy * ix);
    for (let c = 0; c < this.channels; c++)
      for (let z = 0; z < iz; z++)
        for (let y = 0; y < iy; y++) {
          const p = ((z + bz) * py + y + by) * px + bx;
          const s = c * pz * py * px + p;
          const o = ((c * iz + z) * iy + y) * ix;
          for (let x = 0; x < ix; x++) out[o + x] = sum[s + x]! / weight[p + x]!;
        }
    return out;
  }
}

export interface SlidingWindowOptions {
  /** `[Cin, Z, Y, X]`, flat. */
  readonly image: Float32Array;
  readonly inChannels: number;
  readonly shape: Zyx;
  readonly roi: Zyx;
  readonly overlap: number;
  readonly outChannels: number;
  readonly sigmaScale?: number;
  /** How many windows go to one `predict` call. */
  readonly batchSize: number;
  readonly padValue?: number;
  /** `[n, Cin, rz, ry, rx]` → `[n, Cout, rz, ry, rx]`, flat. The batch is a fresh buffer the runner never reads again: `predict` may take it over (transfer it to a worker thread). */
  readonly predict: (batch: Float32Array, n: number) => Promise<Float32Array>;
}

export async function slidingWindowInference(options: SlidingWindowOptions): Promise<Float32Array> {
  const { image, inChannels, shape, roi, overlap, outChannels, batchSize } = options;
  if (image.length !== inChannels * shape[0] * shape[1] * shape[2]) {
    throw new MewmError('InvalidInput', `image has ${image.length} values but [${inChannels}, ${shape.join(', ')}] needs ${inChannels * shape[0] * shape[1] * shape[2]}`);
  }
  const plan = planWindows(shape, roi, overlap);
  const padded = padImage(image, inChannels, plan, options.padValue ?? 0);
  const acc = new WindowAccumulator(plan, outChannels, importanceMap(roi, options.sigmaScale ?? 0.125));
  const windowSize = inChannels * roi[0] * roi[1] * roi[2];
  const outSize = outChannels * roi[0] * roi[1] * roi[2];
  for (let first = 0; first < plan.starts.length; first += Math.max(1, batchSize)) {
    const group = plan.starts.slice(first, first + Math.max(1, batchSize));
    const batch = new Float32Array(group.length * windowSize);
    group.forEach((start, i) => extractWindow(padded, inChannels, plan.paddedShape, start, roi, batch, i * windowSize));
    const predictions = await options.predict(batch, group.length);
    if (predictions.length !== group.length * outSize) {
      throw new MewmError('ModelContract', `segmenter returned ${predictions.length} values for ${group.length} windows of ${outSize}`);
    }
    group.forEach((start, i) => acc.add(start, predictions.subarray(i * outSize, (i + 1) * outSize)));
  }
  return acc.finalize();
}
