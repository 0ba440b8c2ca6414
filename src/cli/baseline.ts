/**
 * `mewm baseline`: the LLM-only planning baseline over a cohort written by `mewm synth`.
 *
 *   mewm baseline --cohort DIR --out FILE [--split test|val|train|all] [--limit N]
 *                 [--goal TEXT] [--slices N] [--policy auto|guideline|llm]
 *
 * For every case of `DIR/manifest.jsonl` (split `test` by default) it reads the pre-CT and its
 * labels, computes the tumour observation, renders key slices, asks the configured endpoint for
 * the final protocol (docs/policy.md for the environment variables) and writes one JSON line per
 * case to FILE: `{ caseId, split, protocol: { drugs, embolics }, key, label, rationale, removals,
 * baseline, attempts, observation }`, or `{ caseId, split, error: { code, message } }` when the
 * case failed. Without an endpoint the guideline policy stands in, and the command says so.
 */
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMewmError, MewmError, toMewmError } from '../core/errors';
import { readPreTreatment, readSyntheticManifest } from '../io/cohort-manifest';
import { renderKeySlices } from '../io/key-slices';
import { loadConfig } from '../config/load';
import { describePolicy } from '../policy/index';
import { createProtocolBaseline, DEFAULT_GOAL } from '../policy/llm-baseline';
import { observeTumour } from '../policy/observation';
import { EXIT, runCommand, type Command, type Env, type ExitCode } from './command';

const USAGE = 'usage: mewm baseline --cohort DIR --out FILE [--split test|val|train|all] [--limit N] [--goal TEXT] [--slices N] [--policy auto|guideline|llm]';

export interface BaselineArguments {
  readonly cohortDir: string;
  readonly outFile: string;
  readonly split: 'train' | 'val' | 'test' | 'all';
  readonly limit?: number;
  readonly goal: string;
  readonly slices: number;
  readonly policy: 'auto' | 'guideline' | 'llm';
}

export function parseBaselineArguments(argv: readonly string[]): BaselineArguments {
  let cohortDir: string | undefined;
  let outFile: string | undefined;
  let split: BaselineArguments['split'] = 'test';
  let limit: number | undefined;
  let goal = DEFAULT_GOAL;
  let slices = 3;
  let policy: BaselineArguments['policy'] = 'auto';
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new MewmError('InvalidInput', `${name} needs a value`);
      return v;
    };
    const integer = (lo: number, hi: number): number => {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new MewmError('InvalidInput', `${name} must be an integer in ${lo}..${hi}, got "${v}"`);
      return Number(v);
    };
    switch (name) {
      case '--cohort':
        cohortDir = value();
        break;
      case '--out':
        outFile = value();
        break;
      case '--split': {
        const v = value();
        if (v !== 'train' && v !== 'val' && v !== 'test' && v !== 'all')
          throw new MewmError('InvalidInput', `--split must be train, val, test or all, got "${v}"`);
        split = v;
        break;
      }
      case '--limit':
        limit = integer(1, 1_000_000);
        break;
      case '--goal':
        goal = value();
        break;
      case '--slices':
        slices = integer(0, 8);
        break;
      case '--policy': {
        const v = value();
        if (v !== 'auto' && v !== 'guideline' && v !== 'llm') throw new MewmError('InvalidInput', `--policy must be auto, guideline or llm, got "${v}"`);
        policy = v;
        break;
      }
      default:
        throw new MewmError('InvalidInput', `unknown argument "${flag}"`);
    }
  }
  if (!cohortDir) throw new MewmError('InvalidInput', '--cohort DIR is required');
  if (!outFile) throw new MewmError('InvalidInput', '--out FILE is required');
  return { cohortDir, outFile, split, goal, slices, policy, ...(limit !== undefined ? { limit } : {}) };
}

/** Runs the command: 0 all cases done, 1 some cases failed (each with its error in FILE); a configuration error stops the run. */
async function baseline(args: BaselineArguments, env: Env): Promise<ExitCode> {
  // --policy stands for MEWM_POLICY.
  const { policy } = loadConfig({ env: args.policy === 'auto' ? env : { ...env, MEWM_POLICY: args.policy } });
  const predictor = createProtocolBaseline(policy.llm);
  const rows = (await readSyntheticManifest(args.cohortDir, ['split', 'preCt', 'preLabels']))
    .filter((r) => args.split === 'all' || r.split === args.split)
    .slice(0, args.limit);
  process.stderr.write(`mewm baseline: ${describePolicy(predictor.identity).replace(/^policy: /, 'baseline: ')}\n`);
  process.stderr.write(`mewm baseline: ${rows.length} case(s) of split "${args.split}"\n`);
  const outFile = resolve(args.outFile);
  const partial = `${outFile}.partial`;
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(partial, '');
  let failed = 0;
  let done = 0;
  let configFailure: unknown;
  for (const row of rows) {
    if (configFailure !== undefined) break;
    let line: Record<string, unknown>;
    try {
      const roi = await readPreTreatment(args.cohortDir, row);
      const observation = observeTumour(roi, { caseId: row.caseId });
      const keySlicesPng = renderKeySlices(roi, args.slices);
      const prediction = await predictor.predict({ caseId: row.caseId, observation, goal: args.goal, keySlicesPng });
      line = { ...prediction, split: row.split, observation };
      process.stderr.write(`${row.caseId}: ${prediction.label}${prediction.removals.length > 0 ? ` (${prediction.removals.length} rule removal(s))` : ''}\n`);
    } catch (error) {
      const e = toMewmError(error);
      failed++;
      // A configuration error would fail every case the same way: stop after this one.
      if (isMewmError(error, 'InvalidConfig')) configFailure = error;
      line = { caseId: row.caseId, split: row.split, error: { code: e.code, message: e.message } };
      process.stderr.write(`${row.caseId}: failed: ${e.code}: ${e.message}\n`);
    }
    await appendFile(partial, `${JSON.stringify(line)}\n`);
    done++;
  }
  await rename(partial, outFile);
  const skipped = rows.length - done;
  process.stderr.write(
    `mewm baseline: ${done - failed} ok, ${failed} failed${skipped > 0 ? `, ${skipped} not attempted (fix the configuration)` : ''} → ${args.outFile}\n`,
  );
  if (configFailure !== undefined) throw configFailure;
  return failed > 0 ? EXIT.failed : EXIT.ok;
}

export const baselineCommand: Command<BaselineArguments> = {
  name: 'baseline',
  usage: USAGE,
  parse: parseBaselineArguments,
  run: (args, { env }) => baseline(args, env),
};

export function runBaseline(argv: readonly string[], env?: Env): Promise<number> {
  return runCommand(baselineCommand, argv, env);
}
