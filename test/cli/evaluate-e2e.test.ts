/**
 * The whole evaluation as a user runs it, with the oracle world model and tiny settings:
 * `mewm synth` → `mewm evaluate`, which plans its MeWM rows itself (embedded Temporal server,
 * in-process workers per method, one runCohort workflow per method and ablation) and writes every
 * table and figure; a second `mewm evaluate` reuses the completed cohort workflows. Then
 * `mewm plan` → `mewm report`.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStores } from '../../src/artifacts';
import { loadPlanAudit } from '../../src/app/plan-audit';
import { runReport } from '../../src/cli/report';
import type { PlanningRecord } from '../../src/cli/evaluate-planning';
import { cliTestEnv, runMewm } from '../support/cli';
import { connectClient, startTestServer, tempDir } from '../support/temporal';

const PATIENTS = 4;
const METHODS = 'optimal,physician,guideline,random-valid,mewm-oracle,mewm-llm,mewm-oracle/no-assistant,mewm-oracle/replicas-1';
const PLANNED = ['mewm-oracle', 'mewm-oracle-no-assistant', 'mewm-oracle-replicas-1'];
let dir: string;
let env: Record<string, string>;
const stores = new ArtifactStores({});

const run = (args: string[]) => runMewm(dir, env, args, 400_000);

function evaluate(out: string) {
  return run([
    'evaluate',
    '--cohort',
    'demo',
    '--split',
    'all',
    '--seed',
    '1',
    '--resamples',
    '100',
    '--realism-cases',
    '1',
    '--methods',
    METHODS,
    '--out',
    out,
  ]);
}

const planning = (out: string): PlanningRecord[] => JSON.parse(readFileSync(join(dir, out, 'planning.json'), 'utf8'));

beforeAll(async () => {
  dir = tempDir('evaluate-e2e');
  env = await cliTestEnv(dir, { MEWM_WORLD_MODEL: 'oracle', MEWM_ORACLE_COHORT: join(dir, 'demo') });
  expect(run(['synth', '--patients', String(PATIENTS), '--seed', '3', '--out', 'demo', '--size', 'small']).code).toBe(0);
}, 120_000);

afterAll(() => stores.close());

describe('evaluation end to end (oracle world model)', () => {
  it('plans every MeWM row and ablation as cohort workflows and writes every table and figure', { timeout: 600_000 }, () => {
    const first = evaluate('evaluation');
    expect(first.stderr).not.toMatch(/Error|InvalidInput|Internal/);
    expect(first.code).toBe(0);
    const out = join(dir, 'evaluation');
    for (const name of ['agreement-optimal', 'agreement-physician', 'outcome', 'ablation', 'survival', 'realism']) {
      for (const file of [`tables/${name}.md`, `tables/${name}.csv`, `figures/table-${name}.png`, `figures/table-${name}.svg`])
        expect(existsSync(join(out, file)), file).toBe(true);
    }
    const figures = readdirSync(join(out, 'figures'));
    expect(figures.some((f) => f.startsWith('km-') && f.endsWith('.png'))).toBe(true);
    // Risk-by-protocol bars with replica spread for every planned patient of every planned row.
    for (const method of PLANNED)
      expect(
        figures.filter((f) => f.startsWith(`risk-${method}-SYN-`) && f.endsWith('.png')),
        method,
      ).toHaveLength(PATIENTS);

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const row = summary.outcome.find((r: { method: string }) => r.method === 'mewm-oracle');
    expect(row.scored + row.failed).toBe(PATIENTS);
    expect(row.meanRegret.estimate).toBeGreaterThanOrEqual(0);
    for (const table of ['agreement-optimal', 'outcome']) expect(readFileSync(join(out, 'tables', `${table}.csv`), 'utf8')).toContain('mewm-oracle,');
    const ablation = readFileSync(join(out, 'tables', 'ablation.csv'), 'utf8');
    expect(ablation).toContain('mewm-oracle-no-assistant,mewm-oracle,');
    expect(ablation).toContain('mewm-oracle-replicas-1,mewm-oracle,');
    expect(summary.skipped.join('\n')).toMatch(/mewm-llm: no LLM endpoint configured/);

    const records = planning('evaluation');
    expect(records.map((r) => r.method)).toEqual(PLANNED);
    for (const r of records)
      expect(r).toMatchObject({ reused: false, total: PATIENTS, planned: PATIENTS, alreadyPlanned: 0, failed: 0, worldModel: { backend: 'oracle' } });
    expect(records.find((r) => r.method === 'mewm-oracle-replicas-1')!.settings).toMatchObject({ replicas: 1, beams: 2 });
    expect(records.find((r) => r.method === 'mewm-oracle-no-assistant')!.settings).toMatchObject({ reusePreTreatmentMask: true });
  });

  it('a second run reuses the completed cohort workflows: nothing is planned again, same rows', { timeout: 300_000 }, async () => {
    const second = evaluate('evaluation-again');
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/reusing the completed cohort workflow/);
    const before = planning('evaluation');
    const after = planning('evaluation-again');
    expect(after.map((r) => ({ method: r.method, id: r.cohortWorkflowId, runId: r.runId, reused: r.reused }))).toEqual(
      before.map((r) => ({ method: r.method, id: r.cohortWorkflowId, runId: r.runId, reused: true })),
    );
    const rows = (out: string) => JSON.parse(readFileSync(join(dir, out, 'summary.json'), 'utf8')).outcome;
    expect(rows('evaluation-again')).toEqual(rows('evaluation'));

    // The server's own record: one planTreatment execution per patient and planned row…
    const server = await startTestServer(join(dir, 'data', 'temporal', 'temporal.sqlite'));
    try {
      const client = await connectClient(server.address);
      const plans: string[] = [];
      for await (const w of client.workflow.list({ query: "WorkflowType = 'planTreatment'" })) plans.push(w.workflowId);
      expect(plans).toHaveLength(PATIENTS * PLANNED.length);
      expect(new Set(plans).size).toBe(plans.length);
      // …and one runCohort execution per planned row: the second evaluate started none.
      const cohorts: string[] = [];
      for await (const w of client.workflow.list({ query: "WorkflowType = 'runCohort'" })) cohorts.push(w.workflowId);
      expect(cohorts.sort()).toEqual(before.map((r) => r.cohortWorkflowId).sort());
      // The no-assistant ablation scored its simulated CTs with the pre-treatment mask: no assistant model ran.
      const cohortOf = (method: string) => before.find((r) => r.method === method)!.cohortWorkflowId.replace(/^cohort-/, '');
      const caseId = readdirSync(join(dir, 'demo', 'cases'))[0]!;
      const roles = async (method: string) => {
        const audit = await loadPlanAudit(client, stores, `plan-${cohortOf(method)}-${caseId}`);
        return new Set(audit.steps.flatMap((s) => s.models.map((m) => m.role)));
      };
      expect(await roles('mewm-oracle')).toContain('assistant');
      expect(await roles('mewm-oracle-no-assistant')).not.toContain('assistant');
      await client.connection.close();
    } finally {
      await server.stop();
    }
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
