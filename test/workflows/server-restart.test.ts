/**
 * Server restart: the Temporal dev server is stopped in the middle of a cohort and started again
 * on the same SQLite file and port. The workers ride it out, the cohort finishes, and every patient
 * is planned exactly once (no patient lost, none duplicated).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { MewmConfig } from '../../src/config/config';
import { createWorldModel } from '../../src/backends/world-model';
import type { DevServer } from '../../workers/dev-server';
import { cohortProgressQuery } from '../../workflows/queries';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { CohortResult } from '../../workflows/types';
import { writeManifest } from '../support/cases';
import { slowWorldModel } from '../support/slow-world-model';
import {
  caseOf,
  stageCohort,
  connectClient,
  startTestServer,
  startWorkers,
  tempDir,
  testConfig,
  writeTestCohort,
  type RunningWorkers,
} from '../support/temporal';

let dir: string;
let server: DevServer;
let workers: RunningWorkers;
let config: MewmConfig;
let manifest: string;
let caseIds: string[];
const clients: Client[] = [];

beforeAll(async () => {
  dir = tempDir('restart');
  const cohort = await writeTestCohort(dir, 4, 31);
  caseIds = cohort.patients.map((p) => p.caseId);
  manifest = writeManifest(
    join(cohort.dir, 'restart.jsonl'),
    caseIds.map((id) => caseOf(cohort.dir, id)),
  );
  config = testConfig(dir, cohort.dir, { planning: { drugHorizon: 1, embolicHorizon: 1 } });
  server = await startTestServer(join(dir, 'temporal.sqlite'));
  const world = slowWorldModel(await createWorldModel(config.worldModel), 150);
  workers = await startWorkers({ address: server.address, config, overrides: { world } });
});

afterAll(async () => {
  await workers?.stop();
  for (const c of clients) await c.connection.close().catch(() => {});
  await server?.stop();
});

describe('Temporal server restart mid-cohort', () => {
  it('finishes the cohort on the restarted server with every patient planned exactly once', { timeout: 240_000 }, async () => {
    const first = await connectClient(server.address);
    clients.push(first);
    const handle = await first.workflow.start('runCohort', {
      taskQueue: TASK_QUEUES.cpu,
      workflowId: 'cohort-restart',
      args: [
        {
          cohortId: 'restart',
          cases: await stageCohort(config, 'restart', manifest),
          settings: config.planning,
          concurrency: 2,
          pageSize: 2,
          requirements: await workers.requirements(),
        },
      ],
    });
    // Stop the server once some, not all, patients are done.
    let done = 0;
    for (let i = 0; i < 600 && done < 1; i++) {
      const progress = await handle.query(cohortProgressQuery).catch(() => null);
      done = progress ? progress.completed : 0;
      if (done < 1) await new Promise((r) => setTimeout(r, 100));
    }
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(4);
    const port = Number(server.address.split(':')[1]);
    await server.stop();
    await new Promise((r) => setTimeout(r, 1500));
    server = await startTestServer(join(dir, 'temporal.sqlite'), port);

    const second = await connectClient(server.address);
    clients.push(second);
    const result = (await second.workflow.getHandle('cohort-restart').result()) as CohortResult;
    expect(result).toMatchObject({ total: 4, completed: 4, failed: 0, skipped: 0 });

    // Visibility: one planTreatment execution per patient, no more.
    let executions: string[] = [];
    for (let i = 0; i < 100; i++) {
      executions = [];
      for await (const w of second.workflow.list({ query: 'MewmCohortId="restart" AND WorkflowType="planTreatment"' })) executions.push(w.workflowId);
      if (executions.length >= 4) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(executions.sort()).toEqual(caseIds.map((id) => `plan-restart-${id}`).sort());
  });
});
