/** Queries: live progress and the audit trail of a plan, progress of a cohort, what a plan or cohort asked for. */
import { defineQuery } from '@temporalio/workflow';
import type { CohortProgress, PlanProgress, PlanSettings, StepSummary, PreparedCase } from './types';
import type { ActionProposal } from '../src/policy/policy';
import type { PlanRequirements } from '../src/core/serving';

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
/** What a plan or cohort was asked for: its settings and requirements (null: started before requirements). */
export interface AskedFor {
  readonly settings: PlanSettings;
  readonly requirements: PlanRequirements | null;
}

/** What a plan's or cohort's input asked for, so that a command finding it running can tell whether it asks for the same. */
export const askedForQuery = defineQuery<AskedFor>('askedFor');
