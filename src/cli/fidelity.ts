/**
 * `mewm fidelity`: the action-fidelity evaluation of the configured world model (docs/fidelity.md;
 * domain code in src/evaluation/fidelity). In process, no Temporal.
 *
 *   mewm fidelity --cohort DIR [--split test|val|train|all] [--cases N] [--models DIR]
 *                 [--replicas T] [--sampler ddpm|ddim|dpm-solver++ --steps N] [--out DIR]
 *                 [--seed S] [--control ignore-action] [--check]
 *
 * The world model is the configured one (MEWM_WORLD_MODEL, MEWM_MODEL_DIR, …); `--models DIR`
 * picks ONNX models from DIR. With MEWM_WORLD_MODEL=oracle the oracle is evaluated against itself
 * (a positive control: its label cache is on, one process). `--control ignore-action` wraps the
 * dynamics so that every protocol is simulated as the panel's first one (a negative control).
 * Writes `results.json` (every replica's measurements and risks, the summary, the checks) and
 * `summary.md` under --out, prints the summary; `--check` exits 1 when a target of issue 10 is missed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MewmError } from '../core/errors';
import { loadConfig } from '../config/index';
import { createWorldModel, type WorldModelConfig } from '../backends/world-model';
import type { WorldModel } from '../models/world-model';
import {
  FIDELITY_PANEL,
  fidelityChecks,
  ignoringAction,
  ISSUE_10_TARGETS,
  renderFidelityReport,
  runFidelity,
  summariseFidelity,
  withDynamics,
  type FidelitySplit,
} from '../evaluation/fidelity/index';
import { EXIT, runCommand, type Command, type Env, type ExitCode } from './command';

const USAGE =
  'usage: mewm fidelity --cohort DIR [--split test|val|train|all] [--cases N] [--models DIR] [--replicas T]\n' +
  '                     [--sampler ddpm|ddim|dpm-solver++ --steps N] [--out DIR] [--seed S] [--control ignore-action] [--check]';

type SamplerMethod = 'ddpm' | 'ddim' | 'dpm-solver++';

export interface FidelityArguments {
  readonly cohortDir: string;
  readonly split: FidelitySplit;
  readonly cases?: number;
  readonly modelDir?: string;
  readonly replicas: number;
  readonly sampler?: { readonly method: SamplerMethod; readonly steps: number };
  readonly outDir: string;
  readonly seed: number;
  readonly control?: 'ignore-action';
  readonly check: boolean;
}

function integer(name: string, value: string | undefined, lo: number, hi: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < lo || Number(value) > hi)
    throw new MewmError('InvalidInput', `--${name} must be an integer in ${lo}..${hi}, got "${value}"`);
  return Number(value);
}

export function parseFidelityArguments(argv: readonly string[]): FidelityArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        cohort: { type: 'string' },
        split: { type: 'string' },
        cases: { type: 'string' },
        models: { type: 'string' },
        replicas: { type: 'string' },
        sampler: { type: 'string' },
        steps: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string' },
        control: { type: 'string' },
        check: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new MewmError('InvalidInput', error instanceof Error ? error.message : String(error));
  }
  const cohortDir = parsed.cohort;
  if (!cohortDir) throw new MewmError('InvalidInput', '--cohort DIR is required (a folder written by mewm synth)');
  const split = parsed.split ?? 'test';
  if (split !== 'train' && split !== 'val' && split !== 'test' && split !== 'all')
    throw new MewmError('InvalidInput', `--split must be train, val, test or all, got "${split}"`);
  const method = parsed.sampler;
  if (method !== undefined && method !== 'ddpm' && method !== 'ddim' && method !== 'dpm-solver++')
    throw new MewmError('InvalidInput', `--sampler must be ddpm, ddim or dpm-solver++, got "${method}"`);
  const steps = integer('steps', parsed.steps, 1, 10_000);
  if (steps !== undefined && method === undefined) throw new MewmError('InvalidInput', '--steps needs --sampler');
  if (parsed.control !== undefined && parsed.control !== 'ignore-action')
    throw new MewmError('InvalidInput', `--control must be ignore-action, got "${parsed.control}"`);
  const cases = integer('cases', parsed.cases, 1, 1_000_000);
  return {
    cohortDir,
    split,
    ...(cases !== undefined ? { cases } : {}),
    ...(parsed.models !== undefined ? { modelDir: parsed.models } : {}),
    replicas: integer('replicas', parsed.replicas, 1, 64) ?? 2,
    ...(method !== undefined ? { sampler: { method, steps: steps ?? (method === 'ddpm' ? 1000 : 25) } } : {}),
    outDir: parsed.out ?? join('.data', 'fidelity', `${basename(resolve(cohortDir))}-${split}`),
    seed: integer('seed', parsed.seed, 0, 0xffffffff) ?? 1,
    ...(parsed.control !== undefined ? { control: 'ignore-action' as const } : {}),
    check: parsed.check ?? false,
  };
}

/** Runs the evaluation; with --check, a missed target is exit code 1 (the measurements are written either way). */
async function fidelity(args: FidelityArguments, env: Env): Promise<ExitCode> {
  let world: WorldModel | undefined;
  try {
    const config = loadConfig({ env });
    let worldConfig: WorldModelConfig = args.modelDir !== undefined ? { ...config.worldModel, backend: 'onnx', modelDir: args.modelDir } : config.worldModel;
    if (args.sampler) worldConfig = { ...worldConfig, sampler: args.sampler };
    // One process: the oracle's exact-label cache is safe here (src/backends/world-model.ts says why it is off by default).
    if (worldConfig.backend === 'oracle') worldConfig = { ...worldConfig, oracleCohortDir: args.cohortDir, oracleLabelCache: true };
    world = await createWorldModel(worldConfig);
    const fixed = FIDELITY_PANEL[0]!.protocol;
    const evaluated = args.control === 'ignore-action' ? withDynamics(world, ignoringAction(world.dynamics, fixed)) : world;
    const sampler =
      worldConfig.backend === 'onnx'
        ? (worldConfig.sampler ?? { ...(await import('../models/onnx/world-model')).DEFAULT_SAMPLER, note: 'runtime default' })
        : null;
    const run = await runFidelity(evaluated, {
      cohortDir: args.cohortDir,
      split: args.split,
      ...(args.cases !== undefined ? { cases: args.cases } : {}),
      replicas: args.replicas,
      seed: args.seed,
      roiSize: config.planning.roiSize,
      roiSpacingMm: config.planning.roiSpacingMm,
      segmentationFocusMarginMm: config.planning.segmentationFocusMarginMm ?? null,
      settings: {
        ...(sampler ? { sampler } : {}),
        ...(args.control ? { control: args.control } : {}),
        segmentationFocusMarginMm: config.planning.segmentationFocusMarginMm ?? null,
      },
      onCase: (record, done, total) => {
        const s = record.seconds;
        process.stderr.write(
          `mewm fidelity: ${record.caseId} (${done}/${total}) ${s.total.toFixed(1)} s (simulate ${s.simulate.toFixed(1)}, segment ${s.segment.toFixed(1)}, score ${s.score.toFixed(1)}, truth ${s.truth.toFixed(1)})\n`,
        );
      },
    });
    const summary = summariseFidelity(run);
    const checks = fidelityChecks(summary, ISSUE_10_TARGETS);
    await mkdir(args.outDir, { recursive: true });
    const nullNaN = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value);
    await writeFile(
      join(args.outDir, 'results.json'),
      `${JSON.stringify({ ...run, summary, checks: { targets: ISSUE_10_TARGETS, ...checks } }, nullNaN, 1)}\n`,
    );
    await writeFile(join(args.outDir, 'summary.md'), renderFidelityReport(run, summary, checks, 'markdown'));
    process.stdout.write(renderFidelityReport(run, summary, checks, 'text'));
    process.stderr.write(`mewm fidelity: wrote ${join(args.outDir, 'results.json')} and summary.md\n`);
    return args.check && !checks.pass ? EXIT.failed : EXIT.ok;
  } finally {
    await world?.close();
  }
}

export const fidelityCommand: Command<FidelityArguments> = {
  name: 'fidelity',
  usage: USAGE,
  parse: parseFidelityArguments,
  run: (args, { env }) => fidelity(args, env),
};

export function runFidelityCommand(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(fidelityCommand, argv, env);
}
