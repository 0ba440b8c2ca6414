/**
 * `mewm server`: the embedded Temporal dev server in the foreground (SQLite under the data dir,
 * mewm's search attributes registered), until Ctrl-C.
 *
 *   mewm server [--port N] [--ui-port N] [--config FILE]
 *
 * Client commands connect to it through `openTemporal` (src/app/temporal.ts).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load';
import { createLogger } from '../logging/logger';
import { embeddedServerPaths, startEmbeddedServer } from '../../workers/embedded-server';
import { EXIT, runCommand, type Command, type Env, type ExitCode } from './command';

const USAGE = 'usage: mewm server [--port N] [--ui-port N] [--config FILE]';

interface ServerArguments {
  readonly port?: string;
  readonly uiPort?: string;
  readonly configPath?: string;
}

function parseServerArguments(argv: readonly string[]): ServerArguments {
  const { values } = parseArgs({
    args: [...argv],
    options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  return {
    ...(values.port ? { port: values.port } : {}),
    ...(values['ui-port'] ? { uiPort: values['ui-port'] } : {}),
    ...(values.config ? { configPath: values.config } : {}),
  };
}

async function server(args: ServerArguments, env: Env): Promise<ExitCode> {
  // The numbers are checked by the configuration (a bad port is a ConfigInvalid, exit 2).
  const config = loadConfig({
    env,
    ...(args.configPath ? { configPath: args.configPath } : {}),
    overrides: {
      temporal: {
        ...(args.port ? { port: Number(args.port) } : {}),
        ...(args.uiPort ? { uiPort: Number(args.uiPort) } : {}),
      },
    },
  });
  const log = createLogger(config.log);
  const server = await startEmbeddedServer({
    dataDir: config.dataDir,
    port: config.temporal.port,
    uiPort: config.temporal.uiPort,
    cliPath: config.temporal.cliPath,
    cliSearchPath: config.temporal.cliSearchPath,
    namespace: config.temporal.namespace,
  });
  process.stdout.write(
    `Temporal dev server on ${server.address} (namespace ${server.namespace}, state in ${embeddedServerPaths(config.dataDir).dbFile})` +
      `${config.temporal.uiPort ? `, web UI on http://127.0.0.1:${config.temporal.uiPort}` : ''}\n` +
      `Workers: TEMPORAL_ADDRESS=${server.address} mewm worker --queue all. Ctrl-C stops the server.\n`,
  );
  log.info({ address: server.address }, 'server running');
  const stop = () => void server.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await server.exited;
  return code === 0 || code === null ? EXIT.ok : EXIT.failed;
}

export const serverCommand: Command<ServerArguments> = { name: 'server', usage: USAGE, parse: parseServerArguments, run: (args, { env }) => server(args, env) };

export function runServer(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(serverCommand, argv, env);
}
