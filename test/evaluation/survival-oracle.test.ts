/**
 * The TypeScript survival statistics against lifelines on the same seeded data (with ties in
 * times, censoring and tied scores), through test/oracles/lifelines-survival.py.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random';
import { concordance } from '../../src/evaluation/survival/concordance';
import { fitCox } from '../../src/evaluation/survival/cox';
import { kaplanMeier, survivalAt } from '../../src/evaluation/survival/kaplan-meier';
import { logRankTest } from '../../src/evaluation/survival/log-rank';
import { cumulativeHazardAt, nelsonAalen } from '../../src/evaluation/survival/nelson-aalen';

const python = '.venv/bin/python';

interface OracleOutput {
  cIndex: number;
  km: { survival: number[]; lower: number[]; upper: number[]; median: number };
  na: { hazard: number[]; lower: number[]; upper: number[] };
  logRank: { statistic: number; pValue: number };
  cox: {
    efron: { coefficients: number[]; standardErrors: number[]; logLikelihood: number };
    efronPenalised: { coefficients: number[]; standardErrors: number[] };
    breslow: { coefficients: number[]; logLikelihood: number };
  };
}

function syntheticCohort(seed: number, n: number) {
  const rng = new Rng(seed);
  const times: number[] = [];
  const events: number[] = [];
  const scores: number[] = [];
  const group: number[] = [];
  const covariates: number[][] = [];
  for (let i = 0; i < n; i++) {
    const size = rng.range(1, 8);
    const enhancing = rng.bernoulli(0.5) ? 1 : 0;
    const hazard = 0.03 * Math.exp(0.25 * size - 0.6 * enhancing);
    const eventTime = -Math.log(1 - rng.uniform()) / hazard;
    const censorTime = rng.range(5, 60);
    // Whole months: many ties in time, some between deaths and censorings.
    times.push(Math.max(1, Math.round(Math.min(eventTime, censorTime))));
    events.push(eventTime <= censorTime ? 1 : 0);
    // Rounded scores create tied predictions.
    scores.push(Math.round(-size + rng.normal(0, 1)));
    group.push(size > 4.5 ? 1 : 0);
    covariates.push([size, enhancing]);
  }
  return { times, events, scores, group, covariates, names: ['size', 'enhancing'] };
}

describe.skipIf(!existsSync(python))('survival statistics vs lifelines', () => {
  const cohort = syntheticCohort(20261126, 150);
  const grid = [0, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60];
  const oracle = JSON.parse(
    execFileSync(python, ['test/oracles/lifelines-survival.py'], { input: JSON.stringify({ ...cohort, grid }), encoding: 'utf8' }),
  ) as OracleOutput;
  const data = { times: cohort.times, events: cohort.events };

  it('has ties in times and scores, and censoring (the cases that matter)', () => {
    expect(new Set(cohort.times).size).toBeLessThan(cohort.times.length / 2);
    expect(new Set(cohort.scores).size).toBeLessThan(20);
    const censored = cohort.events.filter((e) => e === 0).length;
    expect(censored).toBeGreaterThan(10);
    expect(censored).toBeLessThan(140);
  });

  it('C-index matches concordance_index', () => {
    expect(concordance(data, cohort.scores).cIndex).toBeCloseTo(oracle.cIndex, 12);
  });

  it('Kaplan–Meier estimate, band and median match KaplanMeierFitter', () => {
    const km = kaplanMeier(data);
    grid.forEach((t, i) => {
      expect(survivalAt(km, t)).toBeCloseTo(oracle.km.survival[i]!, 10);
      const point = [...km.points].reverse().find((p) => p.time <= t)!;
      expect(point.lower).toBeCloseTo(oracle.km.lower[i]!, 8);
      expect(point.upper).toBeCloseTo(oracle.km.upper[i]!, 8);
    });
    expect(km.median).toBe(oracle.km.median);
  });

  it('Nelson–Aalen (tie-corrected) and its band match NelsonAalenFitter', () => {
    const na = nelsonAalen(data);
    grid.forEach((t, i) => {
      expect(cumulativeHazardAt(na, t)).toBeCloseTo(oracle.na.hazard[i]!, 10);
      const point = [...na.points].reverse().find((p) => p.time <= t)!;
      expect(point.lower).toBeCloseTo(oracle.na.lower[i]!, 8);
      expect(point.upper).toBeCloseTo(oracle.na.upper[i]!, 8);
    });
  });

  it('log-rank statistic and p match logrank_test', () => {
    const pick = (g: number) => ({
      times: cohort.times.filter((_, i) => cohort.group[i] === g),
      events: cohort.events.filter((_, i) => cohort.group[i] === g),
    });
    const r = logRankTest(pick(0), pick(1));
    expect(r.statistic).toBeCloseTo(oracle.logRank.statistic, 9);
    expect(r.pValue / oracle.logRank.pValue).toBeCloseTo(1, 9);
  });

  it('Cox coefficients (Efron) match CoxPHFitter, and Breslow matches scipy', () => {
    const efron = fitCox(data, cohort.covariates, cohort.names);
    efron.coefficients.forEach((b, k) => expect(b).toBeCloseTo(oracle.cox.efron.coefficients[k]!, 6));
    efron.standardErrors.forEach((se, k) => expect(se).toBeCloseTo(oracle.cox.efron.standardErrors[k]!, 6));
    expect(efron.logPartialLikelihood).toBeCloseTo(oracle.cox.efron.logLikelihood, 6);
    const breslow = fitCox(data, cohort.covariates, cohort.names, { ties: 'breslow' });
    breslow.coefficients.forEach((b, k) => expect(b).toBeCloseTo(oracle.cox.breslow.coefficients[k]!, 5));
    expect(breslow.logPartialLikelihood).toBeCloseTo(oracle.cox.breslow.logLikelihood, 6);
    expect(Math.abs(breslow.coefficients[0]! - efron.coefficients[0]!)).toBeGreaterThan(1e-4);
  });

  it('penalised Cox (L2 on standardised coefficients) matches CoxPHFitter(penalizer=0.1)', () => {
    const model = fitCox(data, cohort.covariates, cohort.names, { penalizer: 0.1 });
    model.coefficients.forEach((b, k) => expect(b).toBeCloseTo(oracle.cox.efronPenalised.coefficients[k]!, 6));
    model.standardErrors.forEach((se, k) => expect(se).toBeCloseTo(oracle.cox.efronPenalised.standardErrors[k]!, 5));
    const unpenalised = fitCox(data, cohort.covariates, cohort.names);
    expect(Math.abs(model.coefficients[0]!)).toBeLessThan(Math.abs(unpenalised.coefficients[0]!));
  });
});
