/**
 * Worker wiring. One Temporal Worker per task queue role; the all-in-one process runs all three
 * (same queues as a split deployment, so a plan behaves the same on one machine and on a cluster).
 * Workflow tasks run on the CPU queue's worker.
 *
 * Concurrency: `gpuSlots` activity slots on the GPU queue (one GPU: 1), `llmSlots` concurrent
 * LLM calls, `cpuSlots` ingest/audit/preview slots. `maxCachedWorkflows` bounds worker memory;
 * `shutdownGraceS` (MEWM_SHUTDOWN_GRACE_S) is how long in-flight activities may finish on shutdown.
 */
import { createRequire } from 'node:module';
import { type NativeConnection, Worker, bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import type { MewmConfig } from '../src/config/config';
import { TASK_QUEUES, type QueueRole } from '../workflows/task-queues';
import { activitiesFor } from './activities';
import type { WorkerDependencies } from './dependencies';
import { gpuQueueOf, llmQueueOf, type ServedRequirements } from './serving';
import type { DataConverter } from '@temporalio/common';

export const workflowsPath = createRequire(import.meta.url).resolve('../workflows/index.ts');

export type WorkflowSource = { readonly code: string } | { readonly codePath: string };

/** Bundles the workflow code once (0.5–1.5 s); pass the result to every CPU worker of the process. */
export async function bundleWorkflows(): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return { code };
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string) => process.stderr.write(`workflow bundler: ${message}\n`),
  error: (message: string) => process.stderr.write(`workflow bundler: ${message}\n`),
};

export interface CreateWorkersOptions {
  readonly roles: readonly QueueRole[];
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly deps: WorkerDependencies;
  readonly workers: MewmConfig['workers'];
  /** Required when `roles` includes 'cpu' (the workflow host). */
  readonly workflowBundle?: WorkflowSource;
  /** Identity shown in Temporal (defaults to pid@host). */
  readonly identity?: string;
  /** Payload encryption (workers/payload-codec.ts); absent: plain payloads. */
  readonly dataConverter?: DataConverter;
}

/** The limits a worker of `role` runs with, from the `workers` config block (only the CPU worker hosts workflows). */
export function workerLimits(
  role: QueueRole,
  workers: MewmConfig['workers'],
): Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxCachedWorkflows' | 'shutdownGraceTime'> {
  const slots: Record<QueueRole, number> = { gpu: workers.gpuSlots, llm: workers.llmSlots, cpu: workers.cpuSlots };
  return {
    maxConcurrentActivityTaskExecutions: slots[role],
    maxCachedWorkflows: role === 'cpu' ? workers.maxCachedWorkflows : 0,
    // In-flight activities get this long to finish (and heartbeat their progress) before the worker stops.
    shutdownGraceTime: workers.shutdownGraceS * 1000,
  };
}

/**
 * The queue a worker of `role` polls: the GPU and LLM queues are named after what the worker
 * serves (workers/serving.ts), so a plan reaches only workers with exactly its policy and models.
 */
export function taskQueueOf(role: QueueRole, serves: ServedRequirements): string {
  switch (role) {
    case 'cpu':
      return TASK_QUEUES.cpu;
    case 'gpu':
      if (!serves.worldModel) throw new Error('taskQueueOf: a gpu worker without a world model');
      return gpuQueueOf(serves.worldModel);
    case 'llm':
      if (!serves.policy) throw new Error('taskQueueOf: an llm worker without a policy');
      return llmQueueOf(serves.policy);
  }
}

export async function createWorkers(options: CreateWorkersOptions): Promise<Worker[]> {
  const workers: Worker[] = [];
  for (const role of options.roles) {
    const hostsWorkflows = role === 'cpu';
    if (hostsWorkflows && !options.workflowBundle) throw new Error('createWorkers: the cpu role hosts the workflows and needs workflowBundle');
    workers.push(
      await Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: taskQueueOf(role, options.deps.serves),
        activities: activitiesFor(role, options.deps),
        ...(hostsWorkflows ? { workflowBundle: options.workflowBundle } : {}),
        ...workerLimits(role, options.workers),
        ...(options.identity ? { identity: `${options.identity}/${role}` } : {}),
        ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
      }),
    );
  }
  return workers;
}

/** Runs workers until `signal` aborts (then shuts them down gracefully) or one of them fails. */
export async function runWorkers(workers: readonly Worker[], signal?: AbortSignal): Promise<void> {
  const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all(workers.map((w) => w.run()));
  } catch (error) {
    stop();
    throw error;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
