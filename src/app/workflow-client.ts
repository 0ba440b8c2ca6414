/**
 * The typed Temporal client of mewm's two top-level workflows: start, result and query per
 * workflow type, and every top-level workflow id built here. Commands never name a workflow type
 * by string or cast a result; the connection comes from `openTemporal` (./temporal.ts).
 *
 *   plan     planTreatment   id `plan-<caseId>-s<seed>` (or the user's --workflow-id)
 *   cohort   runCohort       id `cohort-<cohortId>` (its plans: workflows/ids.ts cohortPlanWorkflowId)
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { MewmError } from '../core/errors';
import { cohortProgressQuery, planAuditQuery, planProgressQuery, type PlanAuditView } from '../../workflows/queries';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { assertSameAsked } from '../../workers/serving';
import type { planTreatment } from '../../workflows/plan-treatment';
import type { runCohort } from '../../workflows/run-cohort';
import type { CohortInput, CohortProgress, CohortResult, PlanInput, PlanProgress, PlanResult } from '../../workflows/types';

/** The workflow types a command may start, by the name the workers register. */
export const WORKFLOW_TYPES = { plan: 'planTreatment', cohort: 'runCohort' } as const;

export function planWorkflowId(caseId: string, seed: number): string {
  return `plan-${caseId}-s${seed}`;
}

export function cohortWorkflowId(cohortId: string): string {
  return `cohort-${cohortId}`;
}

/** True when this call started the workflow, false when one with this id was already running (and is followed). */
export type Started = { readonly workflowId: string; readonly started: boolean };

/** A running workflow is followed only when it asked for the same settings and requirements (else ServingMismatch, workers/serving.ts). */
async function startOrFollow(
  client: Client,
  start: () => Promise<unknown>,
  workflowId: string,
  asked: Parameters<typeof assertSameAsked>[1],
): Promise<Started> {
  try {
    await start();
    return { workflowId, started: true };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    await assertSameAsked(client.workflow.getHandle(workflowId), asked);
    return { workflowId, started: false };
  }
}

export const plans = {
  start(client: Client, workflowId: string, input: PlanInput): Promise<Started> {
    return startOrFollow(
      client,
      () => client.workflow.start<typeof planTreatment>(WORKFLOW_TYPES.plan, { taskQueue: TASK_QUEUES.cpu, workflowId, args: [input] }),
      workflowId,
      input,
    );
  },
  result(client: Client, workflowId: string): Promise<PlanResult> {
    return client.workflow.getHandle<typeof planTreatment>(workflowId).result();
  },
  progress(client: Client, workflowId: string): Promise<PlanProgress> {
    return client.workflow.getHandle<typeof planTreatment>(workflowId).query(planProgressQuery);
  },
  /** The step list of a plan that is still running (a worker must be up to answer). */
  auditView(client: Client, workflowId: string): Promise<PlanAuditView> {
    return client.workflow.getHandle<typeof planTreatment>(workflowId).query(planAuditQuery);
  },
};

export const cohorts = {
  start(client: Client, input: CohortInput): Promise<Started> {
    const workflowId = cohortWorkflowId(input.cohortId);
    return startOrFollow(
      client,
      () => client.workflow.start<typeof runCohort>(WORKFLOW_TYPES.cohort, { taskQueue: TASK_QUEUES.cpu, workflowId, args: [input] }),
      workflowId,
      input,
    );
  },
  /** The final result, following continue-as-new to the last run. */
  result(client: Client, workflowId: string): Promise<CohortResult> {
    return client.workflow.getHandle<typeof runCohort>(workflowId).result();
  },
  progress(client: Client, workflowId: string): Promise<CohortProgress> {
    return client.workflow.getHandle<typeof runCohort>(workflowId).query(cohortProgressQuery);
  },
};

/** A run's description; an unknown id is an InvalidInput that says how to find the right one. */
export async function describeRun(client: Client, workflowId: string, hint = 'list runs with `mewm status`'): Promise<WorkflowExecutionDescription> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new MewmError('InvalidInput', `no workflow ${workflowId}: ${hint}`, { workflowId });
    throw error;
  }
}

/** A completed run's result checked by its schema: a plan or a cohort, or InvalidInput. */
export async function completedResult(client: Client, workflowId: string): Promise<PlanResult | CohortResult> {
  const result: unknown = await client.workflow.getHandle(workflowId).result();
  const schema = (result as { schema?: unknown } | null)?.schema;
  if (schema === 'mewm.plan/1') return result as PlanResult;
  if (schema === 'mewm.cohort/1') return result as CohortResult;
  throw new MewmError('InvalidInput', `workflow ${workflowId} is not a mewm plan or cohort`, { workflowId });
}

/** Progress of a running plan or cohort, by its workflow type. */
export function runProgress(client: Client, description: WorkflowExecutionDescription): Promise<PlanProgress | CohortProgress> {
  return description.type === WORKFLOW_TYPES.cohort ? cohorts.progress(client, description.workflowId) : plans.progress(client, description.workflowId);
}

/**
 * Waits for `result`, calling `poll` every `everyMs` meanwhile; a poll that fails (a run not yet
 * started, between continue-as-new runs or between workers) is skipped: the next one will tell.
 */
export async function awaitPolling<T>(result: Promise<T>, poll: () => Promise<void>, everyMs: number): Promise<T> {
  let finished = false;
  const polling = (async () => {
    while (!finished) {
      await poll().catch(() => undefined);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  try {
    return await result;
  } finally {
    finished = true;
    await polling;
  }
}

/** A plan's result, reporting its progress every half second while it runs. */
export function followPlan(client: Client, workflowId: string, onProgress: (progress: PlanProgress) => void = () => {}): Promise<PlanResult> {
  return awaitPolling(plans.result(client, workflowId), async () => onProgress(await plans.progress(client, workflowId)), 500);
}

/** A cohort's final result, reporting its progress every second while it runs. */
export function followCohort(client: Client, workflowId: string, onProgress: (progress: CohortProgress) => void = () => {}): Promise<CohortResult> {
  return awaitPolling(cohorts.result(client, workflowId), async () => onProgress(await cohorts.progress(client, workflowId)), 1000);
}
