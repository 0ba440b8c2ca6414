/**
 * The embedded server of a data dir: only the one mewm started there is adopted; a foreign
 * listener or another Temporal server on the port is refused with TemporalForeign (nothing started,
 * nothing adopted); the server dies with the last command using it, even after kill -9.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { freePort, startDevServer, type DevServer } from '../../workers/dev-server';
import { embeddedServerPaths, openEmbeddedServer, somethingListens, type EmbeddedServer, type EmbeddedServerIdentity } from '../../workers/embedded-server';
import { cliTestEnv, MEWM_BIN } from '../support/cli';
import { killRunningMewm, runMewmAsync } from '../support/cli-async';
import { tempDir } from '../support/temporal';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  killRunningMewm();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    if (!alive(pid)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isMewmError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('the embedded server of a data dir', () => {
  it('refuses a TCP listener that is not Temporal: TemporalForeign, nothing started', { timeout: 30_000 }, async () => {
    const dir = tempDir('foreign-tcp');
    const listener: Server = createServer((socket) => {
      socket.on('error', () => {});
      socket.end('hello\n');
    });
    const port = await freePort();
    await new Promise<void>((r) => listener.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => listener.close(() => r())));

    const { code, message } = await refusal(openEmbeddedServer({ dataDir: join(dir, 'data'), port, namespace: 'default' }));
    expect(code).toBe('TemporalForeign');
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(message).toContain('MEWM_TEMPORAL_PORT');
    const paths = embeddedServerPaths(join(dir, 'data'));
    expect(existsSync(paths.identity)).toBe(false);
    expect(existsSync(paths.dbFile)).toBe(false);
    expect(existsSync(paths.lock)).toBe(false);
  });

  it(
    'a command (`mewm status`) with a foreign listener on the port: one TemporalForeign line, a failing exit code, no server started',
    { timeout: 90_000 },
    async () => {
      const dir = tempDir('foreign-cli');
      const listener: Server = createServer((socket) => {
        socket.on('error', () => {});
        socket.end('hello\n');
      });
      const port = await freePort();
      await new Promise<void>((r) => listener.listen(port, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => listener.close(() => r())));
      const env = await cliTestEnv(dir, { MEWM_TEMPORAL_PORT: String(port) });
      const { code, stdout, stderr } = await runMewmAsync(dir, env, ['status'], 60_000);
      expect(code).not.toBe(0); // exit codes: src/cli (issue 13)
      expect(code).not.toBeNull();
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(`^mewm: TemporalForeign: something other than the Temporal server mewm started for this data dir answers on 127\\.0\\.0\\.1:${port} `),
        ),
      ]);
      expect(existsSync(embeddedServerPaths(env.MEWM_DATA_DIR!).dbFile)).toBe(false);
    },
  );

  it('adopts its own server, refuses it from another data dir, and stops it with the last lease', { timeout: 90_000 }, async () => {
    const dir = tempDir('foreign-temporal');
    const port = await freePort();
    const mine = join(dir, 'mine');
    const first: EmbeddedServer = await openEmbeddedServer({ dataDir: mine, port, namespace: 'default' });
    cleanups.push(() => first.release());
    expect(first.started).toBe(true);
    const identity = JSON.parse(readFileSync(embeddedServerPaths(mine).identity, 'utf8')) as EmbeddedServerIdentity;
    expect(alive(identity.pid)).toBe(true);

    const second = await openEmbeddedServer({ dataDir: mine, port, namespace: 'default' });
    expect(second.started).toBe(false);
    expect(second.address).toBe(first.address);

    // The same server seen from another data dir: a Temporal server, but not the one started there.
    const { code, message } = await refusal(openEmbeddedServer({ dataDir: join(dir, 'other'), port, namespace: 'default' }));
    expect(code).toBe('TemporalForeign');
    expect(message).toContain('no record');

    // The starter leaves first: the server stays for the adopter, then goes with its lease.
    await first.release();
    expect(alive(identity.pid)).toBe(true);
    expect(await somethingListens('127.0.0.1', port)).toBe(true);
    await second.release();
    expect(await gone(identity.pid, 15_000)).not.toBeNull();
  });

  it('refuses another Temporal server on the port even with a record: its namespace id differs', { timeout: 90_000 }, async () => {
    const dir = tempDir('foreign-record');
    const port = await freePort();
    const data = join(dir, 'data');
    const own = await openEmbeddedServer({ dataDir: data, port, namespace: 'default' });
    const identity = JSON.parse(readFileSync(embeddedServerPaths(data).identity, 'utf8')) as EmbeddedServerIdentity;
    await own.release();
    expect(await gone(identity.pid, 15_000)).not.toBeNull();
    // Another server (its own SQLite file) on the recorded port, with a pid recorded as ours.
    const other: DevServer = await startDevServer({ dbFile: join(dir, 'other.sqlite'), port });
    cleanups.push(() => other.stop());
    const { writeFileSync } = await import('node:fs');
    writeFileSync(embeddedServerPaths(data).identity, JSON.stringify({ ...identity, pid: other.pid, pidStart: null }));
    const { code, message } = await refusal(openEmbeddedServer({ dataDir: data, port, namespace: 'default' }));
    expect(code).toBe('TemporalForeign');
    expect(message).toContain('not the one mewm created');
  });

  it('two commands starting at once: one starts the server, the other waits and adopts it; it stops after both', { timeout: 120_000 }, async () => {
    const dir = tempDir('start-race');
    const env = await cliTestEnv(dir);
    const [a, b] = await Promise.all([runMewmAsync(dir, env, ['status'], 90_000), runMewmAsync(dir, env, ['status'], 90_000)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const identity = JSON.parse(readFileSync(embeddedServerPaths(env.MEWM_DATA_DIR!).identity, 'utf8')) as EmbeddedServerIdentity;
    expect(await gone(identity.pid, 10_000)).not.toBeNull();
  });

  it('kill -9 of `mewm server`: the dev server it started is gone within seconds', { timeout: 90_000 }, async () => {
    const dir = tempDir('kill9');
    const env = await cliTestEnv(dir);
    const cli = spawn(MEWM_BIN, ['server'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(() => void cli.kill('SIGKILL'));
    let stdout = '';
    cli.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    for (let i = 0; i < 600 && !stdout.includes('Temporal dev server on'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(stdout).toContain('Temporal dev server on');
    const identity = JSON.parse(readFileSync(embeddedServerPaths(env.MEWM_DATA_DIR!).identity, 'utf8')) as EmbeddedServerIdentity;
    cleanups.push(() => {
      if (alive(identity.pid)) process.kill(identity.pid, 'SIGKILL');
    });
    expect(alive(identity.pid)).toBe(true);

    cli.kill('SIGKILL');
    const ms = await gone(identity.pid, 10_000);
    expect(ms, 'the dev server outlived the killed CLI').not.toBeNull();
    expect(ms!).toBeLessThan(5_000);
    expect(await somethingListens('127.0.0.1', Number(env.MEWM_TEMPORAL_PORT))).toBe(false);
  });
});
