/**
 * Records the event histories the replay test replays (test/replay/histories/*.json): a full plan,
 * one of its beam steps, a cohort run (first page, ending in continue-as-new, with a failed
 * patient) and a failed plan, all with requirements (replay-req-*). The histories without them
 * (replay-plan*, replay-cohort, plan-replay-BAD-0001) were recorded before requirements existed
 * and are kept as recorded. Re-record after an intended workflow change:
 *
 *   node --import tsx test/replay/record-histories.ts
 *
 * A workflow change that makes the committed histories fail to replay is a nondeterminism bug for
 * running workflows: version it (patched()) instead of re-recording.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { beamStepWorkflowId, cohortPlanWorkflowId } from '../../workflows/ids';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { CohortInput } from '../../workflows/types';
import { writeCorruptCase, writeManifest } from '../support/cases';
import { caseOf, stageCase, stageCohort, connectClient, startTestServer, startWorkers, tempDir, testConfig, writeTestCohort } from '../support/temporal';

const out = join(import.meta.dirname, 'histories');
mkdirSync(out, { recursive: true });
const dir = tempDir('record');
const cohort = await writeTestCohort(dir, 2, 41);
const ids = cohort.patients.map((p) => p.caseId);
const config = testConfig(dir, cohort.dir);
const server = await startTestServer(join(dir, 'temporal.sqlite'));
const client = await connectClient(server.address);
const workers = await startWorkers({ address: server.address, config });
try {
  // Since requirements (PlanInput.requirements): new ids, so the histories recorded before them
  // (replay-plan*, replay-cohort, plan-replay-BAD-0001, inputs without requirements) stay as they are.
  const requirements = await workers.requirements();
  const planId = 'replay-req-plan';
  await client.workflow.execute('planTreatment', {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: planId,
    args: [{ case: await stageCase(config, caseOf(cohort.dir, ids[0]!)), settings: config.planning, requirements }],
  });
  const bad = writeCorruptCase(join(cohort.dir, 'cases'), 'BAD-0001');
  const manifest = writeManifest(join(cohort.dir, 'replay.jsonl'), [caseOf(cohort.dir, ids[1]!), bad, caseOf(cohort.dir, ids[0]!)]);
  const input: CohortInput = {
    cohortId: 'replay-req',
    cases: await stageCohort(config, 'replay-req', manifest),
    settings: { ...config.planning, drugHorizon: 1, embolicHorizon: 1 },
    concurrency: 2,
    pageSize: 2,
    requirements,
  };
  const cohortHandle = await client.workflow.start('runCohort', { taskQueue: TASK_QUEUES.cpu, workflowId: 'replay-req-cohort', args: [input] });
  await cohortHandle.result();
  // Files are named by workflow id: replay needs the original id (child ids derive from it).
  const save = async (workflowId: string, runId?: string) => {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    writeFileSync(join(out, `${workflowId}.json`), `${historyToJSON(history)}\n`);
    process.stdout.write(`recorded ${workflowId} (${history.events?.length ?? 0} events)\n`);
  };
  await save(planId); // planTreatment, completed
  await save(beamStepWorkflowId(planId, 'drug', 1)); // beamStep
  await save('replay-req-cohort', cohortHandle.firstExecutionRunId); // runCohort first page, ends in continue-as-new, one failed patient
  await save(cohortPlanWorkflowId('replay-req', 'BAD-0001')); // planTreatment failed on a corrupt CT
} finally {
  await workers.stop();
  await client.connection.close();
  await server.stop();
}
