/** The workflow bundle's entry: every workflow type mewm registers. */
export { planTreatment } from './plan-treatment';
export { beamStep } from './beam-step';
export { runCohort } from './run-cohort';
