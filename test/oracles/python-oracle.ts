/**
 * Runs the Python reference oracles in test/oracles with the project venv. Suites that need
 * them use `describe.skipIf(!pythonAvailable)` with `pythonSkipReason` as their title suffix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const oraclesDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(oraclesDir, '..', '..');
export const pythonPath = resolve(repoRoot, '.venv', 'bin', 'python');
export const pythonAvailable = existsSync(pythonPath);
export const pythonSkipReason = pythonAvailable ? '' : ` (skipped: ${pythonPath} is absent; create the venv with requirements-test.txt)`;

/** Runs `test/oracles/<script>` with arguments; throws with the oracle's stderr when it fails. */
export function runOracle(script: string, args: readonly string[], input?: string): string {
  const result = spawnSync(pythonPath, [resolve(oraclesDir, script), ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(`oracle ${script} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.error?.message}`);
  }
  return result.stdout;
}
