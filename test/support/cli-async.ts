/**
 * `mewm args…` as a child process without blocking this process's event loop — needed when the
 * test process itself serves something the CLI calls (a scripted OpenAI endpoint): `runMewm`
 * (spawnSync) would deadlock there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { MEWM_BIN, type CliResult } from './cli';

/** Children still running, so that a failed test can end them (else they outlive the test with their servers). */
const running = new Set<ChildProcess>();

/** Kills (SIGKILL) every `mewm` child still running; for afterAll/afterEach. */
export function killRunningMewm(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

export function runMewmAsync(cwd: string, env: Record<string, string>, args: readonly string[], timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(MEWM_BIN, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      running.delete(child);
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
