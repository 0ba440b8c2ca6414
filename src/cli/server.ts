/**
 * `mewm server`: the embedded Temporal dev server in the foreground (SQLite under the data dir,
 * mewm's search attributes registered), until Ctrl-C.
 *
 *   mewm server [--port N] [--ui-port N] [--config FILE]
 *
 * Also home of `openTemporal`, which every client command uses: connect to TEMPORAL_ADDRESS, or
 * (none configured) to the embedded server of the data dir — adopted only when it is the one mewm
 * started there, started when nothing listens on its port, refused otherwise
 * (workers/embedded-server.ts) — and optionally run the all-in-one workers in this process.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/load';
import type { MewmConfig } from '../config/config';
import { MewmError } from '../core/errors';
import { openEmbeddedServer, startEmbeddedServer, type EmbeddedServer } from '../../workers/embedded-server';
import { createLogger, type Logger } from '../../workers/logging';
import { dataConverterOption } from '../../workers/payload-codec';
import { startInProcessWorkers } from '../../workers/run';
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
  let embedded: EmbeddedServer | undefined;
  let connection: Connection;
  let address: string;
  if (config.temporal.address !== null) {
    address = config.temporal.address;
    const answered = await answers(address);
    if (answered === undefined) {
      throw new MewmError(
        'TemporalUnavailable',
        `no Temporal server answers at ${address} (TEMPORAL_ADDRESS): start one, or unset TEMPORAL_ADDRESS to use the embedded server`,
        { address },
      );
    }
    connection = answered;
  } else {
    // Only the server mewm started for this data dir is adopted (workers/embedded-server.ts).
    embedded = await openEmbeddedServer({
      dataDir: config.dataDir,
      port: config.temporal.port,
      uiPort: config.temporal.uiPort,
      cliPath: config.temporal.cliPath,
      namespace: config.temporal.namespace,
      log,
    });
    address = embedded.address;
    try {
      connection = await Connection.connect({ address });
    } catch (error) {
      await embedded.release();
      throw new MewmError('TemporalUnavailable', `cannot connect to the embedded Temporal server at ${address}`, { address }, { cause: error });
    }
  }
  const client = new Client({ connection, namespace: config.temporal.namespace, ...dataConverterOption(config.temporal.payloadKey) });

  const workers =
    options.workers && options.workers.length > 0
      ? await startInProcessWorkers({ config, address, roles: options.workers, log: log.child({ component: 'worker' }) })
      : undefined;
  return {
    client,
    address,
    startedServer: embedded?.started === true,
    async close() {
      await workers?.stop().catch((error: unknown) => log.warn({ err: error }, 'worker stopped with an error'));
      await connection.close();
      // Stops the server when no other command uses it.
      await embedded?.release();
    },
  };
}

export { startInProcessWorkers, type InProcessWorkers } from '../../workers/run';

export async function runServer(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
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
    const server = await startEmbeddedServer({
      dataDir: config.dataDir,
      port: config.temporal.port,
      uiPort: config.temporal.uiPort,
      cliPath: config.temporal.cliPath,
      namespace: config.temporal.namespace,
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
