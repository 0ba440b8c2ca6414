/**
 * The survival ceiling of the synthetic world: the C-index of the world's own expected risk of the
 * given (physician's) protocol against the observed survival — what no risk score can beat by
 * more than chance — on whole cohorts, from the truth only (no images: fast).
 *
 *   node --import tsx bench/survival-ceiling.ts --seeds 20261126,20261209 --patients 420 [--subsets 14]
 *        [--check-cohort DIR]
 *
 * Each patient is regenerated exactly as `mewm synth` writes it (phenotype, physician's protocol,
 * the treatment's response draw, Weibull survival with censoring; src/world/cohort.ts), so the
 * observed times are those of `mewm synth --seed S --patients N`; `--check-cohort DIR` verifies
 * that against a written cohort's manifest.jsonl. Prints the C-index per seed and pooled, of the
 * expected risk and of the realised risk (after the drawn response), and with `--subsets N` the
 * spread of the expected-risk C-index over disjoint N-patient subsets (what a small test split shows).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deriveSeed } from '../src/core/random';
import { concordance } from '../src/evaluation/survival/concordance';
import { generatePatientTruth } from '../src/world/cohort';
import { responseDrawsForSeed, responseState } from '../src/world/response';
import { drawSurvival, riskFromState } from '../src/world/survival';

interface Patient {
  readonly caseId: string;
  readonly expected: number;
  readonly realised: number;
  readonly time: number;
  readonly event: 0 | 1;
}

function regenerate(seed: number, patients: number): Patient[] {
  const out: Patient[] = [];
  for (let index = 1; index <= patients; index++) {
    const truth = generatePatientTruth(seed, index);
    const state = responseState(truth.phenotype, truth.physician, responseDrawsForSeed(truth.phenotype, deriveSeed(truth.patientSeed, 'treatment')));
    const realised = riskFromState(truth.phenotype, state);
    const survival = drawSurvival(realised, truth.patientSeed);
    out.push({ caseId: truth.caseId, expected: truth.physicianExpectedRisk, realised, time: survival.osMonths, event: survival.event });
  }
  return out;
}

const cIndex = (ps: readonly Patient[], risk: (p: Patient) => number) =>
  concordance(
    { times: ps.map((p) => p.time), events: ps.map((p) => p.event) },
    ps.map((p) => -risk(p)),
  ).cIndex;

function main(): void {
  const { values } = parseArgs({
    options: { seeds: { type: 'string' }, patients: { type: 'string', default: '420' }, subsets: { type: 'string' }, 'check-cohort': { type: 'string' } },
  });
  const seeds = (values.seeds ?? '')
    .split(',')
    .filter((s) => s.length > 0)
    .map(Number);
  const patients = Number(values.patients);
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s)) || !Number.isInteger(patients) || patients < 2) {
    throw new Error('usage: bench/survival-ceiling.ts --seeds S1,S2 --patients N [--subsets 14] [--check-cohort DIR]');
  }
  if (values['check-cohort']) {
    const dir = values['check-cohort'];
    const manifest = readFileSync(join(dir, 'manifest.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { caseId: string; osMonths: number; event: number });
    const world = JSON.parse(readFileSync(join(dir, 'world.json'), 'utf8')) as { seed: number };
    const regenerated = new Map(regenerate(world.seed, manifest.length).map((p) => [p.caseId, p]));
    const mismatches = manifest.filter((m) => regenerated.get(m.caseId)?.time !== m.osMonths || regenerated.get(m.caseId)?.event !== m.event).length;
    console.log(`check: ${manifest.length} patients of seed ${world.seed} regenerated, ${mismatches} differ from the cohort's manifest.jsonl`);
    if (mismatches > 0) process.exitCode = 1;
  }
  const all: Patient[] = [];
  console.log('| cohort seed | patients | events | C-index, expected risk | C-index, realised risk |');
  console.log('|---|---:|---:|---:|---:|');
  for (const seed of seeds) {
    const ps = regenerate(seed, patients);
    all.push(...ps);
    console.log(
      `| ${seed} | ${ps.length} | ${ps.filter((p) => p.event === 1).length} | ${cIndex(ps, (p) => p.expected).toFixed(3)} | ${cIndex(ps, (p) => p.realised).toFixed(3)} |`,
    );
  }
  if (seeds.length > 1)
    console.log(
      `| pooled | ${all.length} | ${all.filter((p) => p.event === 1).length} | ${cIndex(all, (p) => p.expected).toFixed(3)} | ${cIndex(all, (p) => p.realised).toFixed(3)} |`,
    );
  if (values.subsets) {
    const n = Number(values.subsets);
    const cs: number[] = [];
    for (let start = 0; start + n <= all.length; start += n) cs.push(cIndex(all.slice(start, start + n), (p) => p.expected));
    cs.sort((a, b) => a - b);
    const q = (f: number) => cs[Math.min(cs.length - 1, Math.floor(f * cs.length))]!;
    console.log(
      `\nexpected-risk C-index over ${cs.length} disjoint ${n}-patient subsets: min ${cs[0]!.toFixed(3)}, q25 ${q(0.25).toFixed(3)}, median ${q(0.5).toFixed(3)}, q75 ${q(0.75).toFixed(3)}, max ${cs[cs.length - 1]!.toFixed(3)}; ≥ 0.75 in ${((100 * cs.filter((c) => c >= 0.75).length) / cs.length).toFixed(0)} %`,
    );
  }
}

main();
