/**
 * What a hospital user has: a DICOM CT series folder and no mask. The series is written by pydicom
 * (test/oracles/dicom_oracle.py) from a synthetic pre-treatment CT, with shuffled files, varying
 * rescale and a (fake) patient name and id. The plan reads the series, has the assistant segment
 * it, plans, and the identifiers in the DICOM headers never reach the event history. (The CT path
 * itself is part of the workflow input: folder names must not carry identifiers.)
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { MewmConfig } from '../../src/config/config';
import { isValidProtocol } from '../../src/core/vocabulary';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { PlanResult } from '../../workflows/types';
import { pythonAvailable, pythonSkipReason, runOracle } from '../oracles/python-oracle';
import { stageCase, startTemporalStack, tempDir, testConfig, writeTestCohort, type TemporalStack } from '../support/temporal';

let stack: TemporalStack;
let client: Client;
let config: MewmConfig;
let caseId: string;
let seriesDir: string;

describe.skipIf(!pythonAvailable)(`planTreatment from a DICOM series without a mask${pythonSkipReason}`, () => {
  beforeAll(async () => {
    const dir = tempDir('plan-dicom');
    const cohort = await writeTestCohort(dir, 1, 19);
    caseId = cohort.patients[0]!.caseId;
    seriesDir = join(dir, 'incoming', 'series-1');
    runOracle('dicom_oracle.py', ['write', join(cohort.dir, 'cases', caseId, 'pre-ct.nii.gz'), seriesDir, JSON.stringify({ seed: 3 })]);
    config = testConfig(dir, cohort.dir, { planning: { drugHorizon: 1, embolicHorizon: 1 } });
    stack = await startTemporalStack(dir, config);
    client = stack.client;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('reads the series, segments it with the assistant, plans, and keeps DICOM header identifiers out of the history', async () => {
    const handle = await client.workflow.start('planTreatment', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'plan-dicom',
      args: [{ case: await stageCase(config, { caseId, ct: seriesDir }), settings: config.planning, requirements: stack.requirements }],
    });
    const result = (await handle.result()) as PlanResult;
    expect(result.prepared).toMatchObject({ sourceKind: 'dicom', maskSource: 'assistant' });
    expect(isValidProtocol(result.protocol)).toBe(true);
    const history = historyToJSON(await handle.fetchHistory());
    expect(history).toContain('segmentCase');
    expect(history).not.toContain('SECRET-PATIENT-123');
    expect(history).not.toMatch(/Doe\^Jane/);
    expect(history).not.toContain(seriesDir);
  });
});
