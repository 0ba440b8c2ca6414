/**
 * CPU-queue activities for cohorts: reading one page of a cohort's case source (case ids and case
 * source refs, written by whoever started the cohort: activities/case-source), and finding which
 * patients already have a completed plan (so a re-run skips them).
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ArtifactRef } from '../src/artifacts/store';
import type { CohortCase, CohortCaseOutcome, PlanResult } from '../workflows/types';
import { readCohortSource } from './case-source';
import { withTypedFailures } from './failures';
import type { ActivityLogger, ArtifactResolver } from './deps';

export interface CohortPageInput {
  /** The `mewm.cohort-source/1` artifact. */
  readonly cases: ArtifactRef;
  readonly offset: number;
  readonly limit: number;
}

export interface CohortPage {
  readonly cases: readonly CohortCase[];
  /** Cases in the whole cohort. */
  readonly total: number;
}

export interface CohortDependencies {
  readonly log: ActivityLogger;
  readonly artifacts: ArtifactResolver;
  /** Used outside a worker (in-process runs); inside one, the worker's own client is used. */
  readonly client?: Client;
}

export function createCohortActivities(deps: CohortDependencies) {
  async function readCohortPage(input: CohortPageInput): Promise<CohortPage> {
    const { cases } = await readCohortSource(deps.artifacts, input.cases);
    return { cases: cases.slice(input.offset, input.offset + input.limit), total: cases.length };
  }

  /** Which of these plan workflows already completed, with their outcome. Failed or absent ones are planned again. */
  async function findFinishedPlans(input: { workflowIds: readonly string[] }): Promise<Record<string, CohortCaseOutcome>> {
    const client = deps.client ?? Context.current().client;
    const finished: Record<string, CohortCaseOutcome> = {};
    for (const workflowId of input.workflowIds) {
      const handle = client.workflow.getHandle(workflowId);
      try {
        const description = await handle.describe();
        if (description.status.name !== 'COMPLETED') continue;
        const result = (await handle.result()) as PlanResult;
        finished[workflowId] = { caseId: result.caseId, workflowId, status: 'skipped', protocol: result.protocol, risk: result.risk };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) continue;
        throw error;
      }
    }
    if (Object.keys(finished).length > 0) deps.log.info({ skipped: Object.keys(finished).length }, 'cohort: plans already completed are skipped');
    return finished;
  }

  return withTypedFailures({ readCohortPage, findFinishedPlans });
}

export type CohortActivities = ReturnType<typeof createCohortActivities>;
