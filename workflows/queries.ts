/** Queries: live progress and the audit trail of a plan, progress of a cohort. */
import { defineQuery } from '@temporalio/workflow';
import type { CohortProgress, PlanProgress, StepSummary, PreparedCase } from './types';
import type { ActionProposal } from '../src/policy/policy';

export interface PlanAuditView {
  readonly planId: string;
  readonly caseId: string;
  readonly prepared: PreparedCase | null;
  readonly proposal: ActionProposal | null;
  readonly steps: readonly StepSummary[];
}

export const planProgressQuery = defineQuery<PlanProgress>('planProgress');
export const planAuditQuery = defineQuery<PlanAuditView>('planAudit');
export const cohortProgressQuery = defineQuery<CohortProgress>('cohortProgress');
