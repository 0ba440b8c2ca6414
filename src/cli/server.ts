/**
 * `mewm server`: the embedded Temporal dev server in the foreground (SQLite under the data dir,
 * mewm's search attributes registered), until Ctrl-C.
 *
 *   mewm server [--port N] [--ui-port N] [--config FILE]
 *
 * Also home of `openTemporal`, which every client command uses: connect to TEMPORAL_ADDRESS, or
 * (none configured) to the embedded server, starting it when nothing answers on its port, and
 * optionally running the all-in-one workers in this process.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/load';
import type { MewmConfig } from '../config/config';
import { MewmError } from '../core/errors';
import { startDevServer, type DevServer } from '../../workers/dev-server';
import { createLogger, type Logger } from '../../workers/logging';
import { dataConverterOption } from '../../workers/payload-codec';
import { runWorkerProcess, type WorkerProcessOptions } from '../../workers/run';
import type { QueueRole } from '../../workflows/task-queues';
import { commandFailed, usageError } from './command-support';

const USAGE = 'usage: mewm server [--port N] [--ui-port N] [--config FILE]';

export function embeddedDbFile(config: MewmConfig): string {
  return join(config.dataDir, 'temporal', 'temporal.sqlite');
}

export interface TemporalSession {
  readonly client: Client;
  readonly address: string;
  /** True when this process started the dev server. */
  readonly startedServer: boolean;
  /** Stops workers started here, closes the connection, stops a server started here. */
  close(): Promise<void>;
}

async function answers(address: string): Promise<Connection | undefined> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1500 });
    await connection.workflowService.getSystemInfo({});
    return connection;
  } catch {
    return undefined;
  }
}

export async function openTemporal(config: MewmConfig, log: Logger, options: { workers?: readonly QueueRole[] } = {}): Promise<TemporalSession> {
  let server: DevServer | undefined;
  let address = config.temporal.address ?? `127.0.0.1:${config.temporal.port}`;
  let connection = await answers(address);
  if (connection === undefined) {
    if (config.temporal.address !== null) {
      throw new MewmError('TemporalUnavailable', `no Temporal server answers at ${address} (TEMPORAL_ADDRESS): start one, or unset TEMPORAL_ADDRESS to use the embedded server`, { address });
    }
    log.info({ db: embeddedDbFile(config), port: config.temporal.port }, 'starting the embedded Temporal dev server');
    server = await startDevServer({
      dbFile: embeddedDbFile(config),
      port: config.temporal.port,
      uiPort: config.temporal.uiPort,
      cliPath: config.temporal.cliPath,
      namespace: config.temporal.namespace,
      logFile: join(config.dataDir, 'temporal', 'server.log'),
    });
    address = server.address;
    connection = await Connection.connect({ address });
  }
  const client = new Client({ connection, namespace: config.temporal.namespace, ...dataConverterOption(config.temporal.payloadKey) });

  const workers = options.workers && options.workers.length > 0 ? await startInProcessWorkers({ config, address, roles: options.workers, log: log.child({ component: 'worker' }) }) : undefined;
  return {
    client,
    address,
    startedServer: server !== undefined,
    async close() {
      await workers?.stop().catch((error: unknown) => log.warn({ err: error }, 'worker stopped with an error'));
      await connection.close();
      await server?.stop();
    },
  };
}

export interface InProcessWorkers {
  /** Settles when the workers stop; rejects when one of them fails. */
  readonly done: Promise<void>;
  /** Shuts the workers down gracefully and waits for them. */
  stop(): Promise<void>;
}

/** Workers in this process, polling once this resolves (what `openTemporal` runs; `mewm evaluate` runs one set per method). */
export async function startInProcessWorkers(options: Omit<WorkerProcessOptions, 'signal' | 'onReady'>): Promise<InProcessWorkers> {
  const abort = new AbortController();
  let ready!: () => void;
  const readyPromise = new Promise<void>((r) => (ready = r));
  const done = runWorkerProcess({ ...options, signal: abort.signal, onReady: ready });
  await Promise.race([readyPromise, done]);
  return {
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

export async function runServer(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    return usageError(USAGE, error);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const config = loadConfig({
      ...(values.config ? { configPath: values.config } : {}),
      overrides: {
        temporal: {
          ...(values.port ? { port: Number(values.port) } : {}),
          ...(values['ui-port'] ? { uiPort: Number(values['ui-port']) } : {}),
        },
      },
    });
    const log = createLogger(config.log);
    const server = await startDevServer({
      dbFile: embeddedDbFile(config),
      port: config.temporal.port,
      uiPort: config.temporal.uiPort,
      cliPath: config.temporal.cliPath,
      namespace: config.temporal.namespace,
      logFile: join(config.dataDir, 'temporal', 'server.log'),
    });
    process.stdout.write(
      `Temporal dev server on ${server.address} (namespace ${server.namespace}, state in ${embeddedDbFile(config)})` +
        `${config.temporal.uiPort ? `, web UI on http://127.0.0.1:${config.temporal.uiPort}` : ''}\n` +
        `Workers: TEMPORAL_ADDRESS=${server.address} mewm worker --queue all. Ctrl-C stops the server.\n`,
    );
    log.info({ address: server.address }, 'server running');
    const stop = () => void server.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const code = await server.exited;
    return code === 0 || code === null ? 0 : 1;
  } catch (error) {
    return commandFailed(error);
  }
}
