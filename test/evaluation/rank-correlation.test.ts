import { describe, expect, it } from 'vitest';
import { averageRanks, spearman } from '../../src/evaluation/rank-correlation';

describe('rank correlation', () => {
  it('gives tied values their average rank', () => {
    expect(averageRanks([10, 20, 20, 5])).toEqual([1, 2.5, 2.5, 0]);
  });

  it('matches hand-computed Spearman values', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // ranks a = [0,1,2,3], b = [1,0,3,2]: Pearson of ranks = 0.6
    expect(spearman([1, 2, 3, 4], [2, 1, 4, 3])).toBeCloseTo(0.6, 12);
    // with ties: scipy.stats.spearmanr([1,2,2,3],[1,2,3,4]) = 0.9486832980505138
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(0.9486832980505138, 12);
  });

  it('refuses unequal lengths', () => {
    expect(() => spearman([1, 2], [1])).toThrow(RangeError);
  });
});
