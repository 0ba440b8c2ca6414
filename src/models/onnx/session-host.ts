/**
 * Main-thread handle on worker threads that own long-lived ONNX sessions (NOTES: a
 * `session.run()` blocks its thread, and sessions leak memory when re-created, so they are
 * created once per worker and reused). Tensors are `[N, C, Z, Y, X]` Float32Arrays unless a
 * graph says otherwise.
 *
 * With `workers: N` every graph is loaded in N threads and each `run` goes to the thread with the
 * fewest runs in flight, so N concurrent runs use N cores. A run's result does not depend on the
 * thread that computed it (same graph, same kernels, one intra-op thread each).
 *
 * CPU is the default. `executionProvider: 'cuda'` tries the CUDA provider and, when it cannot
 * load (not bundled with onnxruntime-node here, or no CUDA 12 / cuDNN 9 on the host), falls back
 * to CPU with a loud warning naming the model file and the reason.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { MewmError } from '../../core/errors';
import type { GraphSpec } from '../manifest';
import type { HostMessage, WireDtype, WireTensor, WorkerMessage } from './session-protocol';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionHostOptions {
  readonly executionProvider?: ExecutionProvider;
  /** Threads ONNX Runtime may use for one op; default `defaultIntraOpThreads()`. */
  readonly intraOpNumThreads?: number;
  /** Worker threads, each with every session (default 1). */
  readonly workers?: number;
  readonly log?: Pick<pino.Logger, 'warn' | 'info'>;
}

export interface HostTensor {
  readonly dtype: WireDtype;
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array | Uint8Array;
}

export interface LoadedGraph {
  readonly key: string;
  readonly provider: ExecutionProvider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export interface RunOptions {
  /** Hand the input buffers to the worker thread instead of copying them (they are detached here). */
  readonly transfer?: boolean;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Pending = { resolve: (m: WorkerMessage) => void; reject: (e: unknown) => void };

/** One worker thread and the requests it has not answered yet. */
class SessionThread {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  /** Why the thread stopped (error or exit), once it has: requests to it then fail at once. */
  failure: string | undefined;

  constructor(onFailure: (thread: SessionThread, error: unknown) => void, isClosed: () => boolean) {
    this.worker = startTypeScriptWorker(new URL('./session-worker.ts', import.meta.url));
    this.worker.on('message', (m: WorkerMessage) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      p.resolve(m);
    });
    this.worker.on('error', (error) => onFailure(this, error));
    this.worker.on('exit', (code) => {
      if (!isClosed()) onFailure(this, new Error(`ONNX worker thread exited with code ${code}`));
    });
  }
}

export class OnnxSessionHost {
  private readonly threads: SessionThread[];
  private nextId = 1;
  private closed = false;
  private readonly log: Pick<pino.Logger, 'warn' | 'info'>;
  /** How many runs can compute at once (the worker threads). */
  readonly parallelism: number;

  constructor(private readonly options: SessionHostOptions = {}) {
    this.log = options.log ?? pino({ name: 'mewm-onnx' });
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new MewmError('InvalidConfig', `ONNX session workers must be a positive integer, got ${workers}`);
    this.parallelism = workers;
    this.threads = Array.from({ length: workers }, () => new SessionThread((thread, error) => this.failAll(thread, error), () => this.closed));
  }

  private failAll(thread: SessionThread, error: unknown): void {
    thread.failure ??= error instanceof Error ? error.message : String(error);
    for (const p of thread.pending.values()) p.reject(new MewmError('Internal', `ONNX worker failed: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error }));
    thread.pending.clear();
  }

  private request(thread: SessionThread, message: WithoutId<HostMessage>, transfer: ArrayBuffer[] = []): Promise<WorkerMessage> {
    if (this.closed) return Promise.reject(new MewmError('Internal', 'ONNX session host is closed'));
    if (thread.failure !== undefined) return Promise.reject(new MewmError('Internal', `ONNX worker failed: ${thread.failure}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** The live thread with the fewest runs in flight (the first of equals); a failed one when none is live, so the run fails saying why. */
  private leastBusy(): SessionThread {
    const live = this.threads.filter((t) => t.failure === undefined);
    let best = live[0] ?? this.threads[0]!;
    for (const t of live) if (t.pending.size < best.pending.size) best = t;
    return best;
  }

  /** Creates the session for `path` under `key`; checks its I/O names against the manifest spec. */
  async load(key: string, path: string, spec?: GraphSpec): Promise<LoadedGraph> {
    const provider = this.options.executionProvider ?? 'cpu';
    const replies = await Promise.all(
      this.threads.map((thread) => this.request(thread, { type: 'load', key, path, provider, intraOpNumThreads: this.options.intraOpNumThreads ?? defaultIntraOpThreads() })),
    );
    const reply = replies.find((r) => !r.ok) ?? replies[0]!;
    if (!reply.ok) throw new MewmError('ModelContract', `cannot load model file ${path}: ${reply.error}`, { file: path });
    if (reply.type !== 'loaded') throw new MewmError('Internal', `unexpected worker reply ${reply.type}`);
    if (reply.fallbackReason !== undefined) {
      this.log.warn({ file: path, requested: 'cuda', using: 'cpu', reason: reply.fallbackReason }, 'CUDA execution provider unavailable: FALLING BACK TO CPU (much slower)');
    }
    if (spec) {
      const expectIn = spec.inputs.map((t) => t.name).sort();
      const expectOut = spec.outputs.map((t) => t.name).sort();
      const gotIn = [...reply.inputNames].sort();
      const gotOut = [...reply.outputNames].sort();
      if (expectIn.join() !== gotIn.join() || expectOut.join() !== gotOut.join()) {
        throw new MewmError('ModelContract', `model file ${path} has inputs [${gotIn}] and outputs [${gotOut}], its manifest says [${expectIn}] and [${expectOut}]`, { file: path });
      }
    }
    return { key, provider: reply.provider, inputNames: reply.inputNames, outputNames: reply.outputNames };
  }

  /**
   * Runs a loaded graph. Input arrays are copied (callers keep theirs) unless `transfer` is set:
   * then an array that spans its whole ArrayBuffer is handed to the worker thread without a copy
   * and is detached (empty) here afterwards; a view on part of a buffer is still copied.
   */
  async run(key: string, feeds: Readonly<Record<string, HostTensor>>, options: RunOptions = {}): Promise<Record<string, HostTensor>> {
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      const expected = t.dims.reduce((a, b) => a * b, 1);
      if (t.data.length !== expected) throw new MewmError('ModelContract', `input ${key}.${name} has ${t.data.length} values for dims [${t.dims.join(', ')}]`);
      const whole = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && t.data.buffer instanceof ArrayBuffer && !transfer.includes(t.data.buffer);
      const buffer = options.transfer && whole ? (t.data.buffer as ArrayBuffer) : (t.data.slice().buffer as ArrayBuffer);
      wire[name] = { dtype: t.dtype, dims: t.dims, buffer };
      transfer.push(buffer);
    }
    const reply = await this.request(this.leastBusy(), { type: 'run', key, feeds: wire }, transfer);
    if (!reply.ok) throw new MewmError('ModelContract', `inference with ${key} failed: ${reply.error}`, { graph: key });
    if (reply.type !== 'ran') throw new MewmError('Internal', `unexpected worker reply ${reply.type}`);
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(reply.outputs)) {
      const data = t.dtype === 'float32' ? new Float32Array(t.buffer) : t.dtype === 'int64' ? new BigInt64Array(t.buffer) : new Uint8Array(t.buffer);
      out[name] = { dtype: t.dtype, dims: t.dims, data };
    }
    return out;
  }

  /** Float32 convenience: one named output of a graph. */
  async runFloat(key: string, feeds: Readonly<Record<string, HostTensor>>, output: string, options: RunOptions = {}): Promise<{ data: Float32Array; dims: readonly number[] }> {
    const out = await this.run(key, feeds, options);
    const t = out[output];
    if (!t || !(t.data instanceof Float32Array)) throw new MewmError('ModelContract', `graph ${key} has no float32 output ${output}`, { graph: key });
    return { data: t.data, dims: t.dims };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await Promise.all(this.threads.filter((thread) => thread.failure === undefined).map((thread) => this.request(thread, { type: 'close' })));
    } finally {
      this.closed = true;
      await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
    }
  }
}

/**
 * A worker thread running a TypeScript module. Node 20 does not pass `--import tsx` on to worker
 * threads, so the worker registers tsx's loader itself (in its own thread) before importing.
 */
function startTypeScriptWorker(moduleUrl: URL): Worker {
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs');
  const source = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(source, { eval: true });
}

/**
 * Intra-op threads when none are configured: 1. With more, onnxruntime's CPU kernels split a
 * call's work by its shape, so a replica's values depend on the batch it was computed in
 * (checked: the same seed sampled in a batch of 4 and in a batch of 1 differs in the last bits
 * with 2 threads, is identical with 1). That would break same-seed reproducibility and the
 * bit-identical resume of a heartbeated activity, whose batches differ from the first attempt's.
 * `MEWM_INTRA_OP_THREADS=2` trades that guarantee for speed on an otherwise idle machine
 * (docs/performance.md).
 */
export function defaultIntraOpThreads(): number {
  return 1;
}

export function float32(dims: readonly number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', dims, data };
}
