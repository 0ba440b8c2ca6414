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
import { mkdir, readFile, rename, writeFile, appendFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { isMewmError, MewmError, toMewmError } from '../core/errors';
import { reorientToRas } from '../core/volume/orientation';
import { Label, makeVolume, type LabelledCt, type Volume } from '../core/volume/volume';
import { readNifti } from '../io/nifti';
import { encodePng, renderAxialSlice } from '../io/png';
import { policyConfigFromEnv } from '../policy/config';
import { describePolicy } from '../policy/index';
import { createProtocolBaseline, DEFAULT_GOAL } from '../policy/llm-baseline';
import { observeTumour } from '../policy/observation';
import { usageError } from './command-support';

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
        if (v !== 'train' && v !== 'val' && v !== 'test' && v !== 'all') throw new MewmError('InvalidInput', `--split must be train, val, test or all, got "${v}"`);
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

const manifestRow = z.object({
  caseId: z.string().min(1),
  split: z.enum(['train', 'val', 'test']),
  preCt: z.string().min(1),
  preLabels: z.string().min(1),
});
export type BaselineManifestRow = z.infer<typeof manifestRow>;

export async function readCohortManifest(cohortDir: string): Promise<BaselineManifestRow[]> {
  const path = join(cohortDir, 'manifest.jsonl');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MewmError('InvalidInput', `no manifest.jsonl in the cohort folder (write one with mewm synth)`, { file: 'manifest.jsonl' }, { cause: error });
  }
  return text
    .split('\n')
    .map((line, i) => ({ line: line.trim(), number: i + 1 }))
    .filter(({ line }) => line.length > 0)
    .map(({ line, number }) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new MewmError('InvalidInput', `manifest.jsonl line ${number} is not JSON`, { line: number });
      }
      const parsed = manifestRow.safeParse(value);
      if (!parsed.success) throw new MewmError('InvalidInput', `manifest.jsonl line ${number}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`, { line: number });
      return parsed.data;
    });
}

/** Reads a case's pre-CT (as float HU) and label map (uint8). */
export async function readPreTreatment(cohortDir: string, row: BaselineManifestRow): Promise<LabelledCt> {
  const ct = await readNifti(join(cohortDir, row.preCt));
  const labels = await readNifti(join(cohortDir, row.preLabels));
  const ctFloat = ct.data instanceof Float32Array ? (ct as Volume<Float32Array>) : makeVolume(Float32Array.from(ct.data), ct.shape, ct.affine);
  const labelBytes = labels.data instanceof Uint8Array ? (labels as Volume<Uint8Array>) : makeVolume(Uint8Array.from(labels.data), labels.shape, labels.affine);
  return { ct: ctFloat, labels: labelBytes };
}

/**
 * PNGs of `count` axial slices through the tumour (the slice with the most tumour and its
 * neighbours spread over the lesion), abdominal window, liver and tumour outlined.
 */
export function renderKeySlices(roi: LabelledCt, count: number): Uint8Array[] {
  if (count === 0) return [];
  const labels = reorientToRas(roi.labels);
  const [nx, ny, nz] = labels.shape;
  const plane = nx * ny;
  const area = new Array<number>(nz).fill(0);
  for (let z = 0; z < nz; z++) for (let q = z * plane; q < (z + 1) * plane; q++) if (labels.data[q] === Label.tumour) area[z]!++;
  const withTumour = area.map((a, z) => ({ a, z })).filter((s) => s.a > 0);
  if (withTumour.length === 0) return [];
  const best = withTumour.reduce((m, s) => (s.a > m.a ? s : m));
  const lo = withTumour[0]!.z;
  const hi = withTumour[withTumour.length - 1]!.z;
  const picks = new Set<number>([best.z]);
  for (let k = 1; picks.size < count && k <= count; k++) {
    const step = Math.max(1, Math.round(((hi - lo) / (count + 1)) * k));
    for (const z of [best.z - step, best.z + step]) if (z >= lo && z <= hi && picks.size < count) picks.add(z);
  }
  return [...picks].sort((a, b) => a - b).map((z) => {
    const image = renderAxialSlice(roi.ct, z, { labels: roi.labels });
    return encodePng(image.rgba, image.width, image.height);
  });
}

/** Runs the command; returns the exit code (0 all cases done, 1 some cases failed, 2 bad input or configuration). */
export async function runBaseline(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let args: BaselineArguments;
  let baseline: ReturnType<typeof createProtocolBaseline>;
  let rows: BaselineManifestRow[];
  try {
    args = parseBaselineArguments(argv);
    const config = policyConfigFromEnv(args.policy === 'auto' ? env : { ...env, MEWM_POLICY: args.policy });
    baseline = createProtocolBaseline(config.llm);
    rows = (await readCohortManifest(args.cohortDir)).filter((r) => args.split === 'all' || r.split === args.split).slice(0, args.limit);
  } catch (error) {
    return usageError(USAGE, error, 'baseline');
  }
  process.stderr.write(`mewm baseline: ${describePolicy(baseline.identity).replace(/^policy: /, 'baseline: ')}\n`);
  process.stderr.write(`mewm baseline: ${rows.length} case(s) of split "${args.split}"\n`);
  const outFile = resolve(args.outFile);
  const partial = `${outFile}.partial`;
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(partial, '');
  let failed = 0;
  let done = 0;
  let configFailure = false;
  for (const row of rows) {
    if (configFailure) break;
    let line: Record<string, unknown>;
    try {
      const roi = await readPreTreatment(args.cohortDir, row);
      const observation = observeTumour(roi, { caseId: row.caseId });
      const keySlicesPng = renderKeySlices(roi, args.slices);
      const prediction = await baseline.predict({ caseId: row.caseId, observation, goal: args.goal, keySlicesPng });
      line = { ...prediction, split: row.split, observation };
      process.stderr.write(`${row.caseId}: ${prediction.label}${prediction.removals.length > 0 ? ` (${prediction.removals.length} rule removal(s))` : ''}\n`);
    } catch (error) {
      const e = toMewmError(error);
      failed++;
      if (isMewmError(error, 'InvalidConfig')) configFailure = true;
      line = { caseId: row.caseId, split: row.split, error: { code: e.code, message: e.message } };
      process.stderr.write(`${row.caseId}: failed: ${e.code}: ${e.message}\n`);
    }
    await appendFile(partial, `${JSON.stringify(line)}\n`);
    done++;
  }
  await rename(partial, outFile);
  const skipped = rows.length - done;
  process.stderr.write(`mewm baseline: ${done - failed} ok, ${failed} failed${skipped > 0 ? `, ${skipped} not attempted (fix the configuration)` : ''} → ${args.outFile}\n`);
  if (configFailure) return 2;
  return failed > 0 ? 1 : 0;
}
