/**
 * runCohort: plans every patient of a cohort, for overnight runs of hundreds of patients. The input
 * names the cohort's case source artifact (case ids + case source refs; no paths, see
 * activities/case-source), so no file name reaches the history.
 *
 * - A page of `pageSize` cases per run; each run ends in continue-as-new, so the history of the
 *   cohort workflow stays bounded whatever the cohort size. The page is drained before the next
 *   run starts (no child outlives the run that started it).
 * - Within a page, a sliding window: at most `concurrency` planTreatment children at once.
 * - Child ids are deterministic (`plan-<cohortId>-<caseId>`): a re-run first asks which plans
 *   already completed and skips them; failed or terminated ones are planned again.
 * - Per-patient isolation: a child that fails (e.g. a corrupt CT, a non-retryable InvalidVolume)
 *   is recorded with its failure type and the cohort goes on.
 * - Each page's outcomes are written as a JSON Lines artifact; counts and page refs are carried
 *   across continue-as-new, so results survive restarts of workers and of the server.
 */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  continueAsNew,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  log,
} from '@temporalio/workflow';
import { activityProfiles } from './activity-profiles';
import { failureType } from './failures';
import { cohortPlanWorkflowId } from './ids';
import { planTreatment } from './plan-treatment';
import { cohortProgressQuery, askedForQuery } from './queries';
import { MewmCaseId, MewmCohortId, MewmStatus } from './search-attributes';
import type { CohortCaseOutcome, CohortResult, CohortState, CohortWorkflowInput } from './types';

export async function runCohort(input: CohortWorkflowInput): Promise<CohortResult> {
  let state: CohortState = input.state ?? { nextOffset: 0, total: null, completed: 0, failed: 0, skipped: 0, pages: [], runs: 0 };
  const running = new Set<string>();
  setHandler(cohortProgressQuery, () => ({ ...state, running: [...running] }));
  setHandler(askedForQuery, () => ({ settings: input.settings, requirements: input.requirements ?? null }));
  upsertSearchAttributes([
    { key: MewmCohortId, value: input.cohortId },
    { key: MewmStatus, value: 'running' },
  ]);

  const { cpu } = activityProfiles(input.settings.timeouts);
  const page = await cpu.readCohortPage({ cases: input.cases, offset: state.nextOffset, limit: input.pageSize });
  state = { ...state, total: page.total };
  const ids = page.cases.map((c) => cohortPlanWorkflowId(input.cohortId, c.caseId));
  const finished = ids.length > 0 ? await cpu.findFinishedPlans({ workflowIds: ids }) : {};

  const outcomes: CohortCaseOutcome[] = [];
  const children: Promise<void>[] = [];
  const record = (outcome: CohortCaseOutcome) => {
    outcomes.push(outcome);
    state = {
      ...state,
      completed: state.completed + (outcome.status === 'completed' ? 1 : 0),
      failed: state.failed + (outcome.status === 'failed' ? 1 : 0),
      skipped: state.skipped + (outcome.status === 'skipped' ? 1 : 0),
    };
  };

  for (const [i, patient] of page.cases.entries()) {
    const workflowId = ids[i]!;
    const earlier = finished[workflowId];
    if (earlier) {
      record(earlier);
      continue;
    }
    await condition(() => running.size < input.concurrency);
    running.add(workflowId);
    try {
      const child = await startChild(planTreatment, {
        workflowId,
        args: [{ case: patient, settings: input.settings, cohortId: input.cohortId, ...(input.requirements ? { requirements: input.requirements } : {}) }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        typedSearchAttributes: [
          { key: MewmCohortId, value: input.cohortId },
          { key: MewmCaseId, value: patient.caseId },
          { key: MewmStatus, value: 'running' },
        ],
      });
      children.push(
        child
          .result()
          .then(
            (result) => record({ caseId: patient.caseId, workflowId, status: 'completed', protocol: result.protocol, risk: result.risk }),
            (error: unknown) => {
              const { type, message } = failureType(error);
              log.warn('cohort patient failed', { caseId: patient.caseId, type });
              record({ caseId: patient.caseId, workflowId, status: 'failed', errorType: type, error: message });
            },
          )
          .finally(() => running.delete(workflowId)),
      );
    } catch (error) {
      // Started elsewhere meanwhile (e.g. a concurrent re-run of the same cohort): not ours to count twice.
      running.delete(workflowId);
      const { type, message } = failureType(error);
      record({ caseId: patient.caseId, workflowId, status: 'failed', errorType: type === 'Internal' ? 'StartFailed' : type, error: message });
    }
  }
  await Promise.all(children);

  const pageRef = outcomes.length > 0 ? await cpu.writeCohortPage({ cohortId: input.cohortId, offset: state.nextOffset, outcomes }) : null;
  state = { ...state, nextOffset: state.nextOffset + page.cases.length, pages: pageRef ? [...state.pages, pageRef] : state.pages, runs: state.runs + 1 };

  if (page.cases.length > 0 && state.nextOffset < page.total) {
    log.info('cohort page done, continuing as new', {
      cohortId: input.cohortId,
      nextOffset: state.nextOffset,
      total: page.total,
      historyLength: workflowInfo().historyLength,
    });
    return continueAsNew<typeof runCohort>({ ...input, state });
  }
  upsertSearchAttributes([{ key: MewmStatus, value: state.failed > 0 ? 'completed-with-failures' : 'completed' }]);
  return {
    schema: 'mewm.cohort/1',
    cohortId: input.cohortId,
    total: page.total,
    completed: state.completed,
    failed: state.failed,
    skipped: state.skipped,
    pages: state.pages,
  };
}
