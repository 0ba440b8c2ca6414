/**
 * A worker process: connect, build dependencies, bundle workflows if this process hosts them, run
 * until the signal aborts. Shared by `mewm worker`, `mewm plan` (embedded) and the tests' worker
 * processes.
 */
import { NativeConnection } from '@temporalio/worker';
import type { MewmConfig } from '../src/config/config';
import { MewmError } from '../src/core/errors';
import type { QueueRole } from '../workflows/task-queues';
import { bundleWorkflows, createWorkers, runWorkers, type WorkflowSource } from './create-workers';
import { createWorkerDependencies, type DependencyOverrides } from './dependencies';
import { installRuntimeLogging, type Logger } from './logging';
import { dataConverterOption } from './payload-codec';

export interface WorkerProcessOptions {
  readonly config: MewmConfig;
  /** host:port of the Temporal frontend (the configured one, or the embedded server's). */
  readonly address: string;
  readonly roles: readonly QueueRole[];
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly overrides?: DependencyOverrides;
  readonly workflowBundle?: WorkflowSource;
  readonly identity?: string;
  /** Called once every worker polls its queue. */
  readonly onReady?: () => void;
}

export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  installRuntimeLogging(options.log);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: options.address });
  } catch (error) {
    throw new MewmError('TemporalUnavailable', `cannot reach Temporal at ${options.address}: start it with \`mewm server\` or fix TEMPORAL_ADDRESS`, { address: options.address }, { cause: error });
  }
  const deps = await createWorkerDependencies(options.config, options.roles, options.log, options.overrides);
  try {
    const workflowBundle = options.roles.includes('cpu') ? (options.workflowBundle ?? (await bundleWorkflows())) : undefined;
    const workers = await createWorkers({
      roles: options.roles,
      connection,
      namespace: options.config.temporal.namespace,
      deps,
      workers: options.config.workers,
      ...(workflowBundle ? { workflowBundle } : {}),
      ...(options.identity ? { identity: options.identity } : {}),
      ...dataConverterOption(options.config.temporal.payloadKey),
    });
    options.log.info({ queues: options.roles, address: options.address }, 'workers polling');
    options.onReady?.();
    await runWorkers(workers, options.signal);
  } finally {
    await deps.close();
    await connection.close();
  }
}
