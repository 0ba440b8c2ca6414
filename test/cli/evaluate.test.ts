/**
 * `mewm evaluate` on a small synthetic cohort written by the world's cohort writer: every table
 * and figure lands in the results folder, MeWM rows come from cohort-outcome JSON Lines.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvaluateArguments, runEvaluation } from '../../src/cli/evaluate';
import { loadCohortTruth } from '../../src/evaluation/cohort-truth';
import { writeCohort } from '../../src/world/cohort';
import { json, startFakeOpenAi } from '../support/fake-openai';
import {
  candidatesFromOutcomeFiles,
  modelAblation,
  parsePlanningMethod,
  resolvePlanningMethod,
  type EvaluatedCohort,
  type PlanAuditSource,
} from '../../src/cli/evaluate-planning';
import type { PlanAudit } from '../../src/app/plan-audit';
import { MewmError } from '../../src/core/errors';
import { resolveConfig } from '../../src/config/config';

/** The rows that need no planner (the default list also plans mewm-oracle, mewm-onnx and mewm-llm). */
const BUILT_INS = 'optimal,physician,guideline,random-valid';

describe('mewm evaluate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mewm-evaluate-'));
  const cohort = join(dir, 'cohort');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    await writeCohort({ seed: 5, patients: 14, gridPreset: 'small', outDir: cohort });
  }, 120_000);

  it('writes every table and plot for the built-in methods plus MeWM and ablation rows', async () => {
    const { truth } = await loadCohortTruth(cohort, 'all');
    // A stand-in "MeWM" run: the optimal protocol for even cases, a failure for one, the physician's otherwise;
    // case 2 was planned by an earlier run of the cohort (`skipped` by a resumed `mewm cohort`): scored all the same.
    const status = (i: number) => (i === 2 ? 'skipped' : 'completed');
    const lines = truth.map((t, i) =>
      JSON.stringify(
        i === 1
          ? { caseId: t.caseId, status: 'failed' }
          : { caseId: t.caseId, status: status(i), protocol: i % 2 === 0 ? t.optimalProtocol : t.physicianProtocol, risk: 0.5 },
      ),
    );
    writeFileSync(join(dir, 'mewm.jsonl'), lines.join('\n') + '\n');
    writeFileSync(
      join(dir, 'ablation.jsonl'),
      truth.map((t) => JSON.stringify({ caseId: t.caseId, status: 'completed', protocol: t.physicianProtocol })).join('\n') + '\n',
    );
    const out = join(dir, 'results');
    const argv = [
      '--cohort',
      cohort,
      '--split',
      'all',
      '--seed',
      '4',
      '--resamples',
      '200',
      '--out',
      out,
      '--realism-cases',
      '3',
      '--methods',
      BUILT_INS,
      '--mewm',
      `oracle=${join(dir, 'mewm.jsonl')}`,
      '--ablation',
      `no-am:oracle=${join(dir, 'ablation.jsonl')}`,
    ];
    const args = parseEvaluateArguments(argv);
    const done = await runEvaluation(args, () => {}, argv);
    expect(done.skipped.join('\n')).toMatch(/risk-by-protocol/);
    expect(done.skipped.join('\n')).toMatch(/oracle: risk-by-protocol figures: its outcome lines name no plan workflows/);
    for (const name of ['agreement-optimal', 'agreement-physician', 'outcome', 'ablation', 'survival', 'realism']) {
      expect(existsSync(join(out, 'tables', `${name}.md`)), name).toBe(true);
      expect(existsSync(join(out, 'tables', `${name}.csv`)), name).toBe(true);
      expect(existsSync(join(out, 'figures', `table-${name}.png`)), name).toBe(true);
    }
    expect(existsSync(join(out, 'figures', 'km-cox-baseline.svg'))).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const oracleRow = summary.agreement.optimal.find((r: { method: string }) => r.method === 'oracle');
    expect(oracleRow.failed).toBe(1);
    const regret = summary.outcome.find((r: { method: string }) => r.method === 'oracle').meanRegret.estimate;
    const physicianRegret = summary.outcome.find((r: { method: string }) => r.method === 'physician').meanRegret.estimate;
    expect(regret).toBeLessThan(physicianRegret);
    expect(summary.outcome.find((r: { method: string }) => r.method === 'guideline').scored).toBe(14);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('mewm evaluate');
    // The default (ONNX) world model's survival heuristic is scored on every case's true pre/post pair.
    const survival = readFileSync(join(out, 'tables', 'survival.md'), 'utf8');
    expect(survival).toMatch(/\| learned heuristic mewm-heuristic-demo \S+ on pre-CT \+ true post-CT \(sha256 [0-9a-f]{12}\) \| 14 \|/);
    const realism = readFileSync(join(out, 'tables', 'realism.csv'), 'utf8')
      .trim()
      .split('\n');
    // 3 cases × 2 replicas, grouped by protocol; SSIM in (−1, 1], composition error in [0, 1].
    const header = realism[0]!.split(',');
    const rows = realism.slice(1).map((line) => line.split(','));
    expect(rows.reduce((n, r) => n + Number(r[header.indexOf('n')]), 0)).toBe(6);
    for (const r of rows) {
      expect(Number(r[header.indexOf('ssim')])).toBeLessThanOrEqual(1);
      expect(Number(r[header.indexOf('composition_mae')])).toBeGreaterThanOrEqual(0);
      expect(Number(r[header.indexOf('composition_mae')])).toBeLessThanOrEqual(1);
      // Our own encoder's latent Fréchet distance: a simulation is never the true post-CT itself.
      expect(Number(r[header.indexOf('feature_distance')])).toBeGreaterThan(0);
    }
  });

  it('parses planned methods and their ablations', () => {
    const defaults = parseEvaluateArguments(['--cohort', cohort]);
    expect(defaults.methods).toEqual(['optimal', 'physician', 'guideline', 'llm-only', 'random-valid']);
    expect(defaults.planning.map((p) => p.id)).toEqual(['mewm-oracle', 'mewm-onnx', 'mewm-llm']);
    const args = parseEvaluateArguments([
      '--cohort',
      cohort,
      '--methods',
      'optimal,mewm-oracle,mewm-oracle/no-assistant,mewm-oracle/replicas-1,mewm-onnx,mewm-onnx/beams-2',
      '--ablation-models',
      'no-contrastive=models/nc',
    ]);
    expect(args.methods).toEqual(['optimal']);
    expect(args.planning).toEqual([
      { id: 'mewm-oracle', planner: 'mewm-oracle' },
      { id: 'mewm-oracle-no-assistant', planner: 'mewm-oracle', variant: { kind: 'no-assistant' } },
      { id: 'mewm-oracle-replicas-1', planner: 'mewm-oracle', variant: { kind: 'replicas', n: 1 } },
      { id: 'mewm-onnx', planner: 'mewm-onnx' },
      { id: 'mewm-onnx-beams-2', planner: 'mewm-onnx', variant: { kind: 'beams', n: 2 } },
      { id: 'mewm-onnx-no-contrastive', planner: 'mewm-onnx', variant: { kind: 'models', name: 'no-contrastive', modelDir: resolve('models/nc') } },
    ]);
  });

  it('asks the configured endpoint for the llm-only row, and says why it is missing without one', async () => {
    const fake = await startFakeOpenAi();
    try {
      fake.fallback = json({ chemotherapy_drugs: ['Epirubicin'], embolization_materials: ['Lipiodol'], rationale: 'scripted' });
      const out = join(dir, 'llm-only');
      const argv = ['--cohort', cohort, '--split', 'all', '--resamples', '10', '--realism-replicas', '0', '--methods', 'optimal,llm-only', '--out', out];
      await runEvaluation(parseEvaluateArguments(argv), () => {}, argv, { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'test' });
      expect(fake.requests).toHaveLength(14);
      const rows = readFileSync(join(out, 'predictions.csv'), 'utf8')
        .split('\n')
        .filter((l) => l.includes(',llm-only,'));
      expect(rows).toHaveLength(14);
      for (const row of rows) expect(row).toContain(',epirubicin|lipiodol,');
      const none = await runEvaluation(parseEvaluateArguments([...argv.slice(0, -1), join(dir, 'llm-none')]), () => {}, argv, {});
      expect(none.skipped.join('\n')).toMatch(/llm-only: no LLM endpoint configured/);
    } finally {
      await fake.close();
    }
  });

  it('gives each planned row a stable cohort id from its settings, and a reason when it cannot plan', () => {
    const base = resolveConfig({ cwd: dir, env: {} });
    const at: EvaluatedCohort = { dir: cohort, split: 'test' };
    const oracle = parsePlanningMethod('mewm-oracle')!;
    const id = (method = oracle, config = base, split = at) => {
      const r = resolvePlanningMethod(config, method, split, {});
      if ('skip' in r) throw new Error(r.skip);
      return r.cohortId;
    };
    expect(id()).toBe(id());
    expect(id()).toMatch(/^eval-mewm-oracle-[0-9a-f]{12}$/);
    expect(id(parsePlanningMethod('mewm-oracle/replicas-1')!)).not.toBe(id());
    expect(id(oracle, resolveConfig({ cwd: dir, env: { MEWM_BEAMS: '3' } }))).not.toBe(id());
    expect(id(oracle, base, { dir: cohort, split: 'all' })).not.toBe(id());
    const noAssistant = resolvePlanningMethod(base, parsePlanningMethod('mewm-oracle/no-assistant')!, at, {});
    expect('skip' in noAssistant ? null : noAssistant.config.planning.reusePreTreatmentMask).toBe(true);
    expect(resolvePlanningMethod(base, parsePlanningMethod('mewm-llm')!, at, {})).toMatchObject({ skip: expect.stringMatching(/no LLM endpoint/) });
    expect(resolvePlanningMethod(base, modelAblation('gone', join(dir, 'no-such-models')), at, {})).toMatchObject({
      skip: expect.stringMatching(/does not exist/),
    });
    const llm = resolvePlanningMethod(base, parsePlanningMethod('mewm-llm')!, at, { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    expect('skip' in llm ? null : llm.policy.llm?.baseURL).toBe('http://127.0.0.1:9/v1');
  });

  it('rejects bad arguments and unknown agents with typed errors', async () => {
    const invalid = expect.objectContaining({ code: 'InvalidInput' });
    expect(() => parseEvaluateArguments([])).toThrow(invalid);
    expect(() => parseEvaluateArguments(['--cohort', cohort, '--methods', 'magic'])).toThrow(invalid);
    expect(() => parseEvaluateArguments(['--cohort', cohort, '--ablation', 'x:missing=f'])).toThrow(invalid);
    expect(() => parseEvaluateArguments(['--cohort', cohort, '--methods', 'mewm-oracle/replicas-0'])).toThrow(invalid);
    expect(() => parseEvaluateArguments(['--cohort', cohort, '--methods', 'mewm-oracle/magic'])).toThrow(invalid);
    expect(() => parseEvaluateArguments(['--cohort', cohort, '--methods', 'optimal,mewm-oracle/no-assistant'])).toThrow(invalid);
    expect(() => parseEvaluateArguments(['--cohort', cohort, '--methods', 'optimal', '--ablation-models', 'no-contrastive=/m'])).toThrow(invalid);
    writeFileSync(join(dir, 'bad.jsonl'), JSON.stringify({ caseId: 'SYN-5-0001', status: 'completed', protocol: { drugs: ['aspirin'], embolics: [] } }) + '\n');
    await expect(
      runEvaluation(
        parseEvaluateArguments([
          '--cohort',
          cohort,
          '--split',
          'all',
          '--resamples',
          '10',
          '--realism-replicas',
          '0',
          '--methods',
          BUILT_INS,
          '--out',
          join(dir, 'r2'),
          '--mewm',
          `x=${join(dir, 'bad.jsonl')}`,
        ]),
      ),
    ).rejects.toMatchObject({ code: 'UnknownAction' });
    await expect(loadCohortTruth(join(dir, 'nowhere'), 'all')).rejects.toMatchObject({ code: 'InvalidInput' });
  });

  it('names input files by their role, never by their path (a folder or file name may be a patient name)', async () => {
    const patient = join(dir, 'St-Elsewhere', 'Doe_John');
    mkdirSync(patient, { recursive: true });
    writeFileSync(join(patient, 'Doe_John.jsonl'), 'not json\n');
    writeFileSync(
      join(patient, 'Doe_John-bad.jsonl'),
      JSON.stringify({ caseId: 'SYN-5-0001', status: 'completed', protocol: { drugs: ['aspirin'], embolics: [] } }) + '\n',
    );
    const failure = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e as MewmError,
      );
      expect(error).toBeInstanceOf(MewmError);
      for (const text of [error!.message, JSON.stringify(error!.details), String(error!.cause ?? '')]) {
        expect(text).not.toMatch(/Elsewhere|Doe|John/);
        expect(text).not.toContain(dir);
      }
      return error!.message;
    };
    const evaluation = (...extra: string[]) =>
      runEvaluation(
        parseEvaluateArguments([
          '--cohort',
          cohort,
          '--split',
          'all',
          '--resamples',
          '10',
          '--realism-replicas',
          '0',
          '--methods',
          'optimal',
          '--out',
          join(dir, 'r3'),
          ...extra,
        ]),
      );
    expect(await failure(evaluation('--mewm', `x=${join(patient, 'missing.jsonl')}`))).toBe('cannot read the --mewm file of method x (ENOENT)');
    expect(await failure(evaluation('--mewm', `x=${join(patient, 'Doe_John.jsonl')}`))).toBe('the --mewm file of method x, line 1: not JSON');
    expect(await failure(evaluation('--mewm', `x=${join(patient, 'Doe_John-bad.jsonl')}`))).toMatch(
      /^the --mewm file of method x, case SYN-5-0001: "aspirin" is not a drug/,
    );
    expect(await failure(evaluation('--mewm', `x=${join(dir, 'mewm.jsonl')}`, '--ablation', `y:x=${join(patient, 'missing.jsonl')}`))).toBe(
      'cannot read the --ablation file of y (ENOENT)',
    );
    expect(await failure(evaluation('--llm', join(patient, 'missing.jsonl')))).toBe('cannot read the --llm file (ENOENT)');
    expect(await failure(loadCohortTruth(patient, 'all'))).toBe("cannot read the cohort's manifest.jsonl (ENOENT)");
    expect(() => parseEvaluateArguments(['--cohort', cohort, patient])).toThrow(/^unexpected argument/);
    expect(() => parseEvaluateArguments(['--cohort', cohort, patient])).not.toThrow(/Doe/);
  });

  it('gives rows read from cohort outcome files risk-by-protocol figures from their plan audits, or says why not', async () => {
    const protocol = { drugs: ['epirubicin'], embolics: ['lipiodol'] };
    const audit = (risks: number[]) =>
      ({
        steps: [
          { phase: 'embolic', candidates: [{ protocol, meanRisk: risks.reduce((a, b) => a + b) / risks.length, replicas: risks.map((risk) => ({ risk })) }] },
        ],
      }) as unknown as PlanAudit;
    const known: Record<string, PlanAudit> = { 'plan-c-SYN-1': audit([1, 3]), 'plan-c-SYN-2': audit([2, 2]), 'plan-c-SYN-4': audit([5, 7]) };
    const asked: string[] = [];
    let closed = 0;
    const server = async (): Promise<PlanAuditSource> => ({
      audit: async (id) => {
        asked.push(id);
        if (!known[id]) throw new MewmError('InvalidInput', `no workflow ${id}`);
        return known[id]!;
      },
      close: async () => void closed++,
    });
    const line = (caseId: string, status = 'completed') => ({ caseId, status, protocol, workflowId: `plan-c-${caseId}` });
    const rows = [
      // Case order, not file order; failed patients have no plan to show; at most `limit` per row.
      { id: 'resumed', outcomes: [line('SYN-4', 'skipped'), line('SYN-2'), { caseId: 'SYN-0', status: 'failed', workflowId: 'plan-c-SYN-0' }, line('SYN-1')] },
      { id: 'partly-gone', outcomes: [line('SYN-3'), line('SYN-4')] },
      { id: 'no-ids', outcomes: [{ caseId: 'SYN-1', status: 'completed', protocol }] },
    ];
    const { candidates, skipped } = await candidatesFromOutcomeFiles(rows, 2, server);
    expect(candidates.get('resumed')).toEqual({
      'SYN-1': [{ protocol, meanRisk: 2, lowerRisk: 1, upperRisk: 3 }],
      'SYN-2': [{ protocol, meanRisk: 2, lowerRisk: 2, upperRisk: 2 }],
    });
    expect(candidates.get('partly-gone')).toEqual({ 'SYN-4': [{ protocol, meanRisk: 6, lowerRisk: 5, upperRisk: 7 }] });
    expect(candidates.has('no-ids')).toBe(false);
    expect(asked).toEqual(['plan-c-SYN-1', 'plan-c-SYN-2', 'plan-c-SYN-3', 'plan-c-SYN-4']);
    expect(closed).toBe(1);
    expect(skipped).toEqual([
      'no-ids: risk-by-protocol figures: its outcome lines name no plan workflows (`mewm cohort --out` writes them)',
      'partly-gone: risk-by-protocol figures for 1 of 2 patients: the Temporal server does not have the other plan workflows (InvalidInput)',
    ]);

    // No server: every row goes without figures, with the reason; nothing throws.
    const unreachable = await candidatesFromOutcomeFiles(rows.slice(0, 2), 2, async () => {
      throw new MewmError('TemporalUnavailable', 'no Temporal server answers at 127.0.0.1:9 (TEMPORAL_ADDRESS)');
    });
    expect(unreachable.candidates.size).toBe(0);
    expect(unreachable.skipped).toEqual(
      ['resumed', 'partly-gone'].map(
        (id) =>
          `${id}: risk-by-protocol figures: no Temporal server with its plan workflows (TemporalUnavailable: no Temporal server answers at 127.0.0.1:9 (TEMPORAL_ADDRESS))`,
      ),
    );
    // --risk-bars 0: no server is asked.
    expect(await candidatesFromOutcomeFiles(rows, 0, () => Promise.reject(new Error('not to be opened')))).toEqual({ candidates: new Map(), skipped: [] });
  });
});
