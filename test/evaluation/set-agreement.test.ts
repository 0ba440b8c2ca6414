import { describe, expect, it } from 'vitest';
import { isMewmError } from '../../src/core/errors';
import { meanAgreement, protocolAgreement, setAgreement } from '../../src/evaluation/set-agreement';

describe('setAgreement', () => {
  it('matches a hand count: P={a,b,c}, G={b,c,d,e}', () => {
    const a = setAgreement(['a', 'b', 'c'], ['b', 'c', 'd', 'e']);
    expect(a.precision).toBeCloseTo(2 / 3, 12);
    expect(a.recall).toBeCloseTo(1 / 2, 12);
    expect(a.f1).toBeCloseTo(4 / 7, 12);
    expect(a.jaccard).toBeCloseTo(2 / 5, 12);
  });

  it('ignores duplicates and order', () => {
    expect(setAgreement(['b', 'a', 'a'], ['a', 'b'])).toEqual({ precision: 1, recall: 1, f1: 1, jaccard: 1 });
  });

  it('scores disjoint sets 0 and handles empty sets by the documented convention', () => {
    expect(setAgreement(['a'], ['b'])).toEqual({ precision: 0, recall: 0, f1: 0, jaccard: 0 });
    expect(setAgreement([], ['b'])).toEqual({ precision: 0, recall: 0, f1: 0, jaccard: 0 });
    expect(setAgreement(['a'], [])).toEqual({ precision: 0, recall: 0, f1: 0, jaccard: 0 });
    expect(setAgreement([], [])).toEqual({ precision: 1, recall: 1, f1: 1, jaccard: 1 });
  });

  it('compares protocols as drug ∪ embolic sets (the paper Figure 7 example)', () => {
    // Physician: raltitrexed, lobaplatin, idarubicin | lipiodol, gelatin sponge; gold: raltitrexed, lobaplatin | lipiodol, gelatin sponge.
    const a = protocolAgreement(
      { drugs: ['raltitrexed', 'lobaplatin', 'idarubicin'], embolics: ['lipiodol', 'gelatin-sponge'] },
      { drugs: ['lobaplatin', 'raltitrexed'], embolics: ['gelatin-sponge', 'lipiodol'] },
    );
    expect(a.precision).toBeCloseTo(4 / 5, 12);
    expect(a.recall).toBe(1);
    expect(a.f1).toBeCloseTo(8 / 9, 12);
    expect(a.jaccard).toBeCloseTo(4 / 5, 12);
  });
});

describe('meanAgreement', () => {
  it('averages per patient (sample averaging), so mean F1 differs from the F1 of mean P and R', () => {
    const perPatient = [setAgreement(['a'], ['a', 'b', 'c', 'd']), setAgreement(['a', 'b'], ['a', 'b'])];
    const m = meanAgreement(perPatient);
    expect(m.precision).toBeCloseTo(1, 12);
    expect(m.recall).toBeCloseTo((0.25 + 1) / 2, 12);
    expect(m.f1).toBeCloseTo((0.4 + 1) / 2, 12);
    expect(m.f1).not.toBeCloseTo((2 * m.precision * m.recall) / (m.precision + m.recall), 3);
  });

  it('rejects an empty cohort with a typed error', () => {
    expect(() => meanAgreement([])).toThrow(expect.objectContaining({ code: 'InvalidInput' }));
    try {
      meanAgreement([]);
    } catch (e) {
      expect(isMewmError(e, 'InvalidInput')).toBe(true);
    }
  });
});
