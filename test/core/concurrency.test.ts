import { describe, expect, it } from 'vitest';
import { forEachConcurrently } from '../../src/core/concurrency';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('forEachConcurrently', () => {
  it('keeps at most `limit` calls in flight and calls every item once', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachConcurrently([5, 1, 4, 2, 3, 1, 2], 3, async (ms, i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await tick(ms);
      seen.push(i);
      inFlight--;
    });
    expect(most).toBe(3);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('rejects with the first failure once the calls in flight have settled, and starts no new ones', async () => {
    const started: number[] = [];
    let settled = 0;
    const run = forEachConcurrently([0, 1, 2, 3, 4], 2, async (_, i) => {
      started.push(i);
      if (i === 1) throw new Error('boom');
      await tick(20);
      settled++;
    });
    await expect(run).rejects.toThrow('boom');
    expect(settled).toBe(started.length - 1);
    expect(started.length).toBeLessThan(5);
  });
});
