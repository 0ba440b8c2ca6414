/**
 * A cohort as a runCohort workflow, seen from a command: its id, staging the cohort source and
 * starting the workflow (or following the one running under the same id), its completed result,
 * and its per-patient outcomes. Used by `mewm cohort` and `mewm evaluate`.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { writeCohortSource, type CaseInput } from '../../activities/case-source';
import type { ArtifactStores } from '../artifacts';
import type { ArtifactStore } from '../artifacts/store';
import type { Logger } from '../logging/logger';
import type { PlanRequirements } from '../core/serving';
import type { CohortCaseOutcome, CohortResult, PlanSettings } from '../../workflows/types';
import { cohorts, cohortWorkflowId, type Started } from './workflow-client';

/**
 * The cohort id when none is given: opaque (a folder name may name a hospital or a patient, and
 * the id lands in Temporal and in file names), yet stable for one manifest file and split, so a
 * re-run resumes the same cohort.
 */
export function defaultCohortId(manifest: string, split: string | undefined): string {
  return createHash('sha256')
    .update(`${resolve(manifest)}\n${split ?? ''}`)
    .digest('hex')
    .slice(0, 12);
}

export interface CohortStart {
  readonly cohortId: string;
  /** The cases with their paths; only case ids and case source artifacts reach the workflow. */
  readonly cases: readonly CaseInput[];
  readonly settings: PlanSettings;
  readonly concurrency: number;
  readonly pageSize: number;
  /** What every plan asks for (src/core/serving.ts): routes them to the workers that serve exactly that. */
  readonly requirements: PlanRequirements;
}

/** Stages the cohort source and starts the cohort workflow, or follows it when one with this id is running. */
export async function startCohort(client: Client, store: ArtifactStore, start: CohortStart, log: Logger): Promise<Started> {
  const source = await writeCohortSource(store, start.cohortId, start.cases);
  const started = await cohorts.start(client, {
    cohortId: start.cohortId,
    cases: source,
    settings: start.settings,
    concurrency: start.concurrency,
    pageSize: start.pageSize,
    requirements: start.requirements,
  });
  if (started.started) log.info({ workflowId: started.workflowId, cases: start.cases.length }, 'cohort started');
  else log.info({ workflowId: started.workflowId }, 'this cohort is already running: following it');
  return started;
}

/** The result of a cohort workflow that already completed, or null (absent, running, failed, terminated). */
export async function completedCohort(client: Client, workflowId: string): Promise<{ readonly result: CohortResult; readonly runId: string } | null> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    if (description.status.name !== 'COMPLETED') return null;
    const result = await cohorts.result(client, workflowId);
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

export { cohortWorkflowId };
