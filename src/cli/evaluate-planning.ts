/**
 * The MeWM rows of `mewm evaluate` that it plans itself: each method (and each ablation of one) is
 * a runCohort workflow over the evaluated split, on the configured Temporal (the embedded dev
 * server when TEMPORAL_ADDRESS is unset), so it is resumable and audited like any other cohort.
 *
 *   mewm-oracle   the oracle world model of this synthetic cohort (the world's own truth)
 *   mewm-onnx     the learned models (MEWM_WORLD_MODEL=onnx, MEWM_MODEL_DIR)
 *   mewm-llm      the LLM policy on the configured endpoint with the learned models
 *                 (skipped, with the reason, when no endpoint is configured)
 *   mewm-posterior-oracle  the posterior oracle of this cohort (src/world/posterior-oracle.ts): the
 *                 world's true risk averaged over the hidden biology given what the pre-CT shows,
 *                 the ceiling for an image-based planner; its variant `known-biology` is the same
 *                 with the true hidden biology (the full oracle's exact risk, no image noise)
 *
 * mewm-oracle, mewm-posterior-oracle and mewm-onnx take their candidates from the guideline policy (the action base with
 * MEWM_POLICY=action-base); every method plans with the configured planning settings.
 *
 * Ablations are variants of one of them, written METHOD/VARIANT: `no-assistant` (simulated CTs
 * scored with the pre-treatment mask, planning.reusePreTreatmentMask), `replicas-N` (T = N),
 * `beams-N` (B = N); and differently trained ONNX model folders (`--ablation-models ID=DIR`,
 * variants of mewm-onnx).
 *
 * The world model and the policy belong to a worker (workers/dependencies.ts), so methods run one
 * after another, each with its own in-process workers. Each cohort id is a hash of (manifest, split,
 * method, world model, policy, planning settings): a re-run finds the completed cohort workflow and
 * reuses it without planning; an unfinished one (a killed run) is followed and completed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { readCohortManifest } from '../../activities/case-source';
import { ArtifactStores, parseArtifactLocation } from '../artifacts';
import { validateConfig, type MewmConfig } from '../config/config';
import { isMewmError, MewmError, toMewmError } from '../core/errors';
import { protocolKey } from '../core/vocabulary';
import type { CandidateRisk, MethodPredictions } from '../evaluation/evaluate';
import { methodFromCohortOutcomes } from '../evaluation/evaluate';
import { policyConfigFromEnv, type LlmEndpointConfig, type PolicyConfig } from '../policy/index';
import { createPosteriorOracleWorldModel, posteriorOracleVersion, type PosteriorOracleOptions } from '../world/posterior-oracle';
import { bundleWorkflows } from '../../workers/create-workers';
import { createLogger } from '../logging/logger';
import { QUEUE_ROLES } from '../../workflows/task-queues';
import type { CohortCaseOutcome, CohortResult } from '../../workflows/types';
import { cohortWorkflowId, completedCohort, readCohortOutcomes, startCohort } from '../app/cohort-run';
import { loadPlanAudit, type PlanAudit } from '../app/plan-audit';
import { followCohort } from '../app/workflow-client';
import { progressReporter } from './command-support';
import { openTemporal } from '../app/temporal';
import { startInProcessWorkers } from '../../workers/run';
import { worldModelRequirementFromConfig } from '../../workers/serving';
import type { WorldModelRequirement } from '../core/serving';

export const PLANNERS = ['mewm-oracle', 'mewm-onnx', 'mewm-llm', 'mewm-posterior-oracle'] as const;
export type PlannerId = (typeof PLANNERS)[number];

export type AblationVariant =
  | { readonly kind: 'no-assistant' }
  | { readonly kind: 'replicas'; readonly n: number }
  | { readonly kind: 'beams'; readonly n: number }
  | { readonly kind: 'models'; readonly name: string; readonly modelDir: string }
  | { readonly kind: 'known-biology' };

export interface PlanningMethod {
  /** Method id in tables and file names, e.g. mewm-oracle, mewm-oracle-replicas-1, mewm-onnx-no-contrastive. */
  readonly id: string;
  readonly planner: PlannerId;
  readonly variant?: AblationVariant;
}

const PLANNER_LABELS: Record<PlannerId, string> = {
  'mewm-oracle': 'MeWM, oracle world model',
  'mewm-onnx': 'MeWM, learned models (ONNX)',
  'mewm-llm': 'MeWM, LLM policy + learned models',
  'mewm-posterior-oracle': 'MeWM, posterior oracle (pre-CT only)',
};

export function isPlanner(name: string): name is PlannerId {
  return (PLANNERS as readonly string[]).includes(name);
}

/** `mewm-oracle` or `mewm-oracle/replicas-1` as a planning method; null when `entry` names no planner. */
export function parsePlanningMethod(entry: string): PlanningMethod | null {
  const [planner, variant, ...rest] = entry.split('/');
  if (!planner || !isPlanner(planner)) return null;
  if (variant === undefined) return { id: planner, planner };
  if (rest.length > 0) throw new MewmError('InvalidInput', `--methods: "${entry}" has more than one variant`);
  if (variant === 'no-assistant') return { id: `${planner}-no-assistant`, planner, variant: { kind: 'no-assistant' } };
  if (variant === 'known-biology') {
    if (planner !== 'mewm-posterior-oracle')
      throw new MewmError('InvalidInput', `--methods: known-biology is a variant of mewm-posterior-oracle only, not of ${planner}`);
    return { id: `${planner}-known-biology`, planner, variant: { kind: 'known-biology' } };
  }
  const sized = /^(replicas|beams)-([1-9]\d?)$/.exec(variant);
  if (sized) return { id: `${planner}-${variant}`, planner, variant: { kind: sized[1] as 'replicas' | 'beams', n: Number(sized[2]) } };
  throw new MewmError(
    'InvalidInput',
    `--methods: unknown ablation "${variant}" of ${planner} (known: no-assistant, replicas-N, beams-N, known-biology of mewm-posterior-oracle; model folders with --ablation-models ID=DIR)`,
  );
}

/** `--ablation-models ID=DIR`: mewm-onnx with a differently trained model folder. */
export function modelAblation(name: string, dir: string): PlanningMethod {
  return { id: `mewm-onnx-${name}`, planner: 'mewm-onnx', variant: { kind: 'models', name, modelDir: resolve(dir) } };
}

/** The method an ablation removes a component from; known-biology is a method of its own (the posterior oracle's reference), not an ablation. */
export function ablationOf(method: PlanningMethod): PlannerId | undefined {
  return method.variant && method.variant.kind !== 'known-biology' ? method.planner : undefined;
}

function variantLabel(variant: AblationVariant): string {
  switch (variant.kind) {
    case 'no-assistant':
      return 'without assistant model (pre-treatment mask)';
    case 'replicas':
      return `T = ${variant.n} replica${variant.n === 1 ? '' : 's'}`;
    case 'beams':
      return `B = ${variant.n} beam${variant.n === 1 ? '' : 's'}`;
    case 'models':
      return `models "${variant.name}"`;
    case 'known-biology':
      return 'hidden biology known (exact full-oracle risk)';
  }
}

export function planningLabel(method: PlanningMethod, policy: PolicyConfig = {}): string {
  if (method.variant?.kind === 'known-biology')
    return `MeWM, oracle with exact risk (hidden biology known, no image noise)${policy.actionBase ? ', action base' : ''}`;
  if (method.variant) return `${method.planner}: ${variantLabel(method.variant)}`;
  return `${PLANNER_LABELS[method.planner]}${policy.actionBase ? ', action base' : ''}`;
}

/** What one method plans with: its world model, policy and settings, and the cohort id they hash to. */
export interface ResolvedPlanningMethod {
  readonly method: PlanningMethod;
  readonly label: string;
  readonly config: MewmConfig;
  readonly policy: PolicyConfig;
  readonly cohortId: string;
  /** mewm-posterior-oracle: the posterior oracle's options (its world model is built here and given to the workers). */
  readonly posterior?: PosteriorOracleOptions;
}

export interface EvaluatedCohort {
  readonly dir: string;
  readonly split: 'train' | 'val' | 'test' | 'all';
}

type Env = Readonly<Record<string, string | undefined>>;

/** The configured LLM endpoint whatever MEWM_POLICY says, or undefined when none is configured. */
export function configuredLlmEndpoint(env: Env): LlmEndpointConfig | undefined {
  try {
    return policyConfigFromEnv({ ...env, MEWM_POLICY: 'llm' }).llm;
  } catch (error) {
    if (isMewmError(error, 'InvalidConfig')) return undefined;
    throw error;
  }
}

function policyFor(planner: PlannerId, base: MewmConfig, env: Env): PolicyConfig | { skip: string } {
  if (planner === 'mewm-llm') {
    const llm = configuredLlmEndpoint(env);
    return llm ? { llm } : { skip: 'no LLM endpoint configured (set OPENAI_BASE_URL and/or OPENAI_API_KEY, docs/policy.md)' };
  }
  // The offline methods never call an endpoint, even when one is configured.
  return base.policy.actionBase ? { actionBase: true } : {};
}

/** The three model manifests of an ONNX model folder (they hold the weights' sha256), or its path when they are absent. */
function modelFingerprint(modelDir: string): string {
  const hash = createHash('sha256');
  let found = false;
  for (const role of ['dynamics', 'assistant', 'heuristic']) {
    const manifest = join(modelDir, role, 'manifest.json');
    if (existsSync(manifest)) {
      hash.update(readFileSync(manifest));
      found = true;
    }
  }
  return found ? hash.digest('hex') : modelDir;
}

export function resolvePlanningMethod(
  base: MewmConfig,
  method: PlanningMethod,
  cohort: EvaluatedCohort,
  env: Env,
  posteriorOptions: { readonly draws?: number; readonly seed?: number } = {},
): ResolvedPlanningMethod | { readonly method: PlanningMethod; readonly skip: string } {
  const policy = policyFor(method.planner, base, env);
  if ('skip' in policy) return { method, skip: policy.skip };
  const variant = method.variant;
  let worldModel: MewmConfig['worldModel'];
  const posterior: PosteriorOracleOptions | undefined =
    method.planner === 'mewm-posterior-oracle' ? (variant?.kind === 'known-biology' ? { knownBiology: true } : { ...posteriorOptions }) : undefined;
  if (method.planner === 'mewm-oracle' || method.planner === 'mewm-posterior-oracle') {
    // The posterior oracle's world model is handed to the workers (runPlanningMethods); the oracle settings keep the configuration valid.
    worldModel = { ...base.worldModel, backend: 'oracle', oracleCohortDir: resolve(cohort.dir) };
  } else {
    const modelDir = variant?.kind === 'models' ? variant.modelDir : base.worldModel.modelDir;
    if (!modelDir) return { method, skip: 'no ONNX model folder configured (set MEWM_MODEL_DIR)' };
    if (!existsSync(modelDir) || !statSync(modelDir).isDirectory())
      return { method, skip: `its ONNX model folder does not exist (${variant?.kind === 'models' ? '--ablation-models' : 'MEWM_MODEL_DIR'})` };
    worldModel = { ...base.worldModel, backend: 'onnx', modelDir: resolve(modelDir) };
  }
  const planning = {
    ...base.planning,
    ...(variant?.kind === 'no-assistant' ? { reusePreTreatmentMask: true } : {}),
    ...(variant?.kind === 'replicas' ? { replicas: variant.n } : {}),
    ...(variant?.kind === 'beams' ? { beams: variant.n } : {}),
  };
  const config = validateConfig({ ...base, worldModel, planning });
  const manifest = readFileSync(join(cohort.dir, 'manifest.jsonl'));
  const identity = {
    schema: 'mewm.evaluate-cohort/1',
    manifest: createHash('sha256').update(manifest).digest('hex'),
    split: cohort.split,
    method: method.id,
    world: posterior
      ? { backend: 'posterior-oracle', version: posteriorOracleVersion(posterior) }
      : worldModel.backend === 'oracle'
        ? { backend: 'oracle', labelCache: worldModel.oracleLabelCache }
        : { backend: 'onnx', models: modelFingerprint(worldModel.modelDir!), sampler: worldModel.sampler },
    policy: policy.llm
      ? { llm: policy.llm.model, refine: policy.llm.refineModel ?? null, endpoint: policy.llm.baseURL }
      : policy.actionBase
        ? 'action-base'
        : 'guideline',
    planning,
  };
  const hash = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 12);
  return { method, label: planningLabel(method, policy), config, policy, cohortId: `eval-${method.id}-${hash}`, ...(posterior ? { posterior } : {}) };
}

/** One planned method, as written to planning.json. */
export interface PlanningRecord {
  readonly method: string;
  readonly label: string;
  readonly cohortWorkflowId: string;
  /** The run whose result was used. */
  readonly runId: string;
  /** True when a completed cohort workflow was found and nothing was planned or started. */
  readonly reused: boolean;
  readonly total: number;
  /** Patients planned by the run(s) of this cohort workflow. */
  readonly planned: number;
  /** Patients whose plan had completed before this cohort run started (reused plans). */
  readonly alreadyPlanned: number;
  readonly failed: number;
  readonly worldModel: {
    readonly backend: string;
    readonly modelDir?: string;
    readonly version?: string;
    /** ONNX: each model as name, version and sha256 prefix, and the runtime settings that change numbers (sampler, provider, batch, threads). */
    readonly models?: Readonly<Record<'dynamics' | 'assistant' | 'heuristic', string>>;
    readonly runtime?: WorldModelRequirement['runtime'];
  };
  readonly policy: string;
  readonly settings: Readonly<Record<string, unknown>>;
}

export interface PlanningOutcome {
  readonly methods: readonly MethodPredictions[];
  readonly records: readonly PlanningRecord[];
  readonly skipped: readonly string[];
}

/** Case order (code-unit order of the pseudonymous ids): the risk figures go to the same patients on every run. */
function byCaseId(a: { readonly caseId: string }, b: { readonly caseId: string }): number {
  return a.caseId < b.caseId ? -1 : a.caseId > b.caseId ? 1 : 0;
}

/** Explored complete protocols of a plan (embolic-phase candidates) with their replica spread (min and max risk over T). */
export function candidatesFromAudit(audit: PlanAudit): CandidateRisk[] {
  const byKey = new Map<string, CandidateRisk>();
  for (const step of audit.steps) {
    if (step.phase !== 'embolic') continue;
    for (const c of step.candidates) {
      const risks = c.replicas.map((r) => r.risk);
      if (risks.length === 0) continue;
      byKey.set(protocolKey(c.protocol), { protocol: c.protocol, meanRisk: c.meanRisk, lowerRisk: Math.min(...risks), upperRisk: Math.max(...risks) });
    }
  }
  return [...byKey.values()];
}

function settingsSummary(config: MewmConfig): Record<string, unknown> {
  const p = config.planning;
  return {
    beams: p.beams,
    replicas: p.replicas,
    drugCandidates: p.drugCandidates,
    embolicCandidates: p.embolicCandidates,
    drugHorizon: p.drugHorizon,
    embolicHorizon: p.embolicHorizon,
    requireImprovement: p.requireImprovement,
    reusePreTreatmentMask: p.reusePreTreatmentMask ?? false,
    segmentationFocusMarginMm: p.segmentationFocusMarginMm ?? null,
    seed: p.seed,
    roiSize: p.roiSize,
    roiSpacingMm: p.roiSpacingMm,
  };
}

/**
 * Plans (or reuses) every method in turn and returns their rows, with per-patient candidates from
 * the plan audits for the first `riskBarCases` completed patients of each method.
 */
export async function runPlanningMethods(options: {
  readonly base: MewmConfig;
  readonly methods: readonly PlanningMethod[];
  readonly cohort: EvaluatedCohort;
  /** The evaluated case ids (outcomes of other cases are ignored). */
  readonly caseIds: ReadonlySet<string>;
  readonly riskBarCases: number;
  readonly env: Env;
  readonly log: (line: string) => void;
  /** mewm-posterior-oracle: K posterior draws and their seed (defaults of src/world/posterior.ts). */
  readonly posterior?: { readonly draws?: number; readonly seed?: number };
}): Promise<PlanningOutcome> {
  const { base, cohort, log } = options;
  const skipped: string[] = [];
  const resolved: ResolvedPlanningMethod[] = [];
  const skippedIds = new Set<string>();
  for (const method of options.methods) {
    const r = resolvePlanningMethod(base, method, cohort, options.env, options.posterior);
    const of = ablationOf(method);
    if ('skip' in r) {
      skipped.push(`${method.id}: ${r.skip}`);
      skippedIds.add(method.id);
    } else if (of !== undefined && skippedIds.has(of)) {
      skipped.push(`${method.id}: the method it ablates (${of}) was skipped`);
      skippedIds.add(method.id);
    } else {
      resolved.push(r);
    }
  }
  for (const s of skipped) log(`not planned: ${s}`);
  if (resolved.length === 0) return { methods: [], records: [], skipped };

  const cases = await readCohortManifest(join(cohort.dir, 'manifest.jsonl'), cohort.split === 'all' ? undefined : cohort.split);
  const logger = createLogger(base.log);
  const session = await openTemporal(base, logger, { workers: [] });
  const stores = new ArtifactStores(base.artifacts.s3);
  let bundle: Promise<{ code: string }> | undefined;
  const methods: MethodPredictions[] = [];
  const records: PlanningRecord[] = [];
  try {
    const store = stores.forConfig(parseArtifactLocation(base.artifacts.location, base.artifacts.s3));
    for (const r of resolved) {
      const workflowId = cohortWorkflowId(r.cohortId);
      let done = await completedCohort(session.client, workflowId);
      const reused = done !== null && done.result.failed === 0;
      if (reused) {
        log(`${r.method.id}: reusing the completed cohort workflow ${workflowId} (nothing planned)`);
      } else {
        log(
          `${r.method.id}: planning ${cases.length} patients as cohort workflow ${workflowId} (${r.posterior ? `posterior oracle ${posteriorOracleVersion(r.posterior)}` : `${r.config.worldModel.backend} world model`}, B=${r.config.planning.beams} T=${r.config.planning.replicas})`,
        );
        bundle ??= bundleWorkflows();
        // The posterior oracle scores only CTs its own dynamics rendered: one world model for this method's workers.
        const world = r.posterior ? await createPosteriorOracleWorldModel({ cohortDir: resolve(cohort.dir), ...r.posterior }) : undefined;
        const workers = await startInProcessWorkers({
          config: r.config,
          address: session.address,
          roles: QUEUE_ROLES,
          log: logger.child({ component: 'worker', method: r.method.id }),
          overrides: { policyConfig: r.policy, ...(world ? { world } : {}) },
          workflowBundle: await bundle,
          identity: `evaluate-${r.method.id}`,
        });
        try {
          const { started } = await startCohort(
            session.client,
            store,
            {
              cohortId: r.cohortId,
              cases,
              settings: r.config.planning,
              concurrency: r.config.cohort.concurrency,
              pageSize: r.config.cohort.pageSize,
              requirements: await workers.requirements(),
            },
            logger,
          );
          if (!started) log(`${r.method.id}: the cohort workflow was still running (an interrupted evaluation?): resuming it`);
          // A worker that dies would leave the cohort waiting forever: its failure ends the wait.
          const progress = progressReporter(r.method.id);
          try {
            await Promise.race([
              followCohort(session.client, workflowId, (p) =>
                progress.update(
                  p.completed + p.failed + p.skipped,
                  p.total ?? p.completed + p.failed + p.skipped,
                  `${p.failed} failed, ${p.skipped} skipped, ${p.running.length} running`,
                ),
              ),
              workers.done.then(() => new Promise<never>(() => {})),
            ]);
          } finally {
            progress.finish();
          }
        } finally {
          await workers.stop();
          await world?.close();
        }
        done = await completedCohort(session.client, workflowId);
        if (!done) throw new MewmError('Internal', `${r.method.id}: cohort workflow ${workflowId} did not complete`);
      }
      const result: CohortResult = done!.result;
      // Case order, not completion order: the same patients get risk figures on every run. A `skipped`
      // patient (planned by an earlier run of this cohort workflow) counts as planned in methodFromCohortOutcomes.
      const outcomes = (await readCohortOutcomes(stores, result)).filter((o) => options.caseIds.has(o.caseId)).sort(byCaseId);
      const { candidates, mismatch } = await auditedCandidates(session.client, stores, outcomes, r, options.riskBarCases);
      if (mismatch) {
        skipped.push(`${r.method.id}: ${mismatch}`);
        log(`warning: ${r.method.id}: ${mismatch}`);
      }
      const of = ablationOf(r.method);
      methods.push(methodFromCohortOutcomes(r.method.id, r.label, of ? 'ablation' : 'mewm', outcomes, { candidates, ...(of ? { ablationOf: of } : {}) }));
      const onnx = !r.posterior && r.config.worldModel.backend === 'onnx' ? await worldModelRequirementFromConfig(r.config.worldModel) : undefined;
      const modelLabel = (m: { name: string; version: string; sha256: string }) => `${m.name} ${m.version} (${m.sha256.slice(0, 12)})`;
      records.push({
        method: r.method.id,
        label: r.label,
        cohortWorkflowId: workflowId,
        runId: done!.runId,
        reused,
        total: result.total,
        planned: result.completed,
        alreadyPlanned: result.skipped,
        failed: result.failed,
        worldModel: r.posterior
          ? { backend: 'posterior-oracle', version: posteriorOracleVersion(r.posterior) }
          : {
              backend: r.config.worldModel.backend,
              ...(onnx
                ? {
                    modelDir: r.config.worldModel.modelDir!,
                    models: { dynamics: modelLabel(onnx.dynamics), assistant: modelLabel(onnx.assistant), heuristic: modelLabel(onnx.heuristic) },
                    ...(onnx.runtime ? { runtime: onnx.runtime } : {}),
                  }
                : {}),
            },
        policy: r.policy.llm ? `llm (${r.policy.llm.model})` : r.policy.actionBase ? 'action-base' : 'guideline',
        settings: settingsSummary(r.config),
      });
    }
  } finally {
    stores.close();
    await session.close();
  }
  return { methods, records, skipped };
}

/** Candidates of the first `limit` completed patients, and a note when an audit shows another world model than the method's. */
async function auditedCandidates(
  client: Client,
  stores: ArtifactStores,
  outcomes: readonly CohortCaseOutcome[],
  method: ResolvedPlanningMethod,
  limit: number,
): Promise<{ candidates: Record<string, CandidateRisk[]>; mismatch?: string }> {
  const candidates: Record<string, CandidateRisk[]> = {};
  let mismatch: string | undefined;
  const planned = outcomes.filter((o) => o.status !== 'failed' && o.protocol !== undefined).slice(0, limit);
  for (const o of planned) {
    const audit = await loadPlanAudit(client, stores, o.workflowId);
    const dynamicsModels = audit.steps.flatMap((s) => s.models.filter((m) => m.role === 'dynamics'));
    const backends = new Set(dynamicsModels.map((m) => m.backend));
    const posteriorVersion = method.posterior ? posteriorOracleVersion(method.posterior) : undefined;
    if (posteriorVersion !== undefined && dynamicsModels.some((m) => m.version !== posteriorVersion)) {
      mismatch = `plan audits show dynamics models other than the posterior oracle ${posteriorVersion}: other workers polling mewm's task queues served this cohort (stop them and plan again)`;
    } else if ([...backends].some((b) => b !== method.config.worldModel.backend)) {
      mismatch = `plan audits show a ${[...backends].join('/')} dynamics model, not ${method.config.worldModel.backend}: other workers polling mewm's task queues served this cohort (stop them and plan again)`;
    }
    candidates[o.caseId] = candidatesFromAudit(audit);
  }
  return { candidates, ...(mismatch ? { mismatch } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Rows read from `mewm cohort` outcome files (--mewm, --ablation)

/** Where plan audits come from: the configured Temporal server and artifact store, or a fake in tests. */
export interface PlanAuditSource {
  /** The audit of one plan workflow; rejects when the server does not know it (or its artifacts are gone). */
  audit(workflowId: string): Promise<PlanAudit>;
  close(): Promise<void>;
}

/** Plan audits from the Temporal server evaluate's planning uses (TEMPORAL_ADDRESS, else the embedded server of the data dir). */
export async function temporalAuditSource(base: MewmConfig): Promise<PlanAuditSource> {
  const session = await openTemporal(base, createLogger(base.log), { workers: [] });
  const stores = new ArtifactStores(base.artifacts.s3);
  return {
    audit: (workflowId) => loadPlanAudit(session.client, stores, workflowId),
    async close() {
      stores.close();
      await session.close();
    },
  };
}

/** A method row read from a cohort outcome file: its lines may name their plan workflows (`mewm cohort --out` writes them). */
export interface OutcomeFileRow {
  readonly id: string;
  readonly outcomes: readonly { readonly caseId: string; readonly status: string; readonly protocol?: unknown; readonly workflowId?: string }[];
}

/**
 * Risk-by-protocol candidates for rows read from outcome files, from the audits of the plan
 * workflows their lines name, for the first `limit` completed patients of each row (case order, as
 * for the planned rows). A row goes without figures, with the reason in `skipped`, when its lines
 * name no workflows, no Temporal server can be reached, or the server does not know its plans:
 * the evaluation never fails for want of figures.
 */
export async function candidatesFromOutcomeFiles(
  rows: readonly OutcomeFileRow[],
  limit: number,
  openSource: () => Promise<PlanAuditSource>,
  log: (line: string) => void = () => {},
): Promise<{ readonly candidates: ReadonlyMap<string, Record<string, CandidateRisk[]>>; readonly skipped: readonly string[] }> {
  const candidates = new Map<string, Record<string, CandidateRisk[]>>();
  const skipped: string[] = [];
  if (limit === 0) return { candidates, skipped };
  const wanted = rows.map((row) => ({
    id: row.id,
    plans: row.outcomes
      .filter((o) => o.status !== 'failed' && o.protocol !== undefined && o.workflowId !== undefined)
      .sort(byCaseId)
      .slice(0, limit),
  }));
  for (const w of wanted)
    if (w.plans.length === 0) skipped.push(`${w.id}: risk-by-protocol figures: its outcome lines name no plan workflows (\`mewm cohort --out\` writes them)`);
  const withPlans = wanted.filter((w) => w.plans.length > 0);
  if (withPlans.length === 0) return { candidates, skipped };
  let source: PlanAuditSource;
  try {
    source = await openSource();
  } catch (error) {
    const reason = toMewmError(error);
    for (const w of withPlans)
      skipped.push(`${w.id}: risk-by-protocol figures: no Temporal server with its plan workflows (${reason.code}: ${reason.message})`);
    return { candidates, skipped };
  }
  try {
    for (const w of withPlans) {
      const found: Record<string, CandidateRisk[]> = {};
      const missing: string[] = [];
      for (const o of w.plans) {
        try {
          found[o.caseId] = candidatesFromAudit(await source.audit(o.workflowId!));
        } catch (error) {
          missing.push(toMewmError(error).code);
        }
      }
      const loaded = Object.keys(found).length;
      if (loaded > 0) candidates.set(w.id, found);
      if (missing.length > 0) {
        const codes = [...new Set(missing)].join(', ');
        skipped.push(
          loaded === 0
            ? `${w.id}: risk-by-protocol figures: the Temporal server does not have its plan workflows (${codes})`
            : `${w.id}: risk-by-protocol figures for ${loaded} of ${w.plans.length} patients: the Temporal server does not have the other plan workflows (${codes})`,
        );
      }
      log(`${w.id}: plan audits of ${loaded} of ${w.plans.length} patients for the risk-by-protocol figures`);
    }
  } finally {
    await source.close();
  }
  return { candidates, skipped };
}
