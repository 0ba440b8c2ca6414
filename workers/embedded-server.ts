/**
 * The embedded Temporal server of a data dir, as commands share it: adopt the one mewm started for
 * this data dir, or start it; never adopt anything else.
 *
 *   <dataDir>/temporal/temporal.sqlite          the server's state
 *   <dataDir>/temporal/server.json              who it is: address, namespace id, pid (written once it answers)
 *   <dataDir>/temporal/temporal.sqlite.leases/  one lease per command using it (workers/leases.ts)
 *   <dataDir>/temporal/start.lock               held while one command starts it (the others wait)
 *
 * Adopting checks, in order: something listens on the port; server.json names that address; the
 * recorded server process runs; it answers as a Temporal frontend; and its namespace has the id
 * recorded when it was started (a UUID the server made for this SQLite file). Any failure is
 * `TemporalForeign` (nothing adopted, nothing started). The server dies with the last command
 * holding a lease, even one killed by kill -9 (workers/dev-server-watchdog.ts).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { MewmError } from '../src/core/errors';
import { startDevServer, type DevServer } from './dev-server';
import { leaseHolderAlive, processStartTicks, takeLease } from './leases';
import type { Logger } from '../src/logging/logger';

export interface EmbeddedServerOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly namespace: string;
  readonly uiPort?: number;
  readonly cliPath?: string | null;
  /** Where else `temporal` is looked for (config temporal.cliSearchPath, workers/dev-server.ts findTemporalCli). */
  readonly cliSearchPath?: string | null;
  readonly log?: Logger;
  /** How long to wait for another command that is starting the server. */
  readonly waitMs?: number;
}

/** What server.json records. */
export interface EmbeddedServerIdentity {
  readonly schema: 'mewm.dev-server/1';
  readonly address: string;
  readonly namespace: string;
  /** The namespace's id (namespaceInfo.id), made by the server for its SQLite file. */
  readonly namespaceId: string;
  readonly pid: number;
  readonly pidStart: string | null;
  readonly leaseDir: string;
}

export interface EmbeddedServer {
  readonly address: string;
  /** True when this process started it. */
  readonly started: boolean;
  /** Drops this process's lease (the server stops when no command holds one). */
  release(): Promise<void>;
}

export function embeddedServerPaths(dataDir: string) {
  const dir = join(dataDir, 'temporal');
  return { dir, dbFile: join(dir, 'temporal.sqlite'), identity: join(dir, 'server.json'), lock: join(dir, 'start.lock'), log: join(dir, 'server.log') };
}

/** Whether anything accepts TCP connections on host:port. */
export function somethingListens(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolveProbe(answer);
    };
    socket.setTimeout(timeoutMs, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function namespaceId(address: string, namespace: string, timeoutMs: number): Promise<string | null> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    const deadline = new Date(Date.now() + timeoutMs);
    await connection.withDeadline(deadline, () => connection!.workflowService.getSystemInfo({}));
    const described = await connection.withDeadline(deadline, () => connection!.workflowService.describeNamespace({ namespace }));
    return described.namespaceInfo?.id ?? null;
  } catch {
    return null;
  } finally {
    await connection?.close().catch(() => {});
  }
}

function readIdentity(file: string): EmbeddedServerIdentity | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as EmbeddedServerIdentity;
    return parsed.schema === 'mewm.dev-server/1' ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * Why what answers at `address` is not the server recorded in `identity`, or null when it is.
 * `silent`: the recorded server is alive but did not answer in time (busy or still starting), which
 * is worth asking again; every other reason is final.
 */
export async function foreignReason(
  identity: EmbeddedServerIdentity | null,
  address: string,
  namespace: string,
): Promise<{ readonly reason: string; readonly silent: boolean } | null> {
  const final = (reason: string) => ({ reason, silent: false });
  if (identity === null) return final('mewm has no record of starting a server for this data dir');
  if (identity.address !== address) return final(`the server mewm started for this data dir listened on ${identity.address}`);
  if (!leaseHolderAlive(identity.pid, identity.pidStart)) return final('the server mewm started for this data dir is no longer running');
  const id = await namespaceId(address, namespace, 3000);
  if (id === null) return { reason: `it does not answer as a Temporal server with the namespace ${namespace}`, silent: true };
  if (id !== identity.namespaceId) return final(`its namespace ${namespace} is not the one mewm created (another Temporal server)`);
  return null;
}

function foreign(address: string, reason: string): MewmError {
  return new MewmError(
    'TemporalForeign',
    `something other than the Temporal server mewm started for this data dir answers on ${address} (${reason}); mewm will not use it: set MEWM_TEMPORAL_PORT to a free port, or TEMPORAL_ADDRESS=${address} to use that server on purpose`,
    { address },
  );
}

/** Whether a live process (other than this one) holds the start lock. */
function lockHeldByOther(file: string): boolean {
  let holder: string[];
  try {
    holder = readFileSync(file, 'utf8').trim().split(' ');
  } catch {
    return false;
  }
  const pid = Number(holder[0]);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && leaseHolderAlive(pid, holder[1] ?? null);
}

/** Takes the start lock, or returns false while a live command holds it (a dead holder's lock is removed). */
function tryLock(file: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o600);
    writeSync(fd, `${process.pid} ${processStartTicks(process.pid) ?? ''}`);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (!lockHeldByOther(file)) rmSync(file, { force: true });
  return false;
}

/** Starts the embedded server of a data dir and records who it is (also `mewm server`). */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<DevServer> {
  const paths = embeddedServerPaths(options.dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const server = await startDevServer({
    dbFile: paths.dbFile,
    port: options.port,
    namespace: options.namespace,
    ...(options.uiPort !== undefined ? { uiPort: options.uiPort } : {}),
    ...(options.cliPath !== undefined ? { cliPath: options.cliPath } : {}),
    ...(options.cliSearchPath !== undefined ? { cliSearchPath: options.cliSearchPath } : {}),
    logFile: paths.log,
  });
  const id = await namespaceId(server.address, options.namespace, 10_000);
  if (id === null) {
    await server.stop();
    throw new MewmError(
      'TemporalUnavailable',
      `the Temporal dev server on ${server.address} started but does not describe its namespace ${options.namespace}`,
      { address: server.address },
    );
  }
  const identity: EmbeddedServerIdentity = {
    schema: 'mewm.dev-server/1',
    address: server.address,
    namespace: options.namespace,
    namespaceId: id,
    pid: server.pid,
    pidStart: processStartTicks(server.pid),
    leaseDir: server.leaseDir,
  };
  writeFileSync(paths.identity, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
  return server;
}

/**
 * The embedded server for a command: adopted when it is the one mewm started for this data dir
 * (a lease is taken on it), started when nothing listens on the port, refused (`TemporalForeign`)
 * otherwise. Commands starting at once: one starts it, the others wait and adopt.
 */
export async function openEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const paths = embeddedServerPaths(options.dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const host = '127.0.0.1';
  const address = `${host}:${options.port}`;
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  for (;;) {
    // A command starting the server: its record is written once the server answers; wait for it.
    if (lockHeldByOther(paths.lock)) {
      if (Date.now() > deadline)
        throw new MewmError('TemporalUnavailable', `another mewm command has been starting the embedded Temporal server on ${address} for too long`, {
          address,
        });
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    if (await somethingListens(host, options.port)) {
      const identity = readIdentity(paths.identity);
      // Leased before it is checked, so that a starter finishing now does not stop it under us.
      const lease = identity ? takeLease(identity.leaseDir) : undefined;
      const verdict = await foreignReason(identity, address, options.namespace);
      if (verdict === null) {
        options.log?.info({ address }, 'using the embedded Temporal server of this data dir');
        return { address, started: false, release: async () => lease?.release() };
      }
      lease?.release();
      // Our own live server that is slow to answer (a busy machine, a server just started by
      // another command) is asked again until the deadline; anything else is refused at once.
      if (verdict.silent && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      throw foreign(address, verdict.reason);
    }
    if (tryLock(paths.lock)) {
      try {
        if (await somethingListens(host, options.port)) continue;
        options.log?.info({ port: options.port }, 'starting the embedded Temporal dev server');
        const server = await startEmbeddedServer(options);
        return { address: server.address, started: true, release: () => server.release() };
      } finally {
        rmSync(paths.lock, { force: true });
      }
    }
    if (Date.now() > deadline)
      throw new MewmError('TemporalUnavailable', `another mewm command has been starting the embedded Temporal server on ${address} for too long`, { address });
    await new Promise((r) => setTimeout(r, 250));
  }
}
