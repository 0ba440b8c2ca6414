/**
 * `mewm worker --queue gpu|llm|cpu|all[,…]`: workers for the given task queues, until Ctrl-C
 * (in-flight activities get a grace period; GPU activities resume elsewhere from their heartbeat).
 *
 *   mewm worker --queue gpu [--config FILE]          one GPU: MEWM_GPU_SLOTS=1 (default)
 *   mewm worker --queue llm,cpu
 *   mewm worker --queue all                          the all-in-one worker
 *
 * Connects to TEMPORAL_ADDRESS, or to the embedded server's port (`mewm server`) when unset.
 */
import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { loadConfig } from '../config/load';
import { createLogger } from '../logging/logger';
import { runWorkerProcess } from '../../workers/run';
import { QUEUE_ROLES, type QueueRole } from '../../workflows/task-queues';
import { runCommand, type Command, type Env } from './command';

const USAGE = 'usage: mewm worker --queue gpu|llm|cpu|all[,...] [--config FILE]';

export function parseQueues(text: string): QueueRole[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.includes('all')) return [...QUEUE_ROLES];
  const roles: QueueRole[] = [];
  for (const name of names) {
    if (!(QUEUE_ROLES as readonly string[]).includes(name)) throw new Error(`unknown queue "${name}": use gpu, llm, cpu or all`);
    if (!roles.includes(name as QueueRole)) roles.push(name as QueueRole);
  }
  if (roles.length === 0) throw new Error('--queue names no queue');
  return roles;
}

interface WorkerArguments {
  readonly roles: QueueRole[];
  readonly configPath?: string;
}

function parseWorkerArguments(argv: readonly string[]): WorkerArguments {
  const { values } = parseArgs({ args: [...argv], options: { queue: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (!values.queue) throw new Error('--queue is required');
  return { roles: parseQueues(values.queue), ...(values.config ? { configPath: values.config } : {}) };
}

async function worker(args: WorkerArguments, env: Env): Promise<0> {
  const config = loadConfig({ env, ...(args.configPath ? { configPath: args.configPath } : {}) });
  const log = createLogger(config.log);
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.port}`;
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await runWorkerProcess({ config, address, roles: args.roles, log, signal: abort.signal, identity: `${process.pid}@${hostname()}` });
  return 0;
}

export const workerCommand: Command<WorkerArguments> = { name: 'worker', usage: USAGE, parse: parseWorkerArguments, run: (args, { env }) => worker(args, env) };

export function runWorker(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(workerCommand, argv, env);
}
