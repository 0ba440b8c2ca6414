/**
 * Runs `work` on every item with at most `limit` in flight, in item order of starting. Rejects
 * with the first failure after the calls in flight have settled, so nothing keeps running
 * unobserved. Results are not collected: callers write them by key, so the outcome does not
 * depend on which call finishes first.
 */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.error;
}
