/** Deterministic workflow ids: re-running a plan or cohort finds the earlier executions. */
import type { Phase } from '../src/core/vocabulary';

/** The planTreatment workflow id of a cohort patient. */
export function cohortPlanWorkflowId(cohortId: string, caseId: string): string {
  return `plan-${cohortId}-${caseId}`;
}

/** The beamStep child workflow id of one step of a plan. */
export function beamStepWorkflowId(planId: string, phase: Phase, step: number): string {
  return `${planId}--${phase}-${step}`;
}
