/**
 * Patient identifiers in folder and file names stay out of Temporal. A CT in a folder named like a
 * patient (`DOE^JOHN-90817263/ct.nii.gz`) is planned, alone and in a cohort, and fails to ingest
 * (missing mask); no event history (payloads decoded), failure message or search attribute
 * may hold the name, the number or the folder path.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { MewmConfig } from '../../src/config/config';
import { beamStepWorkflowId, cohortPlanWorkflowId } from '../../workflows/ids';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { CohortResult, PlanResult } from '../../workflows/types';
import { stageCase, stageCohort, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
let caseId: string;
let patientDir: string;

const forbidden = () => ['DOE^JOHN', 'DOE%5EJOHN', '90817263', 'Doe_John', patientDir];

beforeAll(async () => {
  const dir = tempDir('privacy');
  const cohort = await writeTestCohort(dir, 1, 11);
  caseId = cohort.patients[0]!.caseId;
  patientDir = join(dir, 'incoming', 'DOE^JOHN-90817263');
  mkdirSync(patientDir, { recursive: true });
  copyFileSync(join(cohort.dir, 'cases', caseId, 'pre-ct.nii.gz'), join(patientDir, 'ct.nii.gz'));
  copyFileSync(join(cohort.dir, 'cases', caseId, 'pre-labels.nii.gz'), join(patientDir, 'mask.nii.gz'));
  config = testConfig(dir, cohort.dir, { planning: { drugHorizon: 1, embolicHorizon: 1 } });
  stack = await startTemporalStack(dir, config);
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
});

/** Everything a history holds as text: its JSON, plus every byte field (payload data) decoded as UTF-8. */
async function historyText(handle: WorkflowHandle, runId?: string): Promise<string> {
  const history = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
  const decoded: string[] = [];
  const walk = (value: unknown, depth: number): void => {
    if (depth > 64 || value === null || typeof value !== 'object') return;
    if (value instanceof Uint8Array) {
      decoded.push(new TextDecoder().decode(value));
      return;
    }
    for (const child of Object.values(value)) walk(child, depth + 1);
  };
  walk(history, 0);
  expect(decoded.length).toBeGreaterThan(0);
  return `${historyToJSON(history)}\n${decoded.join('\n')}`;
}

async function searchAttributesText(handle: WorkflowHandle): Promise<string> {
  const description = await handle.describe();
  return JSON.stringify({ typed: description.typedSearchAttributes, untyped: description.searchAttributes, memo: description.memo ?? null });
}

function expectClean(text: string, what: string): void {
  for (const token of forbidden()) expect(text.includes(token), `${what} holds ${token}`).toBe(false);
}

describe('patient identifiers in paths stay out of Temporal', () => {
  it('plans a case from DOE^JOHN-90817263/ct.nii.gz without the folder name in any history or search attribute', { timeout: 180_000 }, async () => {
    const caseRef = await stageCase(config, { caseId, ct: join(patientDir, 'ct.nii.gz'), mask: join(patientDir, 'mask.nii.gz') });
    const handle = await client.workflow.start('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-privacy',
      args: [{ case: caseRef, settings: config.planning, requirements: stack.requirements }],
    });
    const result = (await handle.result()) as PlanResult;
    expect(result.caseId).toBe(caseId);
    const planHistory = await historyText(handle);
    // The check can see what it looks for: the case id and the ingest activity are in the same text.
    expect(planHistory).toContain(caseId);
    expect(planHistory).toContain('prepareCase');
    expect(planHistory).toContain(caseRef.source.sha256);
    expectClean(planHistory, 'plan history');
    expectClean(await historyText(client.workflow.getHandle(beamStepWorkflowId('plan-privacy', 'drug', 1))), 'beam-step history');
    expectClean(await searchAttributesText(handle), 'plan search attributes');
  });

  it("fails on a missing mask (named like the patient) naming the case and the file's role only", { timeout: 120_000 }, async () => {
    const handle = await client.workflow.start('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-privacy-missing-mask',
      args: [
        {
          case: await stageCase(config, { caseId, ct: join(patientDir, 'ct.nii.gz'), mask: join(patientDir, 'Doe_John-mask.nii.gz') }),
          settings: config.planning,
          requirements: stack.requirements,
        },
      ],
    });
    const failure = await handle.result().then(
      () => null,
      (error: unknown) => error as Error,
    );
    expect(failure).not.toBeNull();
    const history = await historyText(handle);
    expect(history).toContain(`case ${caseId} mask: cannot be read (ENOENT)`);
    expect(history).not.toContain('Doe_John');
    expectClean(history, 'failed plan history');
    let chain = '';
    for (let e: unknown = failure, i = 0; e instanceof Error && i < 10; e = e.cause, i++) chain += `${e.message}\n${e.stack ?? ''}\n`;
    expectClean(chain, 'failure chain');
  });

  it('plans a cohort whose manifest points into DOE^JOHN-90817263 without the folder name in the cohort or plan histories', { timeout: 180_000 }, async () => {
    const manifest = join(patientDir, '..', 'manifest.jsonl');
    writeFileSync(manifest, `${JSON.stringify({ caseId, ct: 'DOE^JOHN-90817263/ct.nii.gz', mask: 'DOE^JOHN-90817263/mask.nii.gz' })}\n`);
    const handle = await client.workflow.start('runCohort', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'cohort-privacy',
      args: [
        {
          cohortId: 'privacy',
          cases: await stageCohort(config, 'privacy', manifest),
          settings: config.planning,
          concurrency: 1,
          pageSize: 5,
          requirements: stack.requirements,
        },
      ],
    });
    const result = (await handle.result()) as CohortResult;
    expect(result).toMatchObject({ total: 1, completed: 1, failed: 0 });
    const cohortHistory = await historyText(handle);
    expect(cohortHistory).toContain('readCohortPage');
    expect(cohortHistory).toContain(caseId);
    expectClean(cohortHistory, 'cohort history');
    const child = client.workflow.getHandle(cohortPlanWorkflowId('privacy', caseId));
    expectClean(await historyText(child), 'cohort plan history');
    expectClean(await searchAttributesText(child), 'cohort plan search attributes');
  });
});
