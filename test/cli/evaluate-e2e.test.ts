/**
 * The whole evaluation path as a user runs it, with the oracle world model and tiny settings:
 * `mewm synth` → `mewm cohort` (embedded Temporal server and workers) → `mewm evaluate` with the
 * cohort's outcomes as the MeWM row → every table and figure; and `mewm plan` → `mewm report`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseEvaluateArguments, runEvaluation } from '../../src/cli/evaluate';
import { runReport } from '../../src/cli/report';
import { freePort } from '../../workers/dev-server';
import { tempDir } from '../support/temporal';

const mewm = resolve(import.meta.dirname, '..', '..', 'bin', 'mewm');
let dir: string;
let env: Record<string, string>;

function run(args: string[]) {
  const result = spawnSync(mewm, args, { cwd: dir, env, encoding: 'utf8', timeout: 400_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  dir = tempDir('evaluate-e2e');
  env = {
    ...(process.env as Record<string, string>),
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
    MEWM_ORACLE_COHORT: join(dir, 'demo'),
  };
  delete env.TEMPORAL_ADDRESS;
  expect(run(['synth', '--patients', '6', '--seed', '3', '--out', 'demo', '--size', 'small']).code).toBe(0);
}, 120_000);

describe('evaluation end to end (oracle world model)', () => {
  it('plans the cohort, then evaluate writes every table and figure with the MeWM row', { timeout: 600_000 }, async () => {
    const cohort = run(['cohort', 'demo', '--cohort-id', 'e2e', '--with-workers', '--out', 'outcomes.jsonl']);
    expect(cohort.stderr).not.toMatch(/mewm: /);
    expect(cohort.code).toBe(0);
    const outcomes = readFileSync(join(dir, 'outcomes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(outcomes).toHaveLength(6);

    const out = join(dir, 'evaluation');
    const done = await runEvaluation(
      parseEvaluateArguments(['--cohort', join(dir, 'demo'), '--split', 'all', '--seed', '1', '--resamples', '200', '--realism-cases', '2', '--out', out, '--mewm', `oracle=${join(dir, 'outcomes.jsonl')}`]),
    );
    for (const name of ['agreement-optimal', 'agreement-physician', 'outcome', 'survival', 'realism']) {
      for (const file of [`tables/${name}.md`, `tables/${name}.csv`, `figures/table-${name}.png`, `figures/table-${name}.svg`]) expect(existsSync(join(out, file)), file).toBe(true);
    }
    expect(readdirSync(join(out, 'figures')).some((f) => f.startsWith('km-') && f.endsWith('.png'))).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const row = summary.outcome.find((r: { method: string }) => r.method === 'oracle');
    expect(row.scored + row.failed).toBe(6);
    expect(row.meanRegret.estimate).toBeGreaterThanOrEqual(0);
    expect(done.skipped.join('\n')).toMatch(/ablation table/);
  });

  it('mewm report renders a planned case from its saved plan', { timeout: 300_000 }, async () => {
    const caseId = readdirSync(join(dir, 'demo', 'cases'))[0]!;
    const plan = run(['plan', join('demo', 'cases', caseId), '--seed', '5']);
    expect(plan.code).toBe(0);
    const planFile = join(dir, 'data', 'plans', `plan-${caseId}-s5`, 'plan.json');
    const html = join(dir, 'report.html');
    expect(await runReport(['--plan', planFile, '--out', html])).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('not for clinical use');
    expect(page).toContain(`MeWM plan report — ${caseId}`);
    expect(page).toMatch(/Step 2: embolic horizon/);
  });
});
