/**
 * Messages between `OnnxSessionHost` (main thread) and `session-worker.ts` (worker thread).
 * Tensor bytes travel as transferred ArrayBuffers (no copy); dims follow ONNX (`[N, C, Z, Y, X]`).
 */
export type WireDtype = 'float32' | 'int64' | 'uint8';

export interface WireTensor {
  readonly dtype: WireDtype;
  readonly dims: readonly number[];
  readonly buffer: ArrayBuffer;
}

export type HostMessage =
  | { readonly id: number; readonly type: 'load'; readonly key: string; readonly path: string; readonly provider: 'cpu' | 'cuda'; readonly intraOpNumThreads: number }
  | { readonly id: number; readonly type: 'run'; readonly key: string; readonly feeds: Readonly<Record<string, WireTensor>> }
  | { readonly id: number; readonly type: 'close' };

export type WorkerMessage =
  | {
      readonly id: number;
      readonly ok: true;
      readonly type: 'loaded';
      readonly provider: 'cpu' | 'cuda';
      readonly inputNames: readonly string[];
      readonly outputNames: readonly string[];
      readonly fallbackReason?: string;
    }
  | { readonly id: number; readonly ok: true; readonly type: 'ran'; readonly outputs: Readonly<Record<string, WireTensor>> }
  | { readonly id: number; readonly ok: true; readonly type: 'closed' }
  | { readonly id: number; readonly ok: false; readonly error: string };
