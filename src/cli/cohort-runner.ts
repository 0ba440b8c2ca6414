/**
 * A cohort as a runCohort workflow, seen from a command: stage the cohort source, start the
 * workflow (or follow the one already running under the same id), wait for it with progress, and
 * read its per-patient outcomes. Shared by `mewm cohort` and `mewm evaluate`.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { writeCohortSource, type CaseInput } from '../../activities/case-source';
import type { ArtifactStores } from '../artifacts';
import type { ArtifactStore } from '../artifacts/store';
import type { Logger } from '../../workers/logging';
import { cohortProgressQuery } from '../../workflows/queries';
import { TASK_QUEUES } from '../../workflows/task-queues';
import type { CohortCaseOutcome, CohortInput, CohortResult, PlanSettings } from '../../workflows/types';
import { progressReporter } from './command-support';

export function cohortWorkflowId(cohortId: string): string {
  return `cohort-${cohortId}`;
}

export interface CohortStart {
  readonly cohortId: string;
  /** The cases with their paths; only case ids and case source artifacts reach the workflow. */
  readonly cases: readonly CaseInput[];
  readonly settings: PlanSettings;
  readonly concurrency: number;
  readonly pageSize: number;
}

/** Starts the cohort workflow, or follows it when one with this id is running. Returns its workflow id. */
export async function startCohort(client: Client, store: ArtifactStore, start: CohortStart, log: Logger): Promise<{ readonly workflowId: string; readonly started: boolean }> {
  const workflowId = cohortWorkflowId(start.cohortId);
  const source = await writeCohortSource(store, start.cohortId, start.cases);
  const input: CohortInput = { cohortId: start.cohortId, cases: source, settings: start.settings, concurrency: start.concurrency, pageSize: start.pageSize };
  try {
    await client.workflow.start('runCohort', { taskQueue: TASK_QUEUES.cpu, workflowId, args: [input] });
    log.info({ workflowId, cases: start.cases.length }, 'cohort started');
    return { workflowId, started: true };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    log.info({ workflowId }, 'this cohort is already running: following it');
    return { workflowId, started: false };
  }
}

/** Waits for the cohort (following continue-as-new to the final run), printing progress to stderr. */
export async function awaitCohort(client: Client, workflowId: string, label: string): Promise<CohortResult> {
  const progress = progressReporter(label);
  let finished = false;
  const poll = (async () => {
    while (!finished) {
      try {
        const p = await client.workflow.getHandle(workflowId).query(cohortProgressQuery);
        const done = p.completed + p.failed + p.skipped;
        progress.update(done, p.total ?? done, `${p.failed} failed, ${p.skipped} skipped, ${p.running.length} running`);
      } catch {
        // between continue-as-new runs: next poll
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return (await client.workflow.getHandle(workflowId).result()) as CohortResult;
  } finally {
    finished = true;
    await poll;
    progress.finish();
  }
}

/** The result of a cohort workflow that already completed, or null (absent, running, failed, terminated). */
export async function completedCohort(client: Client, workflowId: string): Promise<{ readonly result: CohortResult; readonly runId: string } | null> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    if (description.status.name !== 'COMPLETED') return null;
    const result = (await handle.result()) as CohortResult;
    return result?.schema === 'mewm.cohort/1' ? { result, runId: description.runId } : null;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

/** Every patient's outcome, from the result's JSON Lines pages. */
export async function readCohortOutcomes(stores: ArtifactStores, result: CohortResult): Promise<CohortCaseOutcome[]> {
  const outcomes: CohortCaseOutcome[] = [];
  for (const ref of result.pages) {
    const text = new TextDecoder().decode(await stores.storeFor(ref.uri).get(ref));
    for (const line of text.split('\n')) if (line.trim() !== '') outcomes.push(JSON.parse(line) as CohortCaseOutcome);
  }
  return outcomes;
}
