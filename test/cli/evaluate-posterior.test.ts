/**
 * The posterior oracle in `mewm evaluate`: its planned row and variant parse and hash to their own
 * cohorts, the default rows are unchanged, and the built-in `posterior-optimal` row plus its
 * Monte-Carlo error table land in the results on a small cohort.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvaluateArguments, runEvaluation } from '../../src/cli/evaluate';
import { parsePlanningMethod, resolvePlanningMethod, type EvaluatedCohort } from '../../src/cli/evaluate-planning';
import { resolveConfig } from '../../src/config/config';
import { writeCohort } from '../../src/world/cohort';

describe('mewm evaluate: posterior oracle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mewm-evaluate-posterior-'));
  const cohort = join(dir, 'cohort');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(async () => {
    await writeCohort({ seed: 8, patients: 8, gridPreset: 'small', outDir: cohort });
  }, 120_000);

  it('parses the posterior rows, keeps the default rows, and gives each K its own cohort id', () => {
    expect(parseEvaluateArguments(['--cohort', cohort]).planning.map((p) => p.id)).toEqual(['mewm-oracle', 'mewm-onnx', 'mewm-llm']);
    const args = parseEvaluateArguments([
      '--cohort',
      cohort,
      '--methods',
      'physician,posterior-optimal,mewm-posterior-oracle,mewm-posterior-oracle/known-biology',
      '--posterior-draws',
      '64',
    ]);
    expect(args.methods).toEqual(['physician', 'posterior-optimal']);
    expect(args.planning).toEqual([
      { id: 'mewm-posterior-oracle', planner: 'mewm-posterior-oracle' },
      { id: 'mewm-posterior-oracle-known-biology', planner: 'mewm-posterior-oracle', variant: { kind: 'known-biology' } },
    ]);
    expect(args.posteriorDraws).toBe(64);
    expect(() => parseEvaluateArguments(['--cohort', cohort, '--methods', 'mewm-oracle/known-biology'])).toThrow(
      expect.objectContaining({ code: 'InvalidInput' }),
    );

    const base = resolveConfig({ cwd: dir, env: {} });
    const at: EvaluatedCohort = { dir: cohort, split: 'all' };
    const resolved = (entry: string, posterior = {}) => {
      const r = resolvePlanningMethod(base, parsePlanningMethod(entry)!, at, {}, posterior);
      if ('skip' in r) throw new Error(r.skip);
      return r;
    };
    const posterior = resolved('mewm-posterior-oracle', { draws: 64 });
    expect(posterior.posterior).toEqual({ draws: 64 });
    expect(posterior.label).toMatch(/posterior oracle/);
    expect(resolved('mewm-posterior-oracle', { draws: 128 }).cohortId).not.toBe(posterior.cohortId);
    expect(resolved('mewm-posterior-oracle', { draws: 64 }).cohortId).toBe(posterior.cohortId);
    expect(resolved('mewm-posterior-oracle/known-biology').posterior).toEqual({ knownBiology: true });
    expect(resolved('mewm-oracle').posterior).toBeUndefined();
  });

  it('writes the posterior-optimal row (between the optimum and random protocols) and its Monte-Carlo error table', async () => {
    const out = join(dir, 'out');
    const argv = [
      '--cohort',
      cohort,
      '--split',
      'all',
      '--seed',
      '1',
      '--resamples',
      '50',
      '--realism-replicas',
      '0',
      '--methods',
      'optimal,physician,random-valid,posterior-optimal',
      '--posterior-draws',
      '24',
      '--out',
      out,
    ];
    const lines: string[] = [];
    await runEvaluation(parseEvaluateArguments(argv), (line) => lines.push(line), argv, {});
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const regret = (method: string) => summary.outcome.find((r: { method: string }) => r.method === method).meanRegret.estimate as number;
    expect(regret('posterior-optimal')).toBeGreaterThan(0);
    expect(regret('posterior-optimal')).toBeLessThan(regret('random-valid'));
    const table = readFileSync(join(out, 'tables', 'posterior-oracle.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(table[0]).toMatch(/^method,cases,se_mean/);
    const row = table[1]!.split(',');
    expect(row[0]).toBe('posterior-optimal');
    expect(Number(row[1])).toBe(8);
    expect(Number(row[2])).toBeGreaterThan(0); // a real Monte-Carlo error, not a degenerate prior
    expect(lines.some((l) => /survival ceiling: the world's expected risk of the given protocol reaches C = 0\.\d{3}/.test(l))).toBe(true);
  }, 300_000);
});
