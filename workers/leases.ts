/**
 * Leases on a dev server (workers/dev-server-watchdog.ts): one file per user process in a lease
 * folder, named by its pid and holding its start time, so that a recycled pid is not taken for a
 * live user. Node built-ins only: the watchdog imports this and nothing else.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A process's start time in clock ticks since boot (Linux), or null where /proc does not say. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may hold spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote a lease (`pid`, start time `ticks`) still runs. */
export function leaseHolderAlive(pid: number, ticks: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTicks(pid);
  return ticks === null || ticks === '' || now === null || now === ticks;
}

/** The pids of live lease holders; the leases of dead ones are removed. */
export function liveLeases(leaseDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(leaseDir);
  } catch {
    return [];
  }
  const live: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!/^\d+$/.test(name)) continue;
    let ticks: string | null = null;
    try {
      ticks = readFileSync(join(leaseDir, name), 'utf8').trim();
    } catch {
      continue;
    }
    if (leaseHolderAlive(pid, ticks)) live.push(pid);
    else rmSync(join(leaseDir, name), { force: true });
  }
  return live;
}

/** Leases this process holds, by file: one file per process, counted (two sessions of one command share it). */
const held = new Map<string, number>();

/** Holds a lease on the server in `leaseDir` for this process, until every `release()` of this process's leases there. */
export function takeLease(leaseDir: string, pid = process.pid): { release(): void } {
  mkdirSync(leaseDir, { recursive: true, mode: 0o700 });
  const file = join(leaseDir, String(pid));
  writeFileSync(file, processStartTicks(pid) ?? '', { mode: 0o600 });
  held.set(file, (held.get(file) ?? 0) + 1);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const count = (held.get(file) ?? 1) - 1;
      if (count > 0) {
        held.set(file, count);
        return;
      }
      held.delete(file);
      rmSync(file, { force: true });
    },
  };
}
