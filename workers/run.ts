/**
 * A worker process: connect, build dependencies, bundle workflows if this process hosts them, run
 * until the signal aborts. Shared by `mewm worker`, `mewm plan` (embedded) and the tests' worker
 * processes.
 */
import { NativeConnection } from '@temporalio/worker';
import type { MewmConfig } from '../src/config/config';
import { MewmError } from '../src/core/errors';
import type { QueueRole } from '../workflows/task-queues';
import type { PlanRequirements } from '../src/core/serving';
import { bundleWorkflows, createWorkers, runWorkers, taskQueueOf, type WorkflowSource } from './create-workers';
import { createWorkerDependencies, type DependencyOverrides } from './dependencies';
import type { Logger } from '../src/logging/logger';
import { installRuntimeLogging } from './logging';
import { dataConverterOption } from './payload-codec';
import { planRequirements, policyRequirementOf, worldModelRequirementFromConfig, type ServedRequirements } from './serving';

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
  /** Called once every worker polls its queue, with what this process's GPU and LLM workers serve. */
  readonly onReady?: (serves: ServedRequirements) => void;
}

export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  installRuntimeLogging(options.log);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: options.address });
  } catch (error) {
    throw new MewmError(
      'TemporalUnavailable',
      `cannot reach Temporal at ${options.address}: start it with \`mewm server\` or fix TEMPORAL_ADDRESS`,
      { address: options.address },
      { cause: error },
    );
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
    const queues = options.roles.map((role) => taskQueueOf(role, deps.serves));
    options.log.info({ queues, address: options.address }, 'workers polling');
    options.onReady?.(deps.serves);
    await runWorkers(workers, options.signal);
  } finally {
    await deps.close();
    await connection.close();
  }
}

export interface InProcessWorkers {
  /** Settles when the workers stop; rejects when one of them fails. */
  readonly done: Promise<void>;
  /**
   * What a plan for these workers asks for: their policy and world model (for a role this process
   * does not run, what the configuration and environment name, as a separate worker computes it).
   */
  requirements(): Promise<PlanRequirements>;
  /** Shuts the workers down gracefully and waits for them. */
  stop(): Promise<void>;
}

/** Workers in this process, polling once this resolves (what `openTemporal` runs; `mewm evaluate` runs one set per method). */
export async function startInProcessWorkers(options: Omit<WorkerProcessOptions, 'signal' | 'onReady'>): Promise<InProcessWorkers> {
  const abort = new AbortController();
  let served: ServedRequirements = {};
  let ready!: () => void;
  const readyPromise = new Promise<void>((r) => (ready = r));
  const done = runWorkerProcess({
    ...options,
    signal: abort.signal,
    onReady: (serves) => {
      served = serves;
      ready();
    },
  });
  await Promise.race([readyPromise, done]);
  return {
    done,
    async requirements() {
      const policy = served.policy ?? policyRequirementOf(options.config.policy);
      return planRequirements(policy, served.worldModel ?? (await worldModelRequirementFromConfig(options.config.worldModel)));
    },
    async stop() {
      abort.abort();
      await done;
    },
  };
}
