/**
 * Running `bin/mewm` as a user does: a child process in a temp folder, the embedded dev server on a
 * free port, and the tiny planning preset of test/support/temporal.ts set through the environment.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { freePort } from '../../workers/dev-server';

export const MEWM_BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'mewm');

/** Variables of the developer's shell that would change what a test plans. */
const INHERITED = [
  'TEMPORAL_ADDRESS',
  'OPENAI_BASE_URL',
  'OPENAI_API_KEY',
  'MEWM_POLICY',
  'MEWM_ORACLE_COHORT',
  'MEWM_WORLD_MODEL',
  'MEWM_MODEL_DIR',
  'MEWM_CONFIG',
];

/** The environment of a CLI test in `dir`: data under `dir/data`, a free port, the tiny preset, then `overrides`. */
export async function cliTestEnv(dir: string, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  for (const name of INHERITED) delete env[name];
  return {
    ...env,
    MEWM_DATA_DIR: join(dir, 'data'),
    MEWM_TEMPORAL_PORT: String(await freePort()),
    MEWM_LOG_LEVEL: 'warn',
    MEWM_ROI_SIZE: '32,32,24',
    MEWM_ROI_SPACING_MM: '3',
    MEWM_BEAMS: '2',
    MEWM_DRUG_CANDIDATES: '3',
    MEWM_EMBOLIC_CANDIDATES: '2',
    MEWM_REPLICAS: '2',
    MEWM_DRUG_HORIZON: '1',
    MEWM_EMBOLIC_HORIZON: '1',
    ...overrides,
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `mewm args…` in `cwd` with `env`; waits for it. */
export function runMewm(cwd: string, env: Record<string, string>, args: readonly string[], timeoutMs: number): CliResult {
  const result = spawnSync(MEWM_BIN, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}
