/**
 * mewm configuration in three typed stages, read once at start-up (CLI, workers):
 *   1. sources: a JSON file (`MEWM_CONFIG` or `--config`) and environment variables (env wins);
 *   2. defaults filled (`DEFAULT_CONFIG`, the paper's behaviour and the embedded single-machine setup);
 *   3. validated, with messages that name the variable and say how to fix it.
 * Nothing deeper in the code reads `process.env`.
 *
 * Environment (file keys in parentheses):
 *   MEWM_PRESET (preset)                         default | paper: named settings under the file and the environment (PRESETS below)
 *   MEWM_DATA_DIR (dataDir)                      project data folder: dev-server SQLite, artifacts, outputs (default ./.data)
 *   TEMPORAL_ADDRESS (temporal.address)          host:port of a Temporal frontend; unset = embedded dev server
 *   TEMPORAL_NAMESPACE (temporal.namespace)      default "default"
 *   TEMPORAL_CLI_PATH (temporal.cliPath)         the `temporal` binary for the embedded server (default .venv/bin/temporal)
 *   PATH (temporal.cliSearchPath)                where else `temporal` is looked for when neither is there (workers/dev-server.ts)
 *   MEWM_TEMPORAL_PORT (temporal.port)           embedded server port (default 7233); MEWM_TEMPORAL_UI_PORT (temporal.uiPort, 0 = headless)
 *   MEWM_ARTIFACTS (artifacts.location)          folder, file:///folder or s3://bucket/prefix (default <dataDir>/artifacts)
 *   MEWM_S3_ENDPOINT, MEWM_S3_REGION, MEWM_S3_FORCE_PATH_STYLE (artifacts.s3.*)
 *   MEWM_WORLD_MODEL (worldModel.backend)        onnx | oracle (default onnx)
 *   MEWM_ORACLE_COHORT (worldModel.oracleCohortDir)  synthetic cohort whose truth the oracle uses
 *   MEWM_MODEL_DIR (worldModel.modelDir)         folder with dynamics/, assistant/, heuristic/ ONNX models (default: the bundled synthetic demo models, models/demo)
 *   MEWM_ORACLE_LABEL_CACHE (worldModel.oracleLabelCache)  see src/backends/world-model.ts (default off)
 *   MEWM_EXECUTION_PROVIDER (worldModel.executionProvider)  ONNX: cpu | cuda (default cpu)
 *   MEWM_SAMPLER, MEWM_SAMPLER_STEPS (worldModel.sampler)  ONNX: ddpm | ddim | dpm-solver++; steps default 1000 for ddpm, 25 for ddim, 10 for dpm-solver++
 *   MEWM_MAX_BATCH (worldModel.maxBatch), MEWM_INTRA_OP_THREADS (worldModel.intraOpThreads)  ONNX runtime limits
 *   MEWM_ONNX_WORKERS (worldModel.sessionWorkers)  ONNX session threads computing at once (default min(2, cores) on CPU, 1 on CUDA; same results)
 *   MEWM_BEAMS, MEWM_DRUG_CANDIDATES, MEWM_EMBOLIC_CANDIDATES, MEWM_REPLICAS, MEWM_DRUG_HORIZON,
 *   MEWM_EMBOLIC_HORIZON, MEWM_APPEND_LIPIODOL, MEWM_REQUIRE_IMPROVEMENT, MEWM_PLAN_SEED, MEWM_GOAL,
 *   MEWM_ROI_SIZE ("96" or "96,96,64"), MEWM_ROI_SPACING_MM, MEWM_SIMULATE_BATCH, MEWM_PREVIEWS (planning.*)
 *   MEWM_REUSE_PRE_MASK (planning.reusePreTreatmentMask)  ablation: score simulated CTs with the pre mask, no assistant (default off)
 *   MEWM_SEGMENT_FOCUS_MM (planning.segmentationFocusMarginMm)  segment simulated CTs only around the tumour, this many mm (default off: the whole ROI; docs/performance.md)
 *   MEWM_GPU_HEARTBEAT_S, MEWM_GPU_TIMEOUT_S, MEWM_MAX_ATTEMPTS (planning.timeouts.*)
 *   MEWM_COHORT_CONCURRENCY, MEWM_COHORT_PAGE_SIZE (cohort.*)
 *   MEWM_GPU_SLOTS, MEWM_LLM_SLOTS, MEWM_CPU_SLOTS, MEWM_MAX_CACHED_WORKFLOWS (workers.*)
 *   MEWM_SHUTDOWN_GRACE_S (workers.shutdownGraceS)  seconds in-flight activities get to finish when a worker stops (default 10)
 *   MEWM_LOG_LEVEL, MEWM_LOG_PRETTY (log.*)
 *   MEWM_INGEST_MAX_VOXELS, MEWM_INGEST_MAX_BYTES, MEWM_INGEST_MAX_FILES, MEWM_INGEST_MAX_SLICE_BYTES (ingest.*)
 *                                                what one input CT may cost, checked before reading or inflating (src/io/bounded-read.ts)
 *   MEWM_ARTIFACT_FILE_MODE, MEWM_ARTIFACT_DIR_MODE (artifacts.fileMode / dirMode)  octal permissions of local artifacts (default 600 / 700)
 *   MEWM_POLICY, OPENAI_BASE_URL, OPENAI_API_KEY, MEWM_POLICY_* … (policy)  the policy and its LLM endpoint: src/policy/config.ts
 *                                                (environment only: a key never sits in a config file)
 */
import { MewmError } from '../core/errors';
import { validateSearchOptions } from '../core/planning/beam-search';
import type { PlanSettings } from '../core/planning/settings';
import { policyConfigFromEnv, type PolicyConfig } from '../policy/config';

export type WorldModelBackend = 'oracle' | 'onnx';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface MewmConfig {
  /** The named preset the defaults came from (MEWM_PRESET; `PRESETS`). */
  readonly preset: PresetName;
  readonly dataDir: string;
  readonly temporal: {
    /** null: start the embedded dev server. */
    readonly address: string | null;
    readonly namespace: string;
    readonly cliPath: string | null;
    /** Folders searched for `temporal` after cliPath and .venv/bin/temporal (PATH); null = none. */
    readonly cliSearchPath: string | null;
    readonly port: number;
    /** 0 = headless. */
    readonly uiPort: number;
    /** Base64 32-byte AES-GCM key for Temporal payloads (MEWM_PAYLOAD_KEY, workers/payload-codec.ts); null = payloads in clear. Never logged. */
    readonly payloadKey: string | null;
  };
  readonly artifacts: {
    readonly location: string;
    /** Permissions of local artifact files and folders (src/artifacts/local-store.ts); default 0o600 / 0o700. */
    readonly fileMode: number;
    readonly dirMode: number;
    readonly s3: { readonly endpoint?: string; readonly region?: string; readonly forcePathStyle?: boolean };
  };
  readonly worldModel: {
    readonly backend: WorldModelBackend;
    readonly oracleCohortDir: string | null;
    readonly modelDir: string | null;
    /** Oracle only: exact labels for CTs rendered in the same process; breaks cross-worker reproducibility (see src/backends/world-model.ts). */
    readonly oracleLabelCache: boolean;
    /** ONNX only (MEWM_EXECUTION_PROVIDER). */
    readonly executionProvider: 'cpu' | 'cuda';
    /** ONNX only (MEWM_SAMPLER, MEWM_SAMPLER_STEPS); null = the runtime's default (DPM-Solver++(2M), 10 steps). */
    readonly sampler: { readonly method: 'ddpm' | 'ddim' | 'dpm-solver++'; readonly steps: number } | null;
    /** ONNX only (MEWM_MAX_BATCH); null = the runtime's default. */
    readonly maxBatch: number | null;
    /** ONNX only (MEWM_INTRA_OP_THREADS); null = onnxruntime's default. */
    readonly intraOpThreads: number | null;
    /** ONNX only (MEWM_ONNX_WORKERS): session threads computing at once; null = 2 on CPU (where the machine has 2 cores), 1 on CUDA. Results do not depend on it. */
    readonly sessionWorkers: number | null;
  };
  readonly planning: PlanSettings;
  /** The policy and its LLM endpoint, from the environment only (MEWM_POLICY, OPENAI_*: src/policy/config.ts). Holds the API key: never logged. */
  readonly policy: PolicyConfig;
  readonly cohort: { readonly concurrency: number; readonly pageSize: number };
  readonly workers: {
    readonly gpuSlots: number;
    readonly llmSlots: number;
    readonly cpuSlots: number;
    readonly maxCachedWorkflows: number;
    /** Seconds in-flight activities get to finish when a worker shuts down (Temporal's shutdownGraceTime). */
    readonly shutdownGraceS: number;
  };
  readonly log: { readonly level: LogLevel; readonly pretty: boolean };
  /** What one input may cost (src/io/bounded-read.ts IngestLimits); checked before anything is read or inflated. */
  readonly ingest: { readonly maxVoxels: number; readonly maxBytes: number; readonly maxFiles: number; readonly maxSliceBytes: number };
}

export const DEFAULT_GOAL =
  'What TACE treatment protocols are recommended for a patient diagnosed with hepatocellular carcinoma (HCC) given the pre-treatment CT?';

/**
 * Defaults: the paper's behaviour (no reference-code departures); B, D, E, T, Hd, He are not
 * given in the paper. B = T = 2 by measurement (docs/evaluation.md, "Search settings"): on 14
 * held-out patients B = T = 4 planned no better (paired regret difference +0.058 [−0.101, 0.270])
 * for four times the simulations.
 */
export const DEFAULT_PLAN_SETTINGS: PlanSettings = {
  beams: 2,
  replicas: 2,
  drugHorizon: 2,
  embolicHorizon: 2,
  appendLipiodolAfterDrugs: false,
  requireImprovement: false,
  drugCandidates: 5,
  embolicCandidates: 3,
  goal: DEFAULT_GOAL,
  seed: 20250617,
  roiSize: [96, 96, 96],
  roiSpacingMm: 1.5,
  simulateBatchReplicas: 8,
  previews: true,
  reusePreTreatmentMask: false,
  segmentationFocusMarginMm: null,
  timeouts: {
    gpuStartToCloseS: 3600,
    gpuHeartbeatS: 15, // a killed GPU worker is noticed within 15 s; simulate heartbeats every second while a batch runs
    cpuStartToCloseS: 600,
    llmStartToCloseS: 600,
    maximumAttempts: 10,
    initialRetryIntervalS: 1,
  },
};

/**
 * The demo models shipped in the repository (models/demo: trained on synthetic data, not for
 * clinical use), the default world model.
 */
export const BUNDLED_MODEL_DIR = decodeURIComponent(new URL('../../models/demo', import.meta.url).pathname);

export function defaultConfig(cwd: string): MewmConfig {
  const dataDir = joinPath(cwd, '.data');
  return {
    preset: 'default',
    dataDir,
    temporal: { address: null, namespace: 'default', cliPath: null, cliSearchPath: null, port: 7233, uiPort: 0, payloadKey: null },
    artifacts: { location: joinPath(dataDir, 'artifacts'), fileMode: 0o600, dirMode: 0o700, s3: {} },
    worldModel: {
      backend: 'onnx',
      oracleCohortDir: null,
      modelDir: BUNDLED_MODEL_DIR,
      oracleLabelCache: false,
      executionProvider: 'cpu',
      sampler: null,
      maxBatch: null,
      intraOpThreads: null,
      sessionWorkers: null,
    },
    planning: DEFAULT_PLAN_SETTINGS,
    policy: {},
    cohort: { concurrency: 4, pageSize: 50 },
    workers: { gpuSlots: 1, llmSlots: 4, cpuSlots: 4, maxCachedWorkflows: 200, shutdownGraceS: 10 },
    log: { level: 'info', pretty: false },
    // The same numbers as src/io/bounded-read.ts DEFAULT_INGEST_LIMITS (config may not import io).
    ingest: { maxVoxels: 512 * 512 * 1024, maxBytes: 2 * 1024 ** 3, maxFiles: 4096, maxSliceBytes: 64 * 1024 ** 2 },
  };
}

type Env = Readonly<Record<string, string | undefined>>;
type DeepPartial<T> = { -readonly [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type ConfigOverrides = DeepPartial<MewmConfig>;

export type PresetName = 'default' | 'paper';

/**
 * Named presets: a layer between the defaults and the config file / environment (which still
 * override single settings).
 * - `default`: mewm's measured choices (docs/performance.md, docs/evaluation.md).
 * - `paper`: the paper's method as written: the LDM's DDPM sampler with all 1000 steps, the
 *   assistant on the whole simulated ROI, every beam appends its best candidate (no stopping
 *   when none improves) and no agent is appended without simulation. B, D, E, T and the horizons
 *   are not given in the paper: mewm's defaults.
 */
export const PRESETS: Readonly<Record<PresetName, ConfigOverrides>> = {
  default: {},
  paper: {
    worldModel: { sampler: { method: 'ddpm', steps: 1000 } },
    planning: { requireImprovement: false, appendLipiodolAfterDrugs: false, segmentationFocusMarginMm: null, reusePreTreatmentMask: false },
  },
};

/** Stage 1: the values the environment sets, as a partial config. */
export function configFromEnv(env: Env): ConfigOverrides {
  const v = (name: string) => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const int = (name: string) => parseIntegerVar(name, v(name));
  const num = (name: string) => parseNumberVar(name, v(name));
  const bool = (name: string) => parseBooleanVar(name, v(name));
  const out: ConfigOverrides = {};
  const set = <T>(path: string[], value: T | undefined) => {
    if (value === undefined) return;
    let node = out as Record<string, unknown>;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = value;
  };
  set(['preset'], v('MEWM_PRESET') as PresetName | undefined);
  set(['dataDir'], v('MEWM_DATA_DIR'));
  set(['temporal', 'address'], v('TEMPORAL_ADDRESS'));
  set(['temporal', 'namespace'], v('TEMPORAL_NAMESPACE'));
  set(['temporal', 'cliPath'], v('TEMPORAL_CLI_PATH'));
  set(['temporal', 'cliSearchPath'], v('PATH'));
  set(['temporal', 'port'], int('MEWM_TEMPORAL_PORT'));
  set(['temporal', 'uiPort'], int('MEWM_TEMPORAL_UI_PORT'));
  set(['artifacts', 'location'], v('MEWM_ARTIFACTS'));
  set(['artifacts', 'fileMode'], parseModeVar('MEWM_ARTIFACT_FILE_MODE', v('MEWM_ARTIFACT_FILE_MODE')));
  set(['artifacts', 'dirMode'], parseModeVar('MEWM_ARTIFACT_DIR_MODE', v('MEWM_ARTIFACT_DIR_MODE')));
  set(['temporal', 'payloadKey'], v('MEWM_PAYLOAD_KEY'));
  set(['artifacts', 's3', 'endpoint'], v('MEWM_S3_ENDPOINT'));
  set(['artifacts', 's3', 'region'], v('MEWM_S3_REGION') ?? v('AWS_REGION'));
  set(['artifacts', 's3', 'forcePathStyle'], bool('MEWM_S3_FORCE_PATH_STYLE'));
  set(['worldModel', 'backend'], v('MEWM_WORLD_MODEL') as WorldModelBackend | undefined);
  set(['worldModel', 'oracleCohortDir'], v('MEWM_ORACLE_COHORT'));
  set(['worldModel', 'modelDir'], v('MEWM_MODEL_DIR'));
  set(['worldModel', 'oracleLabelCache'], bool('MEWM_ORACLE_LABEL_CACHE'));
  set(['worldModel', 'executionProvider'], v('MEWM_EXECUTION_PROVIDER') as 'cpu' | 'cuda' | undefined);
  const samplerMethod = v('MEWM_SAMPLER');
  const samplerSteps = int('MEWM_SAMPLER_STEPS');
  if (samplerMethod !== undefined || samplerSteps !== undefined) {
    const method = (samplerMethod ?? 'dpm-solver++') as 'ddpm' | 'ddim' | 'dpm-solver++';
    set(['worldModel', 'sampler'], { method, steps: samplerSteps ?? (method === 'ddpm' ? 1000 : method === 'ddim' ? 25 : 10) });
  }
  set(['worldModel', 'maxBatch'], int('MEWM_MAX_BATCH'));
  set(['worldModel', 'intraOpThreads'], int('MEWM_INTRA_OP_THREADS'));
  set(['worldModel', 'sessionWorkers'], int('MEWM_ONNX_WORKERS'));
  set(['planning', 'beams'], int('MEWM_BEAMS'));
  set(['planning', 'drugCandidates'], int('MEWM_DRUG_CANDIDATES'));
  set(['planning', 'embolicCandidates'], int('MEWM_EMBOLIC_CANDIDATES'));
  set(['planning', 'replicas'], int('MEWM_REPLICAS'));
  set(['planning', 'drugHorizon'], int('MEWM_DRUG_HORIZON'));
  set(['planning', 'embolicHorizon'], int('MEWM_EMBOLIC_HORIZON'));
  set(['planning', 'appendLipiodolAfterDrugs'], bool('MEWM_APPEND_LIPIODOL'));
  set(['planning', 'requireImprovement'], bool('MEWM_REQUIRE_IMPROVEMENT'));
  set(['planning', 'seed'], int('MEWM_PLAN_SEED'));
  set(['planning', 'goal'], v('MEWM_GOAL'));
  set(['planning', 'roiSize'], parseRoiSize('MEWM_ROI_SIZE', v('MEWM_ROI_SIZE')));
  set(['planning', 'roiSpacingMm'], num('MEWM_ROI_SPACING_MM'));
  set(['planning', 'simulateBatchReplicas'], int('MEWM_SIMULATE_BATCH'));
  set(['planning', 'previews'], bool('MEWM_PREVIEWS'));
  set(['planning', 'reusePreTreatmentMask'], bool('MEWM_REUSE_PRE_MASK'));
  set(['planning', 'segmentationFocusMarginMm'], v('MEWM_SEGMENT_FOCUS_MM') === 'off' ? null : num('MEWM_SEGMENT_FOCUS_MM'));
  set(['planning', 'timeouts', 'gpuHeartbeatS'], num('MEWM_GPU_HEARTBEAT_S'));
  set(['planning', 'timeouts', 'gpuStartToCloseS'], num('MEWM_GPU_TIMEOUT_S'));
  set(['planning', 'timeouts', 'maximumAttempts'], int('MEWM_MAX_ATTEMPTS'));
  set(['cohort', 'concurrency'], int('MEWM_COHORT_CONCURRENCY'));
  set(['cohort', 'pageSize'], int('MEWM_COHORT_PAGE_SIZE'));
  set(['workers', 'gpuSlots'], int('MEWM_GPU_SLOTS'));
  set(['workers', 'llmSlots'], int('MEWM_LLM_SLOTS'));
  set(['workers', 'cpuSlots'], int('MEWM_CPU_SLOTS'));
  set(['workers', 'maxCachedWorkflows'], int('MEWM_MAX_CACHED_WORKFLOWS'));
  set(['workers', 'shutdownGraceS'], num('MEWM_SHUTDOWN_GRACE_S'));
  set(['log', 'level'], v('MEWM_LOG_LEVEL') as LogLevel | undefined);
  set(['log', 'pretty'], bool('MEWM_LOG_PRETTY'));
  set(['ingest', 'maxVoxels'], int('MEWM_INGEST_MAX_VOXELS'));
  set(['ingest', 'maxBytes'], int('MEWM_INGEST_MAX_BYTES'));
  set(['ingest', 'maxFiles'], int('MEWM_INGEST_MAX_FILES'));
  set(['ingest', 'maxSliceBytes'], int('MEWM_INGEST_MAX_SLICE_BYTES'));
  return out;
}

/** Stage 2: later layers override earlier ones, key by key. Arrays are replaced whole. */
export function mergeConfig<T>(base: T, ...layers: ReadonlyArray<DeepPartial<T> | undefined>): T {
  let result: unknown = base;
  for (const layer of layers) if (layer !== undefined) result = mergeValue(result, layer);
  return result as T;
}

function mergeValue(base: unknown, layer: unknown): unknown {
  if (layer === undefined) return base;
  if (isPlainObject(base) && isPlainObject(layer)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(layer)) out[key] = mergeValue(base[key], value);
    return out;
  }
  return layer;
}

/** Stage 3: every field checked, with the variable that sets it in the message. */
export function validateConfig(config: MewmConfig): MewmConfig {
  const p = config.planning;
  const positive = (value: number, name: string, variable: string) => {
    if (!Number.isInteger(value) || value < 1) fail(`${name} must be a positive integer, got ${value}: set ${variable}`, variable);
  };
  if (config.worldModel.backend !== 'oracle' && config.worldModel.backend !== 'onnx') {
    fail(`MEWM_WORLD_MODEL must be oracle or onnx, got "${String(config.worldModel.backend)}"`, 'MEWM_WORLD_MODEL');
  }
  if (config.worldModel.executionProvider !== 'cpu' && config.worldModel.executionProvider !== 'cuda') {
    fail(`MEWM_EXECUTION_PROVIDER must be cpu or cuda, got "${String(config.worldModel.executionProvider)}"`, 'MEWM_EXECUTION_PROVIDER');
  }
  const sampler = config.worldModel.sampler;
  if (sampler !== null) {
    if (!['ddpm', 'ddim', 'dpm-solver++'].includes(sampler.method))
      fail(`MEWM_SAMPLER must be ddpm, ddim or dpm-solver++, got "${String(sampler.method)}"`, 'MEWM_SAMPLER');
    positive(sampler.steps, 'worldModel.sampler.steps', 'MEWM_SAMPLER_STEPS');
  }
  if (config.worldModel.maxBatch !== null) positive(config.worldModel.maxBatch, 'worldModel.maxBatch', 'MEWM_MAX_BATCH');
  if (config.worldModel.intraOpThreads !== null) positive(config.worldModel.intraOpThreads, 'worldModel.intraOpThreads', 'MEWM_INTRA_OP_THREADS');
  if (config.worldModel.sessionWorkers !== null) positive(config.worldModel.sessionWorkers, 'worldModel.sessionWorkers', 'MEWM_ONNX_WORKERS');
  if (config.worldModel.backend === 'onnx' && !config.worldModel.modelDir) {
    fail(
      'MEWM_WORLD_MODEL=onnx needs MEWM_MODEL_DIR: the folder holding the dynamics/, assistant/ and heuristic/ model folders (see docs/models.md)',
      'MEWM_MODEL_DIR',
    );
  }
  if (config.temporal.address !== null && !/^[^\s:]+:\d+$/.test(config.temporal.address)) {
    fail(`TEMPORAL_ADDRESS must be host:port (e.g. localhost:7233), got "${config.temporal.address}"`, 'TEMPORAL_ADDRESS');
  }
  for (const [name, value, variable] of [
    ['temporal.port', config.temporal.port, 'MEWM_TEMPORAL_PORT'],
    ['temporal.uiPort', config.temporal.uiPort, 'MEWM_TEMPORAL_UI_PORT'],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 65535) fail(`${name} must be a port number, got ${value}: set ${variable}`, variable);
  }
  try {
    validateSearchOptions(p);
  } catch (error) {
    fail(`${(error as Error).message} (set MEWM_BEAMS, MEWM_REPLICAS, MEWM_DRUG_HORIZON, MEWM_EMBOLIC_HORIZON)`, 'MEWM_BEAMS');
  }
  positive(p.drugCandidates, 'planning.drugCandidates (D)', 'MEWM_DRUG_CANDIDATES');
  positive(p.embolicCandidates, 'planning.embolicCandidates (E)', 'MEWM_EMBOLIC_CANDIDATES');
  positive(p.simulateBatchReplicas, 'planning.simulateBatchReplicas', 'MEWM_SIMULATE_BATCH');
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff)
    fail(`planning.seed must be an unsigned 32-bit integer, got ${p.seed}: set MEWM_PLAN_SEED`, 'MEWM_PLAN_SEED');
  if (p.roiSize.length !== 3 || !p.roiSize.every((n) => Number.isInteger(n) && n >= 8 && n <= 512)) {
    fail(`planning.roiSize must be three integers in [8, 512], got ${JSON.stringify(p.roiSize)}: set MEWM_ROI_SIZE=96 or 96,96,64`, 'MEWM_ROI_SIZE');
  }
  if (!(p.roiSpacingMm > 0.1 && p.roiSpacingMm <= 10))
    fail(`planning.roiSpacingMm must be in (0.1, 10] mm, got ${p.roiSpacingMm}: set MEWM_ROI_SPACING_MM`, 'MEWM_ROI_SPACING_MM');
  const focus = p.segmentationFocusMarginMm;
  if (focus !== undefined && focus !== null && !(Number.isFinite(focus) && focus >= 0 && focus <= 200))
    fail(
      `planning.segmentationFocusMarginMm must be a margin in [0, 200] mm or null, got ${focus}: set MEWM_SEGMENT_FOCUS_MM=12 or off`,
      'MEWM_SEGMENT_FOCUS_MM',
    );
  if (p.goal.trim() === '') fail('planning.goal is empty: set MEWM_GOAL to the language treatment goal', 'MEWM_GOAL');
  const t = p.timeouts;
  if (!(t.gpuHeartbeatS > 0) || !(t.gpuStartToCloseS > t.gpuHeartbeatS)) {
    fail(
      `planning.timeouts: gpuHeartbeatS (${t.gpuHeartbeatS}) must be positive and below gpuStartToCloseS (${t.gpuStartToCloseS}): set MEWM_GPU_HEARTBEAT_S / MEWM_GPU_TIMEOUT_S`,
      'MEWM_GPU_HEARTBEAT_S',
    );
  }
  if (!Number.isInteger(t.maximumAttempts) || t.maximumAttempts < 0)
    fail(`planning.timeouts.maximumAttempts must be ≥ 0 (0 = unlimited), got ${t.maximumAttempts}: set MEWM_MAX_ATTEMPTS`, 'MEWM_MAX_ATTEMPTS');
  positive(config.cohort.concurrency, 'cohort.concurrency', 'MEWM_COHORT_CONCURRENCY');
  positive(config.cohort.pageSize, 'cohort.pageSize', 'MEWM_COHORT_PAGE_SIZE');
  if (config.cohort.pageSize < config.cohort.concurrency) {
    fail(
      `cohort.pageSize (${config.cohort.pageSize}) must be at least cohort.concurrency (${config.cohort.concurrency}): raise MEWM_COHORT_PAGE_SIZE or lower MEWM_COHORT_CONCURRENCY`,
      'MEWM_COHORT_PAGE_SIZE',
    );
  }
  positive(config.workers.gpuSlots, 'workers.gpuSlots', 'MEWM_GPU_SLOTS');
  positive(config.workers.llmSlots, 'workers.llmSlots', 'MEWM_LLM_SLOTS');
  positive(config.workers.cpuSlots, 'workers.cpuSlots', 'MEWM_CPU_SLOTS');
  positive(config.workers.maxCachedWorkflows, 'workers.maxCachedWorkflows', 'MEWM_MAX_CACHED_WORKFLOWS');
  if (!(config.workers.shutdownGraceS >= 0 && config.workers.shutdownGraceS <= 3600))
    fail(`workers.shutdownGraceS must be in [0, 3600] seconds, got ${config.workers.shutdownGraceS}: set MEWM_SHUTDOWN_GRACE_S`, 'MEWM_SHUTDOWN_GRACE_S');
  for (const [name, value, variable, needed] of [
    ['artifacts.fileMode', config.artifacts.fileMode, 'MEWM_ARTIFACT_FILE_MODE', 0o600],
    ['artifacts.dirMode', config.artifacts.dirMode, 'MEWM_ARTIFACT_DIR_MODE', 0o700],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0o777 || (value & needed) !== needed) {
      fail(
        `${name} must be an octal permission in [${needed.toString(8)}, 777] that keeps the owner's access, got ${Number.isInteger(value) ? value.toString(8) : value}: set ${variable} (e.g. ${needed.toString(8)})`,
        variable,
      );
    }
  }
  if (config.temporal.payloadKey !== null && !/^[A-Za-z0-9+/]{43}=$/.test(config.temporal.payloadKey.trim())) {
    // The key itself is never echoed.
    fail('MEWM_PAYLOAD_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)', 'MEWM_PAYLOAD_KEY');
  }
  positive(config.ingest.maxVoxels, 'ingest.maxVoxels', 'MEWM_INGEST_MAX_VOXELS');
  positive(config.ingest.maxBytes, 'ingest.maxBytes', 'MEWM_INGEST_MAX_BYTES');
  positive(config.ingest.maxFiles, 'ingest.maxFiles', 'MEWM_INGEST_MAX_FILES');
  positive(config.ingest.maxSliceBytes, 'ingest.maxSliceBytes', 'MEWM_INGEST_MAX_SLICE_BYTES');
  const levels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(config.log.level)) fail(`MEWM_LOG_LEVEL must be one of ${levels.join(', ')}, got "${config.log.level}"`, 'MEWM_LOG_LEVEL');
  return config;
}

/**
 * The whole pipeline: defaults ← file ← env ← explicit overrides (CLI flags), then validated.
 * `file` is the parsed JSON of the config file, if any.
 */
export function resolveConfig(input: { cwd: string; env: Env; file?: unknown; overrides?: ConfigOverrides }): MewmConfig {
  if (input.file !== undefined && !isPlainObject(input.file)) {
    throw new MewmError('InvalidConfig', 'the config file must hold one JSON object (see src/config/config.ts for its keys)');
  }
  const fromEnv = configFromEnv(input.env);
  const preset = input.overrides?.preset ?? fromEnv.preset ?? (input.file as ConfigOverrides | undefined)?.preset ?? 'default';
  if (!Object.hasOwn(PRESETS, preset)) fail(`MEWM_PRESET must be one of ${Object.keys(PRESETS).join(', ')}, got "${String(preset)}"`, 'MEWM_PRESET');
  const base: MewmConfig = { ...defaultConfig(input.cwd), preset };
  const merged = mergeConfig(base, PRESETS[preset], input.file as ConfigOverrides | undefined, fromEnv, input.overrides);
  // A data dir set by file or env moves the defaults that live under it.
  const dataDirChanged = merged.dataDir !== base.dataDir;
  const artifactsSet = (input.file as ConfigOverrides | undefined)?.artifacts?.location ?? fromEnv.artifacts?.location ?? input.overrides?.artifacts?.location;
  const dataDir = isAbsolutePath(merged.dataDir) ? merged.dataDir : joinPath(input.cwd, merged.dataDir);
  const withDirs: MewmConfig = {
    ...merged,
    dataDir,
    policy: policyConfigFromEnv(input.env),
    artifacts: { ...merged.artifacts, location: artifactsSet === undefined && dataDirChanged ? joinPath(dataDir, 'artifacts') : merged.artifacts.location },
    worldModel: {
      ...merged.worldModel,
      modelDir:
        merged.worldModel.modelDir && !isAbsolutePath(merged.worldModel.modelDir)
          ? joinPath(input.cwd, merged.worldModel.modelDir)
          : merged.worldModel.modelDir,
    },
  };
  return validateConfig(withDirs);
}

function fail(message: string, variable: string): never {
  throw new MewmError('InvalidConfig', message, { variable });
}

function parseIntegerVar(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) fail(`${name} must be an integer, got "${raw}"`, name);
  return value;
}

function parseNumberVar(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) fail(`${name} must be a number, got "${raw}"`, name);
  return value;
}

function parseModeVar(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^0?o?[0-7]{3}$/.test(raw)) fail(`${name} must be an octal permission such as 600, got "${raw}"`, name);
  return parseInt(raw.replace(/^0?o?/, ''), 8);
}

function parseBooleanVar(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  const text = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off'].includes(text)) return false;
  return fail(`${name} must be 1/0, true/false, yes/no or on/off, got "${raw}"`, name);
}

function parseRoiSize(name: string, raw: string | undefined): [number, number, number] | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((s) => Number(s.trim()));
  if (parts.length === 1) parts.push(parts[0]!, parts[0]!);
  if (parts.length !== 3 || !parts.every(Number.isInteger))
    fail(`${name} must be one integer or three separated by commas (e.g. 96 or 96,96,64), got "${raw}"`, name);
  return [parts[0]!, parts[1]!, parts[2]!];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Path helpers without node:path, so the planning defaults stay importable anywhere.
function isAbsolutePath(path: string): boolean {
  return path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path);
}
function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}
