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
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createWorldModel } from '../backends/world-model';
import { BUNDLED_MODEL_DIR } from '../config/config';
import { loadConfig } from '../config/load';
import { MewmError, toMewmError } from '../core/errors';
import { protocolKey } from '../core/vocabulary';
import { loadCohortTruth, readOutcomes, type LoadedCohort } from '../evaluation/cohort-truth';
import {
  baselineMethod,
  evaluate,
  firstChoiceProtocol,
  methodFromCohortOutcomes,
  optimalMethod,
  physicianMethod,
  randomValidMethod,
  type CaseTruth,
  type MethodPredictions,
  type RealismSample,
  type SurvivalScore,
} from '../evaluation/evaluate';
import { loadFeatureEncoder } from '../evaluation/feature-distance';
import { PosteriorTables, posteriorErrorFiles, posteriorOptimalMethod } from '../evaluation/posterior';
import { measureWorldModel } from '../evaluation/realism';
import { readPreTreatment } from '../io/cohort-manifest';
import { renderKeySlices } from '../io/key-slices';
import { GuidelinePolicy } from '../policy/guideline';
import { describePolicy } from '../policy/index';
import { createProtocolBaseline, DEFAULT_GOAL as BASELINE_GOAL } from '../policy/llm-baseline';
import { observeTumour } from '../policy/observation';
import { DEFAULT_POSTERIOR_DRAWS, DEFAULT_POSTERIOR_SEED } from '../world/posterior';
import { expectedRisk } from '../world/survival';
import { runCommand, type Command, type Env } from './command';
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
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi)
      throw new MewmError('InvalidInput', `${name} needs an integer in ${lo}..${hi}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const eq = flag.indexOf('=');
    const [name, inline] =
      flag.startsWith('--') && eq > 0 && !['--mewm', '--ablation', '--ablation-models'].includes(flag.slice(0, eq))
        ? [flag.slice(0, eq), flag.slice(eq + 1)]
        : [flag, undefined];
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
        if (s !== 'train' && s !== 'val' && s !== 'test' && s !== 'all')
          throw new MewmError('InvalidInput', `--split must be train, val, test or all, got "${s}"`);
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
        const list = value()
          .split(',')
          .filter((m) => m.length > 0);
        methods = [];
        planning = [];
        for (const m of list) {
          if ((BUILT_IN_METHODS as readonly string[]).includes(m)) methods.push(m as BuiltInMethod);
          else {
            const planned = parsePlanningMethod(m);
            if (!planned)
              throw new MewmError(
                'InvalidInput',
                `--methods: unknown method "${m}" (known: ${[...BUILT_IN_METHODS, ...PLANNERS].join(', ')}, and METHOD/VARIANT ablations)`,
              );
            planning.push(planned);
          }
        }
        break;
      }
      case '--ablation-models': {
        const m = /^([^=]+)=(.+)$/.exec(value());
        if (!m || !METHOD_ID.test(m[1]!))
          throw new MewmError('InvalidInput', '--ablation-models needs ID=DIR with ID of lower-case letters, digits and dashes (DIR: an ONNX model folder)');
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
        if (!m || !METHOD_ID.test(m[1]!) || !METHOD_ID.test(m[2]!))
          throw new MewmError('InvalidInput', '--ablation needs ID:OF=FILE (OF: the --mewm ID it ablates)');
        ablations.push({ id: m[1]!, of: m[2]!, file: m[3]! });
        break;
      }
      default:
        // Not echoed unless it is a flag: a stray positional is often a path.
        throw new MewmError(
          'InvalidInput',
          flag.startsWith('--') ? `unknown argument "${name}"` : 'unexpected argument (give the cohort folder with --cohort DIR)',
        );
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
  for (const m of [...mewm, ...ablations])
    if (ids.has(m.id)) throw new MewmError('InvalidInput', `method id ${m.id} is both planned here and read from a file`);
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

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The configured world model measured on the cohort (src/evaluation/realism.ts): realism samples and learned-heuristic risks. */
async function worldModelMeasurements(
  args: EvaluateArguments,
  cohort: LoadedCohort,
  log: (line: string) => void,
  env: Env,
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
  try {
    return await measureWorldModel(world, encoder, cohort, {
      cohortDir: args.cohortDir,
      seed: args.seed,
      realismReplicas: args.realismReplicas,
      realismCases: args.realismCases,
      roi: config.planning,
      scoreHeuristic,
      log,
    });
  } finally {
    await world.close();
    await encoder?.close();
  }
}

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
        const proposal = policy.proposeSync({
          caseId: t.caseId,
          observation,
          goal: 'lowest risk',
          drugCount: cohort.horizons.maxDrugs,
          embolicCount: cohort.horizons.maxEmbolics,
        });
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
        ? [
            {
              path: 'planning.json',
              content: `${JSON.stringify(planned.records, null, 2)}\n`,
              description: 'how each planned row was planned: cohort workflow id and run, reused or planned, world model, policy, settings',
            },
          ]
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
  if (ceiling)
    log(
      `survival ceiling: the world's expected risk of the given protocol reaches C = ${ceiling.cIndex.estimate.toFixed(3)} [${ceiling.cIndex.lower.toFixed(3)}, ${ceiling.cIndex.upper.toFixed(3)}] on these ${ceiling.n} patients (${ceiling.events} events)`,
    );
  for (const f of result.files) {
    const path = join(args.outDir, ...f.path.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content);
  }
  return { outDir: args.outDir, files: result.files.length, skipped: result.summary.skipped };
}

async function evaluateCommandRun(args: EvaluateArguments, argv: readonly string[], env: Env): Promise<0> {
  const done = await runEvaluation(args, (line) => process.stderr.write(`mewm evaluate: ${line}\n`), argv, env);
  process.stderr.write(`mewm evaluate: ${done.files} files → ${done.outDir}\n`);
  for (const s of done.skipped) process.stderr.write(`mewm evaluate: not produced: ${s}\n`);
  return 0;
}

export const evaluateCommand: Command<EvaluateArguments> = {
  name: 'evaluate',
  usage: USAGE,
  parse: parseEvaluateArguments,
  run: (args, { argv, env }) => evaluateCommandRun(args, argv, env),
};

export function runEvaluate(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(evaluateCommand, argv, env);
}
