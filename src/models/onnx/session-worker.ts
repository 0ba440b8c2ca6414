/**
 * Worker-thread side of the ONNX runtime: owns the long-lived InferenceSessions (one per graph)
 * so that `session.run()`, which blocks its thread for the whole inference, never stalls the
 * main event loop (heartbeats, timers). Protocol in `session-protocol.ts`.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { HostMessage, WireTensor, WorkerMessage } from './session-protocol';

if (!parentPort) throw new Error('session-worker must run in a worker thread');
const port = parentPort;
const sessions = new Map<string, ort.InferenceSession>();

function toTensor(t: WireTensor): ort.Tensor {
  switch (t.dtype) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(t.buffer), t.dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(t.buffer), t.dims);
    case 'uint8':
      return new ort.Tensor('uint8', new Uint8Array(t.buffer), t.dims);
  }
}

/**
 * onnxruntime-node returns each output in its own ArrayBuffer: transfer it as it is (no copy);
 * only a view on part of a buffer is copied.
 */
function ownBuffer(data: Float32Array | BigInt64Array | Uint8Array): ArrayBuffer {
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
  return whole ? (data.buffer as ArrayBuffer) : (data.slice().buffer as ArrayBuffer);
}

function fromTensor(t: ort.Tensor): WireTensor {
  const data = t.data;
  if (data instanceof Float32Array) return { dtype: 'float32', dims: [...t.dims], buffer: ownBuffer(data) };
  if (data instanceof BigInt64Array) return { dtype: 'int64', dims: [...t.dims], buffer: ownBuffer(data) };
  if (data instanceof Uint8Array) return { dtype: 'uint8', dims: [...t.dims], buffer: ownBuffer(data) };
  throw new Error(`unsupported output tensor type ${t.type}`);
}

async function createSession(path: string, provider: 'cpu' | 'cuda', intraOpNumThreads: number): Promise<{ session: ort.InferenceSession; provider: 'cpu' | 'cuda'; fallbackReason?: string }> {
  // Chosen deliberately (docs/performance.md, `bench/onnx-ops.ts` compares them):
  // - sequential execution, 1 inter-op thread: the graphs are chains, parallel branches are rare;
  // - full graph optimisation: fusions (SiLU → QuickGelu, MatMul+Add, …) help; the NCHWc layout
  //   pass only touches 2-D convolutions, so our 3-D graphs gain nothing more from it;
  // - CPU arena and memory pattern on: shapes repeat from call to call (same batch, same patch);
  // - no spinning: spinning pool threads would take the cores that the main thread's voxel work
  //   (resampling, argmax, components) and the other processes of a 2-core machine need.
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  if (provider === 'cuda') {
    try {
      return { session: await ort.InferenceSession.create(path, { ...base, executionProviders: ['cuda'] }), provider: 'cuda' };
    } catch (error) {
      const fallbackReason = error instanceof Error ? error.message : String(error);
      return { session: await ort.InferenceSession.create(path, { ...base, executionProviders: ['cpu'] }), provider: 'cpu', fallbackReason };
    }
  }
  return { session: await ort.InferenceSession.create(path, { ...base, executionProviders: ['cpu'] }), provider: 'cpu' };
}

async function handle(message: HostMessage): Promise<WorkerMessage> {
  switch (message.type) {
    case 'load': {
      const old = sessions.get(message.key);
      if (old) await old.release();
      const { session, provider, fallbackReason } = await createSession(message.path, message.provider, message.intraOpNumThreads);
      sessions.set(message.key, session);
      return {
        id: message.id,
        ok: true,
        type: 'loaded',
        provider,
        inputNames: [...session.inputNames],
        outputNames: [...session.outputNames],
        ...(fallbackReason ? { fallbackReason } : {}),
      };
    }
    case 'run': {
      const session = sessions.get(message.key);
      if (!session) throw new Error(`no session loaded for ${message.key}`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(message.feeds)) feeds[name] = toTensor(t);
      const results = await session.run(feeds);
      const outputs: Record<string, WireTensor> = {};
      for (const name of session.outputNames) outputs[name] = fromTensor(results[name] as ort.Tensor);
      return { id: message.id, ok: true, type: 'ran', outputs };
    }
    case 'close': {
      for (const s of sessions.values()) await s.release();
      sessions.clear();
      return { id: message.id, ok: true, type: 'closed' };
    }
  }
}

port.on('message', (message: HostMessage) => {
  handle(message).then(
    (reply) => {
      const transfer = reply.ok && reply.type === 'ran' ? Object.values(reply.outputs).map((t) => t.buffer) : [];
      port.postMessage(reply, transfer);
    },
    (error: unknown) => port.postMessage({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies WorkerMessage),
  );
});
