/**
 * runCohort through a real dev server: pages with continue-as-new, a sliding window of plans,
 * a corrupt case failing alone with a non-retryable error, and a re-run skipping finished patients.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { ArtifactStores } from '../../src/artifacts';
import type { MewmConfig } from '../../src/config/config';
import { cohortPlanWorkflowId } from '../../workflows/ids';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { CohortCaseOutcome, CohortInput, CohortResult } from '../../workflows/types';
import { writeCorruptCase, writeManifest } from '../support/cases';
import { caseOf, stageCohort, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

let dir: string;
let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
let manifest: string;
let goodIds: string[];
const badId = 'BAD-0001';
const stores = new ArtifactStores();

beforeAll(async () => {
  dir = tempDir('cohort');
  const cohort = await writeTestCohort(dir, 4, 11);
  goodIds = cohort.patients.map((p) => p.caseId);
  const cases = goodIds.map((id) => caseOf(cohort.dir, id));
  const bad = writeCorruptCase(join(cohort.dir, 'cases'), badId);
  // The corrupt case sits in the middle of a page: its neighbours must still be planned.
  manifest = writeManifest(
    join(cohort.dir, 'test-manifest.jsonl'),
    [cases[0]!, bad, cases[1]!, cases[2]!, cases[3]!].map((c) => ({ ...c, mask: c.mask! })),
  );
  config = testConfig(dir, cohort.dir, { planning: { drugHorizon: 1, embolicHorizon: 1 } });
  stack = await startTemporalStack(dir, config);
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
  stores.close();
});

const cohortInput = async (cohortId: string): Promise<CohortInput> => ({
  cohortId,
  cases: await stageCohort(config, cohortId, manifest),
  settings: config.planning,
  concurrency: 2,
  pageSize: 2,
  requirements: stack.requirements,
});

async function outcomes(result: CohortResult): Promise<CohortCaseOutcome[]> {
  const lines: CohortCaseOutcome[] = [];
  for (const ref of result.pages) {
    const text = new TextDecoder().decode(await stores.storeFor(ref.uri).get(ref));
    for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as CohortCaseOutcome);
  }
  return lines;
}

describe('runCohort', () => {
  let first: CohortResult;

  it('plans every patient in pages, and a corrupt case fails alone with a non-retryable InvalidVolume', async () => {
    const handle = await client.workflow.start('runCohort', { taskQueue: TASK_QUEUES.cpu, workflowId: 'cohort-c1', args: [await cohortInput('c1')] });
    first = (await handle.result()) as CohortResult;
    expect(first).toMatchObject({ total: 5, completed: 4, failed: 1, skipped: 0 });
    expect(first.pages).toHaveLength(3); // 5 cases, 2 per page: two continue-as-new
    const byCase = new Map((await outcomes(first)).map((o) => [o.caseId, o]));
    expect([...byCase.keys()].sort()).toEqual([...goodIds, badId].sort());
    expect(byCase.get(badId)).toMatchObject({ status: 'failed', errorType: 'InvalidVolume' });
    for (const id of goodIds) expect(byCase.get(id)).toMatchObject({ status: 'completed' });

    // Non-retryable: the ingest activity of the corrupt case ran exactly once.
    const history = await client.workflow.getHandle(cohortPlanWorkflowId('c1', badId)).fetchHistory();
    const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
    expect(started).toHaveLength(1);
    expect(started[0]!.activityTaskStartedEventAttributes!.attempt).toBe(1);
    const failure = history.events!.find((e) => e.activityTaskFailedEventAttributes)!.activityTaskFailedEventAttributes!.failure!;
    expect(failure.applicationFailureInfo).toMatchObject({ type: 'InvalidVolume', nonRetryable: true });
    expect(failure.message).not.toContain(dir); // no file paths (could hold patient names) in the failure
  });

  it('a re-run skips the patients already planned and tries the failed one again', async () => {
    const again = (await client.workflow.execute('runCohort', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'cohort-c1',
      args: [await cohortInput('c1')],
    })) as CohortResult;
    expect(again).toMatchObject({ total: 5, completed: 0, skipped: 4, failed: 1 });
    const byCase = new Map((await outcomes(again)).map((o) => [o.caseId, o]));
    const previous = new Map((await outcomes(first)).map((o) => [o.caseId, o]));
    for (const id of goodIds) expect(byCase.get(id)).toMatchObject({ status: 'skipped', protocol: previous.get(id)!.protocol, risk: previous.get(id)!.risk });
    // Each good patient has exactly one plan execution in visibility: nothing was recomputed.
    let plans: string[] = [];
    for (let i = 0; i < 50; i++) {
      plans = [];
      for await (const w of client.workflow.list({ query: `MewmCohortId="c1" AND WorkflowType="planTreatment" AND MewmStatus="completed"` }))
        plans.push(w.workflowId);
      if (plans.length >= 4) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(plans.sort()).toEqual(goodIds.map((id) => cohortPlanWorkflowId('c1', id)).sort());
  });
});
