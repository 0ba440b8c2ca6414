import { describe, expect, it } from 'vitest';
import { concordance, riskConcordanceIndex } from '../../src/evaluation/survival/concordance';
import { coxLinearPredictor, coxSurvival, fitCox } from '../../src/evaluation/survival/cox';
import { kaplanMeier, survivalAt } from '../../src/evaluation/survival/kaplan-meier';
import { logRankTest } from '../../src/evaluation/survival/log-rank';
import { cumulativeHazardAt, nelsonAalen } from '../../src/evaluation/survival/nelson-aalen';
import { brierScore, riskMseVsNelsonAalen } from '../../src/evaluation/survival/risk-error';
import { erfc } from '../../src/evaluation/survival/survival-data';

const invalid = expect.objectContaining({ code: 'InvalidInput' });

describe('concordance (lifelines semantics)', () => {
  it('is 1 for perfectly ordered survival scores, 0 reversed, 0.5 for constant scores', () => {
    const data = { times: [1, 2, 3], events: [1, 1, 1] };
    expect(concordance(data, [1, 2, 3]).cIndex).toBe(1);
    expect(concordance(data, [3, 2, 1]).cIndex).toBe(0);
    expect(concordance(data, [5, 5, 5]).cIndex).toBe(0.5);
    expect(riskConcordanceIndex(data, [3, 2, 1])).toBe(1);
  });

  it('counts a censoring tied with a death as comparable, and tied deaths as not', () => {
    // Pairs: (0,1) same time, 1 censored: comparable, 0 < 1 concordant; (0,2) tied score: 0.5.
    const c = concordance({ times: [1, 1, 2], events: [1, 0, 1] }, [0, 1, 0]);
    expect(c.comparablePairs).toBe(2);
    expect(c.cIndex).toBe(0.75);
    // Two deaths at t=1 are not a pair; only (0,2) and (1,2) are.
    expect(concordance({ times: [1, 1, 2], events: [1, 1, 0] }, [0, 9, 5]).comparablePairs).toBe(2);
  });

  it('rejects data with no comparable pair or mismatched lengths', () => {
    expect(() => concordance({ times: [1, 2], events: [0, 0] }, [1, 2])).toThrow(invalid);
    expect(() => concordance({ times: [1, 2], events: [1, 0] }, [1])).toThrow(invalid);
    expect(() => concordance({ times: [1, -2], events: [1, 0] }, [1, 2])).toThrow(invalid);
    expect(() => concordance({ times: [1, 2], events: [1, 2] }, [1, 2])).toThrow(invalid);
  });
});

describe('kaplanMeier', () => {
  const data = { times: [1, 2, 2, 3, 4], events: [1, 1, 0, 1, 0] };
  it('matches a hand computation with a tie of death and censoring', () => {
    const km = kaplanMeier(data);
    expect(km.points.map((p) => p.time)).toEqual([0, 1, 2, 3, 4]);
    const s = km.points.map((p) => p.survival);
    [1, 0.8, 0.6, 0.3, 0.3].forEach((v, i) => expect(s[i]).toBeCloseTo(v, 12));
    expect(km.points[3]!.greenwoodSum).toBeCloseTo(1 / 20 + 1 / 12 + 1 / 2, 12);
    expect(km.median).toBe(3);
    expect(survivalAt(km, 2.5)).toBeCloseTo(0.6, 12);
    expect(survivalAt(km, 0.5)).toBe(1);
  });

  it('computes the log(-log) Greenwood band by hand at t=1', () => {
    const p = kaplanMeier(data).points[1]!;
    const v = Math.log(0.8);
    const z = 1.959963984540054;
    expect(p.lower).toBeCloseTo(Math.exp(-Math.exp(Math.log(-v) - (z * Math.sqrt(0.05)) / v)), 10);
    expect(p.upper).toBeCloseTo(Math.exp(-Math.exp(Math.log(-v) + (z * Math.sqrt(0.05)) / v)), 10);
    expect(p.lower).toBeLessThan(0.8);
    expect(p.upper).toBeGreaterThan(0.8);
  });
});

describe('nelsonAalen', () => {
  const data = { times: [1, 1, 2, 3], events: [1, 1, 1, 0] };
  it('uses the tie-corrected increment by default', () => {
    const na = nelsonAalen(data);
    expect(cumulativeHazardAt(na, 1)).toBeCloseTo(1 / 4 + 1 / 3, 12);
    expect(cumulativeHazardAt(na, 2)).toBeCloseTo(1 / 4 + 1 / 3 + 1 / 2, 12);
    expect(cumulativeHazardAt(na, 3)).toBeCloseTo(1 / 4 + 1 / 3 + 1 / 2, 12);
    expect(na.points.find((p) => p.time === 2)!.variance).toBeCloseTo(1 / 16 + 1 / 9 + 1 / 4, 12);
  });
  it('offers the textbook d/n increment', () => {
    const na = nelsonAalen(data, { ties: 'discrete' });
    expect(cumulativeHazardAt(na, 2)).toBeCloseTo(0.5 + 0.5, 12);
    expect(na.points.find((p) => p.time === 2)!.variance).toBeCloseTo((2 * 2) / 64 + 1 / 8, 12);
  });
});

describe('logRankTest', () => {
  it('matches a hand computation', () => {
    // Hand: O_A = 2, E_A = 1/2 + 1/3 + 1/2, V = 1/4 + 2/9 + 1/4.
    const r = logRankTest({ times: [1, 3], events: [1, 1] }, { times: [2, 4], events: [1, 1] });
    const expectedA = 0.5 + 1 / 3 + 0.5;
    const v = 0.25 + 2 / 9 + 0.25;
    expect(r.observedA).toBe(2);
    expect(r.expectedA).toBeCloseTo(expectedA, 12);
    expect(r.expectedB).toBeCloseTo(4 - expectedA, 12);
    expect(r.statistic).toBeCloseTo((2 - expectedA) ** 2 / v, 12);
    // χ²(1) survival function at 0.6153846: scipy.stats.chi2.sf gives 0.43282…
    expect(r.pValue).toBeCloseTo(0.4328, 3);
  });
  it('erfc gives the χ²(1) tail', () => {
    expect(erfc(Math.sqrt(3.841458820694124 / 2))).toBeCloseTo(0.05, 12);
  });
  it('rejects groups without events', () => {
    expect(() => logRankTest({ times: [1], events: [0] }, { times: [2], events: [0] })).toThrow(invalid);
  });
});

describe('fitCox', () => {
  it('finds the hand-derived MLE: alternating binary covariate, four deaths, no ties', () => {
    // ℓ'(β) = 2 − 2u/(u+1) − u/(u+2) with u = e^β, zero at u² − u − 4 = 0.
    const model = fitCox({ times: [1, 2, 3, 4], events: [1, 1, 1, 1] }, [[1], [0], [1], [0]], ['x']);
    expect(model.coefficients[0]).toBeCloseTo(Math.log((1 + Math.sqrt(17)) / 2), 9);
    const breslow = fitCox({ times: [1, 2, 3, 4], events: [1, 1, 1, 1] }, [[1], [0], [1], [0]], ['x'], { ties: 'breslow' });
    expect(breslow.coefficients[0]).toBeCloseTo(model.coefficients[0]!, 9);
    expect(model.means[0]).toBe(0.5);
    expect(coxLinearPredictor(model, [1])).toBeCloseTo(0.5 * model.coefficients[0]!, 12);
    expect(coxSurvival(model, [1], 0.5)).toBe(1);
    expect(coxSurvival(model, [1], 4)).toBeLessThan(coxSurvival(model, [0], 4));
  });

  it('rejects constant covariates, separation and bad rows with typed errors', () => {
    expect(() => fitCox({ times: [1, 2, 3], events: [1, 1, 1] }, [[1], [1], [1]], ['x'])).toThrow(invalid);
    expect(() => fitCox({ times: [1, 2, 3], events: [1, 1, 1] }, [[3], [2], [1]], ['x'])).toThrow(invalid);
    expect(() => fitCox({ times: [1, 2], events: [1, 1] }, [[1, 2], [0]], ['x', 'y'])).toThrow(invalid);
  });
});

describe('risk error', () => {
  it('Brier score without censoring is the mean squared error of the status indicator', () => {
    const bs = brierScore({ times: [1, 2, 3], events: [1, 1, 1] }, [0.2, 0.7, 0.9], 1.5);
    expect(bs).toBeCloseTo((0.2 ** 2 + 0.3 ** 2 + 0.1 ** 2) / 3, 12);
  });
  it('Brier score reweights by the censoring distribution', () => {
    // G jumps to 0.5 at t=2 (one of two at risk censored); subject 1 (censored before t) contributes 0.
    const bs = brierScore({ times: [1, 2, 3], events: [1, 0, 1] }, [0.2, 0.5, 0.6], 2.5);
    expect(bs).toBeCloseTo((0.04 + 0.16 / 0.5) / 3, 12);
  });
  it('risk MSE vs Nelson–Aalen scales both to [0, 1]', () => {
    // Ĥ(T) = 1/3, 5/6, 11/6 → scaled 0, 1/3, 1; predicted 0, 1, 2 → 0, 1/2, 1.
    const r = riskMseVsNelsonAalen({ times: [1, 2, 3], events: [1, 1, 1] }, [0, 1, 2]);
    expect(r.mse).toBeCloseTo((1 / 6) ** 2 / 3, 12);
    expect(r.nelsonAalenRisk[2]).toBeCloseTo(11 / 6, 12);
  });
});
