/**
 * The connection every client command uses (`openTemporal`): connect to TEMPORAL_ADDRESS, or (none
 * configured) to the embedded server of the data dir — adopted only when it is the one mewm
 * started there, started when nothing listens on its port, refused otherwise
 * (workers/embedded-server.ts) — and optionally run the all-in-one workers in this process.
 */
import { Client, Connection } from '@temporalio/client';
import type { MewmConfig } from '../config/config';
import { MewmError } from '../core/errors';
import type { Logger } from '../logging/logger';
import { openEmbeddedServer, type EmbeddedServer } from '../../workers/embedded-server';
import { dataConverterOption } from '../../workers/payload-codec';
import { startInProcessWorkers } from '../../workers/run';
import type { QueueRole } from '../../workflows/task-queues';

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
      cliSearchPath: config.temporal.cliSearchPath,
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
