/**
 * Recorded histories (test/replay/histories, recorded by record-histories.ts) replay against the
 * current workflow code without nondeterminism errors. A failure here means a code change would
 * break workflows already running in production: version it with patched() instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/temporal';

const dir = join(import.meta.dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('replay of recorded histories', () => {
  it('has the committed histories', () => {
    expect(files).toEqual(['plan-replay-BAD-0001.json', 'replay-cohort.json', 'replay-plan--drug-1.json', 'replay-plan.json']);
  });

  it('replays every history without nondeterminism', { timeout: 120_000 }, async () => {
    const histories = files.map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8'))) }));
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) results.push(result);
    expect(results.map((r) => r.workflowId).sort()).toEqual(files.map((f) => f.replace(/\.json$/, '')).sort());
    for (const r of results) expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
  });
});
