/**
 * The process between a mewm command and the Temporal dev server it starts (workers/dev-server.ts):
 * the server lives exactly as long as some process holds a lease on it, however those processes end.
 *
 *   leases   one file per user process in the lease folder, named by its pid, holding its start
 *            time (/proc/<pid>/stat, so a recycled pid is not mistaken for the user); the starter
 *            writes the first, every command that adopts the server adds its own
 *   stdin    a pipe from the starter: when it closes (the starter exited, even by kill -9), the
 *            starter's lease is dropped at once
 *   polling  every `pollMs` the leases of dead processes are removed; none left: SIGTERM to the
 *            server, SIGKILL after `graceMs`, and the watchdog exits
 *
 * It runs in its own process group (spawned detached), so a Ctrl-C meant for one command does not
 * stop a server another command still uses. SIGTERM to the watchdog stops the server now.
 * First line on stdout: `{"pid":N}` (the server's pid). Exit code: the server's.
 */
import { spawn } from 'node:child_process';
import { openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { liveLeases } from './leases';

export interface WatchdogSpec {
  readonly cli: string;
  readonly args: readonly string[];
  readonly leaseDir: string;
  /** The starter's pid: its lease goes when the stdin pipe closes. */
  readonly starterPid: number;
  readonly logFile?: string;
  readonly pollMs: number;
  readonly graceMs: number;
}

function runWatchdog(spec: WatchdogSpec): void {
  const out = spec.logFile ? openSync(spec.logFile, 'a') : 'ignore';
  const server = spawn(spec.cli, [...spec.args], { stdio: ['ignore', out, out] });
  process.stdout.write(`${JSON.stringify({ pid: server.pid })}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.kill('SIGTERM');
    setTimeout(() => server.kill('SIGKILL'), spec.graceMs).unref();
  };
  server.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  server.once('error', () => process.exit(1));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('SIGHUP', stop);
  const check = () => {
    if (!stopping && liveLeases(spec.leaseDir).length === 0) stop();
  };
  // The starter's pipe: closed when it exits, however it exits.
  process.stdin.resume();
  process.stdin.once('close', () => {
    rmSync(join(spec.leaseDir, String(spec.starterPid)), { force: true });
    check();
  });
  process.stdin.on('error', () => {});
  setInterval(check, spec.pollMs);
}

if (process.argv[2] === '--watchdog') runWatchdog(JSON.parse(process.argv[3]!) as WatchdogSpec);
