/**
 * `mewm evaluate`: the paper's tables and figures for a synthetic cohort written by `mewm synth`.
 *
 *   mewm evaluate --cohort DIR [--out DIR] [--split test|val|train|all] [--seed S] [--resamples N]
 *                 [--methods LIST] [--ablation-models ID=DIR]... [--llm FILE]
 *                 [--mewm ID=FILE]... [--ablation ID:OF=FILE]... [--risk-bars N]
 *                 [--realism-replicas T] [--realism-cases N]
 *
 * Reads DIR/manifest.jsonl (split, physician protocol, observed survival), DIR/truth.jsonl
 * (phenotype, optimal protocol) and DIR/world.json (planning horizons). --methods (comma-separated;
 * default optimal,physician,guideline,llm-only,random-valid,mewm-oracle,mewm-onnx,mewm-llm) picks
 * the rows:
 * - without a planner: the optimal protocol, the synthetic physician, the guideline policy's first
 *   choice on the pre-CT, the LLM-only baseline (`mewm baseline`'s prediction, asked here; skipped
 *   without an endpoint), a seeded random valid protocol;
 * - planned here, each as a resumable runCohort workflow over the split (./evaluate-planning.ts):
 *   mewm-oracle, mewm-onnx, mewm-llm, and ablations METHOD/no-assistant, METHOD/replicas-N,
 *   METHOD/beams-N; --ablation-models ID=DIR adds mewm-onnx with another model folder. A re-run
 *   reuses the completed cohort workflows; their plan audits give the risk-by-protocol figures.
 * Rows from elsewhere: each --mewm / --ablation FILE is JSON Lines of cohort case outcomes
 * `{ caseId, status: completed|failed|skipped, protocol?: { drugs, embolics }, risk?, workflowId? }`
 * (as `mewm cohort --out` writes them; `skipped` is a plan of an earlier run, and counts), and
 * --llm FILE is the output of `mewm baseline`. Lines that name their plan workflow get
 * risk-by-protocol figures from its audit while the configured Temporal server has it.
 * Errors name these files by their role, never by path (docs/architecture.md, Privacy).
 * Writes every table (Markdown, CSV, figure), the Kaplan–Meier plots, per-patient predictions,
 * the risk-by-protocol figures, planning.json (how each planned row was planned), summary.json and
 * a README into --out (default DIR/evaluation).
 *
 * Simulation realism (T = --realism-replicas, default 2; 0 skips it) uses the configured world
 * model (MEWM_WORLD_MODEL; the oracle reads this cohort). Its feature distance is the Fréchet
 * distance between the latent-position Gaussians of the true and the simulated tumour patch in
 * the encoder of the configured dynamics model folder (src/evaluation/feature-distance.ts): our
 * own encoder, not the paper's FID.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { isMewmError, MewmError, toMewmError } from '../core/errors';
import { canonicalProtocol, isDrug, isEmbolic, isValidProtocol, protocolKey, type DrugId, type EmbolicId, type Protocol } from '../core/vocabulary';
import {
  baselineMethod,
  evaluate,
  firstChoiceProtocol,
  methodFromCohortOutcomes,
  optimalMethod,
  physicianMethod,
  randomValidMethod,
  type CaseTruth,
  type CohortOutcomeLike,
  type MethodPredictions,
  type RealismSample,
  type SurvivalScore,
} from '../evaluation/evaluate';
import { clipped, compositionError, psnr, ssim, tumourComposition } from '../evaluation/image-metrics';
import { loadConfig } from '../config/load';
import { featureDistance, loadFeatureEncoder } from '../evaluation/feature-distance';
import { BUNDLED_MODEL_DIR } from '../config/config';
import { centroidOf } from '../models/onnx/resample';
import { deriveSeed } from '../core/random';
import { resampleToGrid } from '../core/volume/resample';
import { Label, makeVolume, type LabelledCt, type Volume, type VoxelArray } from '../core/volume/volume';
import { readNifti } from '../io/nifti';
import { createWorldModel } from '../backends/world-model';
import { POST_TUMOUR_HU } from '../world/response';
import { roiGrid, tumourCentreMm } from '../core/volume/roi';
import { GuidelinePolicy } from '../policy/guideline';
import { observeTumour } from '../policy/observation';
import { readPreTreatment, renderKeySlices } from './baseline';
import { describePolicy } from '../policy/index';
import { createProtocolBaseline, DEFAULT_GOAL as BASELINE_GOAL } from '../policy/llm-baseline';
import { visibleFindings } from '../world/physician';
import type { Phenotype } from '../world/phenotype';
import { expectedRisk } from '../world/survival';
import { DEFAULT_POSTERIOR_DRAWS, DEFAULT_POSTERIOR_SEED } from '../world/posterior';
import { PosteriorTables, posteriorErrorFiles, posteriorOptimalMethod } from './evaluate-posterior';
import { usageError } from './command-support';
import {
  ablationOf,
  candidatesFromOutcomeFiles,
  configuredLlmEndpoint,
  modelAblation,
  parsePlanningMethod,
  PLANNERS,
  runPlanningMethods,
  temporalAuditSource,
  type PlanningMethod,
} from './evaluate-planning';

const USAGE =
  'usage: mewm evaluate --cohort DIR [--out DIR] [--split test|val|train|all] [--seed S] [--resamples N]\n' +
  '                     [--methods LIST] [--ablation-models ID=DIR]... [--llm FILE]\n' +
  '                     [--mewm ID=FILE]... [--ablation ID:OF=FILE]... [--risk-bars N]\n' +
  '                     [--realism-replicas T] [--realism-cases N] [--posterior-draws K] [--posterior-seed S]\n' +
  '  LIST: comma-separated, default optimal,physician,guideline,llm-only,random-valid,mewm-oracle,mewm-onnx,mewm-llm;\n' +
  '        ablations of a planned method: mewm-oracle/no-assistant, mewm-oracle/replicas-1, mewm-onnx/beams-1, …;\n' +
  '        the posterior oracle (pre-CT only): mewm-posterior-oracle, mewm-posterior-oracle/known-biology, posterior-optimal';

const BUILT_IN_METHODS = ['optimal', 'physician', 'guideline', 'llm-only', 'random-valid', 'posterior-optimal'] as const;
type BuiltInMethod = (typeof BUILT_IN_METHODS)[number];
/** Rows of a plain `mewm evaluate` (the posterior-oracle rows are asked for by name). */
const DEFAULT_BUILT_IN: readonly BuiltInMethod[] = ['optimal', 'physician', 'guideline', 'llm-only', 'random-valid'];
const DEFAULT_PLANNED = ['mewm-oracle', 'mewm-onnx', 'mewm-llm'] as const;

export interface EvaluateArguments {
  readonly cohortDir: string;
  readonly outDir: string;
  readonly split: 'train' | 'val' | 'test' | 'all';
  readonly seed: number;
  readonly resamples: number;
  readonly methods: readonly BuiltInMethod[];
  /** MeWM rows planned by this command (and their ablations), in order. */
  readonly planning: readonly PlanningMethod[];
  readonly llmFile?: string;
  readonly mewm: readonly { readonly id: string; readonly file: string }[];
  readonly ablations: readonly { readonly id: string; readonly of: string; readonly file: string }[];
  readonly riskBars: number;
  /** Replicas per case for the simulation-realism table (0 = skip it). */
  readonly realismReplicas: number;
  /** At most this many cases get realism simulations. */
  readonly realismCases: number;
  /** Posterior oracle (mewm-posterior-oracle, posterior-optimal): K draws of the hidden biology per case and their seed. */
  readonly posteriorDraws: number;
  readonly posteriorSeed: number;
}

const METHOD_ID = /^[a-z0-9][a-z0-9-]*$/;

export function parseEvaluateArguments(argv: readonly string[]): EvaluateArguments {
  let cohortDir: string | undefined;
  let outDir: string | undefined;
  let split: EvaluateArguments['split'] = 'test';
  let seed = 0;
  let resamples = 2000;
  let methods: BuiltInMethod[] = [...DEFAULT_BUILT_IN];
  let planning: PlanningMethod[] = DEFAULT_PLANNED.map((planner) => parsePlanningMethod(planner)!);
  let posteriorDraws = DEFAULT_POSTERIOR_DRAWS;
  let posteriorSeed = DEFAULT_POSTERIOR_SEED;
  const modelAblations: PlanningMethod[] = [];
  let llmFile: string | undefined;
  let riskBars = 6;
  let realismReplicas = 2;
  let realismCases = 20;
  const mewm: { id: string; file: string }[] = [];
  const ablations: { id: string; of: string; file: string }[] = [];
  const integer = (name: string, v: string | undefined, lo: number, hi: number) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new MewmError('InvalidInput', `${name} needs an integer in ${lo}..${hi}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const eq = flag.indexOf('=');
    const [name, inline] = flag.startsWith('--') && eq > 0 && !['--mewm', '--ablation', '--ablation-models'].includes(flag.slice(0, eq)) ? [flag.slice(0, eq), flag.slice(eq + 1)] : [flag, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new MewmError('InvalidInput', `${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--cohort':
        cohortDir = value();
        break;
      case '--out':
        outDir = value();
        break;
      case '--split': {
        const s = value();
        if (s !== 'train' && s !== 'val' && s !== 'test' && s !== 'all') throw new MewmError('InvalidInput', `--split must be train, val, test or all, got "${s}"`);
        split = s;
        break;
      }
      case '--seed':
        seed = integer('--seed', value(), 0, 0xffffffff);
        break;
      case '--resamples':
        resamples = integer('--resamples', value(), 1, 1_000_000);
        break;
      case '--risk-bars':
        riskBars = integer('--risk-bars', value(), 0, 10_000);
        break;
      case '--realism-replicas':
        realismReplicas = integer('--realism-replicas', value(), 0, 64);
        break;
      case '--realism-cases':
        realismCases = integer('--realism-cases', value(), 1, 100_000);
        break;
      case '--posterior-draws':
        posteriorDraws = integer('--posterior-draws', value(), 2, 100_000);
        break;
      case '--posterior-seed':
        posteriorSeed = integer('--posterior-seed', value(), 0, 0xffffffff);
        break;
      case '--methods': {
        const list = value().split(',').filter((m) => m.length > 0);
        methods = [];
        planning = [];
        for (const m of list) {
          if ((BUILT_IN_METHODS as readonly string[]).includes(m)) methods.push(m as BuiltInMethod);
          else {
            const planned = parsePlanningMethod(m);
            if (!planned) throw new MewmError('InvalidInput', `--methods: unknown method "${m}" (known: ${[...BUILT_IN_METHODS, ...PLANNERS].join(', ')}, and METHOD/VARIANT ablations)`);
            planning.push(planned);
          }
        }
        break;
      }
      case '--ablation-models': {
        const m = /^([^=]+)=(.+)$/.exec(value());
        if (!m || !METHOD_ID.test(m[1]!)) throw new MewmError('InvalidInput', '--ablation-models needs ID=DIR with ID of lower-case letters, digits and dashes (DIR: an ONNX model folder)');
        modelAblations.push(modelAblation(m[1]!, m[2]!));
        break;
      }
      case '--llm':
        llmFile = value();
        break;
      case '--mewm': {
        const m = /^([^=]+)=(.+)$/.exec(value());
        if (!m || !METHOD_ID.test(m[1]!)) throw new MewmError('InvalidInput', '--mewm needs ID=FILE with ID of lower-case letters, digits and dashes');
        mewm.push({ id: m[1]!, file: m[2]! });
        break;
      }
      case '--ablation': {
        const m = /^([^:=]+):([^=]+)=(.+)$/.exec(value());
        if (!m || !METHOD_ID.test(m[1]!) || !METHOD_ID.test(m[2]!)) throw new MewmError('InvalidInput', '--ablation needs ID:OF=FILE (OF: the --mewm ID it ablates)');
        ablations.push({ id: m[1]!, of: m[2]!, file: m[3]! });
        break;
      }
      default:
        // Not echoed unless it is a flag: a stray positional is often a path.
        throw new MewmError('InvalidInput', flag.startsWith('--') ? `unknown argument "${name}"` : 'unexpected argument (give the cohort folder with --cohort DIR)');
    }
  }
  if (!cohortDir) throw new MewmError('InvalidInput', '--cohort DIR is required');
  for (const a of ablations) {
    if (!mewm.some((m) => m.id === a.of)) throw new MewmError('InvalidInput', `--ablation ${a.id}: "${a.of}" is not a --mewm ID`);
  }
  planning = [...planning, ...modelAblations];
  const ids = new Set<string>();
  for (const p of planning) {
    if (ids.has(p.id)) throw new MewmError('InvalidInput', `--methods: ${p.id} given twice`);
    ids.add(p.id);
    const of = ablationOf(p);
    if (of !== undefined && !planning.some((q) => q.id === of)) throw new MewmError('InvalidInput', `${p.id} ablates ${of}, which is not among --methods`);
  }
  for (const m of [...mewm, ...ablations]) if (ids.has(m.id)) throw new MewmError('InvalidInput', `method id ${m.id} is both planned here and read from a file`);
  return {
    cohortDir,
    outDir: outDir ?? join(cohortDir, 'evaluation'),
    split,
    seed,
    resamples,
    methods,
    planning,
    mewm,
    ablations,
    riskBars,
    realismReplicas,
    realismCases,
    posteriorDraws,
    posteriorSeed,
    ...(llmFile !== undefined ? { llmFile } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the cohort

const protocolRecord = z.object({ drugs: z.array(z.string()), embolics: z.array(z.string()) });
const manifestLine = z.object({
  caseId: z.string().min(1),
  split: z.enum(['train', 'val', 'test']),
  preCt: z.string().min(1),
  preLabels: z.string().min(1),
  postCt: z.string().min(1),
  postLabels: z.string().min(1),
  protocol: protocolRecord,
  osMonths: z.number().nonnegative(),
  event: z.union([z.literal(0), z.literal(1)]),
});
const truthLine = z.object({
  caseId: z.string().min(1),
  phenotype: z.object({ lesions: z.array(z.unknown()).min(1) }).passthrough(),
  goldProtocol: protocolRecord,
  goldExpectedRisk: z.number(),
  physicianExpectedRisk: z.number(),
});
const outcomeLine = z.object({
  caseId: z.string().min(1),
  status: z.enum(['completed', 'failed', 'skipped']).optional(),
  protocol: protocolRecord.optional(),
  risk: z.number().optional(),
  workflowId: z.string().min(1).optional(),
  error: z.unknown().optional(),
});

/**
 * JSON Lines of `schema`. `role` names the file in errors ("the cohort's manifest.jsonl", "the
 * --mewm file of method x"): never its path, which may hold a patient's name (docs/architecture.md,
 * Privacy), so the file-system error is not kept as a cause either, only its code.
 */
async function readJsonLines<T>(path: string, schema: z.ZodType<T>, role: string): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new MewmError('InvalidInput', `cannot read ${role} (${code})`, { file: role });
  }
  const rows: T[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new MewmError('InvalidInput', `${role}, line ${i + 1}: not JSON`, { file: role, line: i + 1 });
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new MewmError('InvalidInput', `${role}, line ${i + 1}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`, { file: role, line: i + 1 });
    rows.push(parsed.data);
  });
  return rows;
}

export function toProtocol(record: { readonly drugs: readonly string[]; readonly embolics: readonly string[] }, where: string): Protocol {
  for (const d of record.drugs) if (!isDrug(d)) throw new MewmError('UnknownAction', `${where}: "${d}" is not a drug of the vocabulary`);
  for (const e of record.embolics) if (!isEmbolic(e)) throw new MewmError('UnknownAction', `${where}: "${e}" is not an embolic of the vocabulary`);
  const protocol = canonicalProtocol({ drugs: record.drugs as DrugId[], embolics: record.embolics as EmbolicId[] });
  if (!isValidProtocol(protocol)) throw new MewmError('RuleViolation', `${where}: protocol breaks a clinical rule`);
  return protocol;
}

export interface LoadedCohort {
  readonly truth: CaseTruth[];
  readonly phenotypes: ReadonlyMap<string, Phenotype>;
  readonly manifest: ReadonlyMap<string, z.infer<typeof manifestLine>>;
  readonly horizons: { readonly maxDrugs: number; readonly maxEmbolics: number };
}

export async function loadCohortTruth(cohortDir: string, split: EvaluateArguments['split']): Promise<LoadedCohort> {
  const manifest = await readJsonLines(join(cohortDir, 'manifest.jsonl'), manifestLine, "the cohort's manifest.jsonl");
  const truthRows = await readJsonLines(join(cohortDir, 'truth.jsonl'), truthLine, "the cohort's truth.jsonl");
  let horizons = { maxDrugs: 2, maxEmbolics: 2 };
  try {
    const world = JSON.parse(await readFile(join(cohortDir, 'world.json'), 'utf8')) as { horizons?: { maxDrugs?: unknown; maxEmbolics?: unknown } };
    if (typeof world.horizons?.maxDrugs === 'number' && typeof world.horizons.maxEmbolics === 'number') horizons = { maxDrugs: world.horizons.maxDrugs, maxEmbolics: world.horizons.maxEmbolics };
  } catch {
    // Older cohorts have no world.json: the world's default horizons apply.
  }
  const truthById = new Map(truthRows.map((t) => [t.caseId, t]));
  const selected = manifest.filter((m) => split === 'all' || m.split === split);
  if (selected.length === 0) throw new MewmError('InvalidInput', `the cohort has no ${split} cases`);
  const phenotypes = new Map<string, Phenotype>();
  const truth: CaseTruth[] = selected.map((m) => {
    const t = truthById.get(m.caseId);
    if (!t) throw new MewmError('InvalidInput', `case ${m.caseId} is in manifest.jsonl but not in truth.jsonl`);
    const phenotype = t.phenotype as unknown as Phenotype;
    phenotypes.set(m.caseId, phenotype);
    const optimal = toProtocol(t.goldProtocol, `truth.jsonl ${m.caseId} goldProtocol`);
    const physician = toProtocol(m.protocol, `manifest.jsonl ${m.caseId} protocol`);
    const findings = visibleFindings(phenotype);
    return {
      caseId: m.caseId,
      optimalProtocol: optimal,
      physicianProtocol: physician,
      expectedRisk: { [protocolKey(optimal)]: t.goldExpectedRisk, [protocolKey(physician)]: t.physicianExpectedRisk },
      survival: { timeMonths: m.osMonths, event: m.event === 1 },
      features: { largestDiameterMm: findings.largestDiameterMm, lesionCount: findings.lesionCount, meanEnhancementHu: findings.meanEnhancementHu },
    };
  });
  return { truth, phenotypes, manifest: new Map(manifest.map((m) => [m.caseId, m])), horizons };
}

/** Cohort case outcomes from a --mewm, --ablation or --llm file; `role` names the file in errors. */
async function readOutcomes(file: string, role: string, truthIds: ReadonlySet<string>): Promise<(CohortOutcomeLike & { readonly workflowId?: string })[]> {
  const rows = await readJsonLines(file, outcomeLine, role);
  return rows
    .filter((r) => truthIds.has(r.caseId))
    .map((r) => {
      // `skipped`: planned by an earlier run of the cohort (a resumed `mewm cohort`), with that plan's protocol.
      const completed = (r.status ?? 'completed') !== 'failed' && r.protocol !== undefined;
      return {
        caseId: r.caseId,
        status: completed ? ('completed' as const) : ('failed' as const),
        ...(completed ? { protocol: toProtocol(r.protocol!, `${role}, case ${r.caseId}`) } : {}),
        ...(r.risk !== undefined ? { risk: r.risk } : {}),
        ...(r.workflowId !== undefined ? { workflowId: r.workflowId } : {}),
      };
    });
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the configured world model is measured on, per case on the planner's ROI:
 * - simulation realism (first `realismCases` cases, T = `realismReplicas`; none when 0): the
 *   physician's protocol (what the true post-CT shows) is simulated and compared with the true
 *   post-treatment CT: tumour composition error, SSIM/PSNR inside the pre-treatment tumour region
 *   on the paper's HU window [−175, 600], and the feature distance in our own encoder;
 * - the learned survival heuristic (ONNX backend only; every case): H_surv on the pre-CT and the
 *   true post-CT with its true mask, a risk score for the survival table (the oracle's own risk
 *   is already the world-expected-risk row).
 */
async function worldModelMeasurements(
  args: EvaluateArguments,
  cohort: LoadedCohort,
  log: (line: string) => void,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ realism: RealismSample[]; heuristic: SurvivalScore | null }> {
  const config = loadConfig({ env });
  const scoreHeuristic = config.worldModel.backend === 'onnx';
  if (args.realismReplicas === 0 && !scoreHeuristic) return { realism: [], heuristic: null };
  const worldConfig = config.worldModel.backend === 'oracle' ? { ...config.worldModel, oracleCohortDir: args.cohortDir } : config.worldModel;
  const world = await createWorldModel(worldConfig);
  const encoder =
    args.realismReplicas === 0
      ? null
      : await loadFeatureEncoder(join(config.worldModel.modelDir ?? BUNDLED_MODEL_DIR, 'dynamics')).catch((error: unknown) => {
          log(`realism: no feature distance (${toMewmError(error).message})`);
          return null;
        });
  const samples: RealismSample[] = [];
  const risks: Record<string, number> = {};
  const [lo, hi] = REALISM_WINDOW_HU;
  try {
    for (const [index, t] of cohort.truth.entries()) {
      const withRealism = args.realismReplicas > 0 && index < args.realismCases;
      if (!withRealism && !scoreHeuristic) break;
      const row = cohort.manifest.get(t.caseId)!;
      const source = await readPreTreatment(args.cohortDir, row);
      const trueCt = await readNifti(join(args.cohortDir, row.postCt));
      const trueLabels = await readNifti(join(args.cohortDir, row.postLabels));
      const grid = roiGrid(tumourCentreMm(t.caseId, source.labels), config.planning.roiSize, config.planning.roiSpacingMm);
      const linear = (v: Volume) => resampleToGrid(v, grid.shape, grid.affine, 'linear', { outside: -1024 });
      const nearest = <T extends VoxelArray>(v: Volume<T>) => resampleToGrid(v, grid.shape, grid.affine, 'nearest', { outside: 0 });
      const pre: LabelledCt = { ct: linear(source.ct), labels: nearest(source.labels) };
      const truePost: LabelledCt = { ct: linear(trueCt), labels: nearest(trueLabels) as Volume<Uint8Array> };
      const region = Uint8Array.from(pre.labels.data, (l) => (l === Label.tumour ? 1 : 0));
      if (!region.includes(1)) continue;
      if (scoreHeuristic) risks[t.caseId] = await world.heuristic.risk({ caseId: t.caseId, pre, post: truePost });
      if (!withRealism) continue;
      const isTumour = (labels: ArrayLike<number>) => Uint8Array.from({ length: labels.length }, (_, i) => (labels[i] === Label.tumour ? 1 : 0));
      const truth = tumourComposition(region, truePost.ct.data, isTumour(truePost.labels.data), POST_TUMOUR_HU);
      const seeds = Array.from({ length: args.realismReplicas }, (_, r) => deriveSeed(args.seed, 'realism', t.caseId, r));
      const [posts] = await world.dynamics.simulate([{ caseId: t.caseId, pre, protocol: t.physicianProtocol, seeds }]);
      const centre = centroidOf(pre.labels, Label.tumour)!;
      for (const ct of posts ?? []) {
        const labels = await world.assistant.segment({ caseId: t.caseId, ct });
        const simulated = tumourComposition(region, ct.data, isTumour(labels.data), POST_TUMOUR_HU);
        const images = { shape: grid.shape, reference: clipped(truePost.ct.data, lo, hi), test: clipped(ct.data, lo, hi), region, dataRange: hi - lo };
        const features = encoder ? await featureDistance(encoder, [{ reference: truePost.ct, simulated: ct, centre }]) : null;
        samples.push({
          caseId: t.caseId,
          protocolKey: protocolKey(t.physicianProtocol),
          compositionError: compositionError(simulated, truth),
          ssim: ssim(images),
          psnr: psnr(images),
          ...(features ? { featureDistance: features.pairs[0]!.frechet } : {}),
        });
      }
    }
  } finally {
    await world.close();
    await encoder?.close();
  }
  if (args.realismReplicas > 0) {
    const encoderNote = encoder ? `; feature distance: latent Fréchet distance in the encoder of ${encoder.identity.name} ${encoder.identity.version} (sha256 ${encoder.identity.sha256.slice(0, 12)}), our own model, not the paper's FID` : '';
    log(`realism: ${samples.length} simulated replicas compared with the true post-treatment CT (${world.dynamics.identity.backend} world model${encoderNote})`);
  }
  const h = world.heuristic.identity;
  const heuristic = scoreHeuristic ? { name: 'heuristic-onnx', label: `learned heuristic ${h.name} ${h.version} on pre-CT + true post-CT (sha256 ${h.sha256.slice(0, 12)})`, risk: risks } : null;
  if (heuristic) log(`survival: ${Object.keys(risks).length} cases scored by the learned heuristic ${h.name} ${h.version}`);
  return { realism: samples, heuristic };
}

/** The paper's intensity window for TACE response, HU. */
const REALISM_WINDOW_HU = [-175, 600] as const;

/** Builds every method row and runs the evaluation; returns the files written. */
export async function runEvaluation(
  args: EvaluateArguments,
  log: (line: string) => void = () => {},
  argv?: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ outDir: string; files: number; skipped: readonly string[] }> {
  const cohort = await loadCohortTruth(args.cohortDir, args.split);
  const { truth } = cohort;
  const ids = new Set(truth.map((t) => t.caseId));
  log(`${truth.length} ${args.split} cases; horizons ${cohort.horizons.maxDrugs} drugs, ${cohort.horizons.maxEmbolics} embolics`);
  // Rows from `mewm cohort` outcome files, read before any planning so a bad file fails at once; their plan
  // audits, when the server still has them, give their risk-by-protocol figures.
  const fromFiles = [
    ...(await Promise.all(args.mewm.map(async (m) => ({ id: m.id, outcomes: await readOutcomes(m.file, `the --mewm file of method ${m.id}`, ids) })))),
    ...(await Promise.all(args.ablations.map(async (a) => ({ id: a.id, outcomes: await readOutcomes(a.file, `the --ablation file of ${a.id}`, ids) })))),
  ];
  const planned =
    args.planning.length > 0
      ? await runPlanningMethods({
          base: loadConfig({ env }),
          methods: args.planning,
          cohort: { dir: args.cohortDir, split: args.split },
          caseIds: ids,
          riskBarCases: args.riskBars,
          env,
          log,
          posterior: { draws: args.posteriorDraws, seed: args.posteriorSeed },
        })
      : { methods: [], records: [], skipped: [] };
  const audited = await candidatesFromOutcomeFiles(fromFiles, args.riskBars, () => temporalAuditSource(loadConfig({ env })), log);
  const fileRow = (id: string, label: string, kind: 'mewm' | 'ablation', extras: { ablationOf?: string } = {}) => {
    const candidates = audited.candidates.get(id);
    return methodFromCohortOutcomes(id, label, kind, fromFiles.find((f) => f.id === id)!.outcomes, { ...extras, ...(candidates ? { candidates } : {}) });
  };
  const methods: MethodPredictions[] = [];
  if (args.methods.includes('optimal')) methods.push(optimalMethod(truth));
  if (args.methods.includes('physician')) methods.push(physicianMethod(truth));
  for (const m of args.mewm) methods.push(fileRow(m.id, `MeWM (${m.id})`, 'mewm'));
  methods.push(...planned.methods.filter((m) => m.kind !== 'ablation'));
  if (args.methods.includes('guideline')) {
    const policy = new GuidelinePolicy();
    methods.push(
      await baselineMethod('guideline', 'Guideline policy (first choice)', truth, async (t) => {
        const row = cohort.manifest.get(t.caseId)!;
        const observation = observeTumour(await readPreTreatment(args.cohortDir, row), { caseId: t.caseId });
        const proposal = policy.proposeSync({ caseId: t.caseId, observation, goal: 'lowest risk', drugCount: cohort.horizons.maxDrugs, embolicCount: cohort.horizons.maxEmbolics });
        return firstChoiceProtocol(proposal, cohort.horizons);
      }),
    );
  }
  if (args.llmFile) methods.push(methodFromCohortOutcomes('llm', 'LLM-only baseline', 'baseline', await readOutcomes(args.llmFile, 'the --llm file', ids)));
  const skipped = [...planned.skipped, ...audited.skipped];
  if (args.methods.includes('llm-only')) {
    const endpoint = configuredLlmEndpoint(env);
    if (!endpoint) skipped.push('llm-only: no LLM endpoint configured (set OPENAI_BASE_URL and/or OPENAI_API_KEY, docs/policy.md)');
    else {
      const baseline = createProtocolBaseline(endpoint);
      log(`llm-only: ${describePolicy(baseline.identity).replace(/^policy: /, '')}`);
      methods.push(
        await baselineMethod('llm-only', `LLM-only baseline (${endpoint.model})`, truth, async (t) => {
          const pre = await readPreTreatment(args.cohortDir, cohort.manifest.get(t.caseId)!);
          const observation = observeTumour(pre, { caseId: t.caseId });
          return (await baseline.predict({ caseId: t.caseId, observation, goal: BASELINE_GOAL, keySlicesPng: renderKeySlices(pre, 3) })).protocol;
        }),
      );
    }
  }
  if (args.methods.includes('random-valid')) methods.push(randomValidMethod(truth, args.seed, cohort.horizons));
  const posterior = new PosteriorTables(cohort.phenotypes, { draws: args.posteriorDraws, seed: args.posteriorSeed });
  if (args.methods.includes('posterior-optimal')) {
    log(`posterior-optimal: ranking every valid protocol by its posterior expected risk (K = ${args.posteriorDraws}) for ${truth.length} cases`);
    methods.push(posteriorOptimalMethod(truth, posterior, cohort.horizons));
  }
  for (const a of args.ablations) methods.push(fileRow(a.id, a.id, 'ablation', { ablationOf: a.of }));
  methods.push(...planned.methods.filter((m) => m.kind === 'ablation'));

  const { realism, heuristic } = await worldModelMeasurements(args, cohort, log, env);
  // The Cox baseline learns from the training split when the evaluated split is another one.
  const coxTraining = args.split === 'all' ? [] : (await loadCohortTruth(args.cohortDir, 'train').catch(() => ({ truth: [] as CaseTruth[] }))).truth;
  const commit = gitCommit();
  const result = evaluate({
    cohortId: resolve(args.cohortDir).split('/').pop() ?? 'cohort',
    truth,
    methods,
    survivalScores: [
      {
        name: 'world-expected-risk',
        label: "world's expected risk of the given protocol (oracle; the ceiling for any risk score)",
        risk: Object.fromEntries(truth.map((t) => [t.caseId, t.expectedRisk[protocolKey(t.physicianProtocol)]!])),
      },
      ...(heuristic ? [heuristic] : []),
    ],
    realism,
    coxTraining,
    skipped,
    extraFiles: [
      ...(planned.records.length > 0
        ? [{ path: 'planning.json', content: `${JSON.stringify(planned.records, null, 2)}\n`, description: 'how each planned row was planned: cohort workflow id and run, reused or planned, world model, policy, settings' }]
        : []),
      ...posteriorErrorFiles(methods, truth, posterior, { draws: args.posteriorDraws, seed: args.posteriorSeed }, log),
    ],
    riskOf: (caseId, protocol) => {
      const phenotype = cohort.phenotypes.get(caseId);
      return phenotype ? expectedRisk(phenotype, protocol) : undefined;
    },
    options: {
      seed: args.seed,
      bootstrapResamples: args.resamples,
      riskBarCases: args.riskBars,
      provenance: { ...(argv ? { command: ['mewm', 'evaluate', ...argv].join(' ') } : {}), ...(commit ? { commit } : {}) },
    },
  });
  const ceiling = result.summary.survival.find((r) => r.score === 'world-expected-risk');
  if (ceiling) log(`survival ceiling: the world's expected risk of the given protocol reaches C = ${ceiling.cIndex.estimate.toFixed(3)} [${ceiling.cIndex.lower.toFixed(3)}, ${ceiling.cIndex.upper.toFixed(3)}] on these ${ceiling.n} patients (${ceiling.events} events)`);
  for (const f of result.files) {
    const path = join(args.outDir, ...f.path.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content);
  }
  return { outDir: args.outDir, files: result.files.length, skipped: result.summary.skipped };
}

/** Runs the command; returns the exit code (0 done, 2 bad input, 1 failure). */
export async function runEvaluate(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let args: EvaluateArguments;
  try {
    args = parseEvaluateArguments(argv);
  } catch (error) {
    return usageError(USAGE, error, 'evaluate');
  }
  try {
    const done = await runEvaluation(args, (line) => process.stderr.write(`mewm evaluate: ${line}\n`), argv);
    process.stderr.write(`mewm evaluate: ${done.files} files → ${done.outDir}\n`);
    for (const s of done.skipped) process.stderr.write(`mewm evaluate: not produced: ${s}\n`);
    return 0;
  } catch (error) {
    const e = toMewmError(error);
    process.stderr.write(`mewm evaluate: ${e.code}: ${e.message}\n`);
    return isMewmError(error) && !e.retryable ? 2 : 1;
  }
}
