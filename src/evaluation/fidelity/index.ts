/** The action-fidelity evaluation (docs/fidelity.md): learned simulation vs the world's truth over a fixed protocol panel. */
export { ISSUE_10_TARGETS, fidelityChecks, type FidelityCheck, type FidelityThresholds } from './checks';
export { ignoringAction, withDynamics } from './controls';
export { readFidelityCohort, readPlanningRoi, type FidelityCase, type FidelitySplit, type RoiSettings } from './cohort';
export { measurePost, type PostMeasures, type Shares } from './measure';
export { FIDELITY_PANEL, panelCoverage, type PanelEntry } from './panel';
export { renderFidelityReport } from './report';
export { FIDELITY_SCHEMA, replicaSeeds, runFidelity, type CaseRecord, type FidelityOptions, type FidelityRun } from './run';
export { summariseFidelity, type FidelitySummary } from './summary';
