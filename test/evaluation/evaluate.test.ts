import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { Rng, deriveSeed } from '../../src/core/random';
import { protocolAgents, protocolKey, validProtocols, type Protocol } from '../../src/core/vocabulary';
import {
  baselineMethod,
  evaluate,
  firstChoiceProtocol,
  methodFromCohortOutcomes,
  optimalMethod,
  physicianMethod,
  randomValidMethod,
  type CaseTruth,
  type EvaluationInput,
  type MethodPredictions,
} from '../../src/evaluation/evaluate';

const PROTOCOLS = validProtocols(2, 2);

/** A toy world: each case prefers some agents; the risk falls with each preferred agent present. */
function toyCohort(n: number, seed: number) {
  const rng = new Rng(seed);
  const truth: CaseTruth[] = [];
  const preferences = new Map<string, Set<string>>();
  for (let i = 0; i < n; i++) {
    const caseId = `case-${String(i).padStart(3, '0')}`;
    const size = rng.range(10, 90);
    const count = rng.int(1, 5);
    const liked = new Set(protocolAgents(rng.pick(PROTOCOLS)));
    preferences.set(caseId, liked);
    const riskOf = (p: Protocol) => 1 + size / 50 - 0.3 * protocolAgents(p).filter((a) => liked.has(a)).length + 0.05 * protocolAgents(p).length;
    let best = PROTOCOLS[0]!;
    for (const p of PROTOCOLS) if (riskOf(p) < riskOf(best)) best = p;
    const physician = rng.bernoulli(0.5) ? best : rng.pick(PROTOCOLS);
    const hazard = 0.02 * Math.exp(0.03 * size + 0.2 * count);
    const eventTime = -Math.log(1 - rng.uniform()) / hazard;
    const censor = rng.range(6, 60);
    truth.push({
      caseId,
      optimalProtocol: best,
      physicianProtocol: physician,
      expectedRisk: { [protocolKey(best)]: riskOf(best), [protocolKey(physician)]: riskOf(physician) },
      survival: { timeMonths: Math.min(eventTime, censor), event: eventTime <= censor },
      features: { largestDiameterMm: size, tumourCount: count },
    });
  }
  const riskOf = (caseId: string, p: Protocol) => {
    const t = truth.find((c) => c.caseId === caseId)!;
    const liked = preferences.get(caseId)!;
    const size = t.features!.largestDiameterMm!;
    return 1 + size / 50 - 0.3 * protocolAgents(p).filter((a) => liked.has(a)).length + 0.05 * protocolAgents(p).length;
  };
  return { truth, riskOf };
}

function fakeMewm(truth: readonly CaseTruth[], riskOf: (caseId: string, p: Protocol) => number, hitRate: number, seed: number): MethodPredictions {
  const rng = new Rng(seed);
  return methodFromCohortOutcomes(
    'mewm-oracle',
    'MeWM (oracle world model)',
    'mewm',
    truth.map((t, i) => {
      if (i === 3) return { caseId: t.caseId, status: 'failed' as const };
      const protocol = rng.bernoulli(hitRate) ? t.optimalProtocol : rng.pick(PROTOCOLS);
      return { caseId: t.caseId, status: 'completed' as const, protocol, risk: riskOf(t.caseId, protocol) };
    }),
    {
      candidates: Object.fromEntries(
        truth.slice(0, 2).map((t) => [
          t.caseId,
          [t.optimalProtocol, t.physicianProtocol, PROTOCOLS[5]!].map((p) => ({
            protocol: p,
            meanRisk: riskOf(t.caseId, p),
            lowerRisk: riskOf(t.caseId, p) - 0.1,
            upperRisk: riskOf(t.caseId, p) + 0.1,
          })),
        ]),
      ),
    },
  );
}

async function toyInput(): Promise<EvaluationInput> {
  const { truth, riskOf } = toyCohort(60, 11);
  const mewm = fakeMewm(truth, riskOf, 0.7, 5);
  const ablation: MethodPredictions = {
    ...fakeMewm(truth, riskOf, 0.3, 6),
    method: 'mewm-oracle-no-am',
    label: 'w/o AM',
    kind: 'ablation',
    ablationOf: 'mewm-oracle',
  };
  const guideline = await baselineMethod('guideline', 'Guideline policy (first choice)', truth, () =>
    firstChoiceProtocol({ drugs: ['epirubicin', 'raltitrexed', 'lobaplatin'], embolics: ['lipiodol', 'gelatin-sponge'] }, { maxDrugs: 1, maxEmbolics: 1 }),
  );
  return {
    cohortId: 'toy',
    truth,
    methods: [optimalMethod(truth), physicianMethod(truth), mewm, guideline, randomValidMethod(truth, 3, { maxDrugs: 2, maxEmbolics: 2 }), ablation],
    survivalScores: [
      { name: 'true-risk', label: 'true expected risk', risk: Object.fromEntries(truth.map((t) => [t.caseId, riskOf(t.caseId, t.physicianProtocol)])) },
    ],
    realism: [
      { caseId: truth[0]!.caseId, protocolKey: protocolKey(truth[0]!.optimalProtocol), compositionError: 0.1, ssim: 0.8, psnr: 25 },
      { caseId: truth[1]!.caseId, protocolKey: protocolKey(truth[0]!.optimalProtocol), compositionError: 0.2, ssim: 0.6, psnr: 20 },
    ],
    riskOf,
    options: { seed: 99, bootstrapResamples: 300, provenance: { command: 'mewm evaluate --cohort toy', commit: 'test' } },
  };
}

describe('evaluate', () => {
  it('scores the optimal row perfectly, random worse, and MeWM in between, with intervals', async () => {
    const input = await toyInput();
    const { summary } = evaluate(input);
    const row = (id: string) => summary.agreement.optimal.find((r) => r.method === id)!;
    expect(row('optimal').metrics.f1).toEqual({ estimate: 1, lower: 1, upper: 1 });
    expect(row('random-valid').metrics.f1.estimate).toBeLessThan(row('mewm-oracle').metrics.f1.estimate);
    expect(row('mewm-oracle').failed).toBe(1);
    const f1 = row('mewm-oracle').metrics.f1;
    expect(f1.lower).toBeLessThan(f1.estimate);
    expect(f1.upper).toBeGreaterThan(f1.estimate);
    expect(summary.agreement.physician.some((r) => r.method === 'physician')).toBe(false);
    expect(summary.agreement.optimal.some((r) => r.method === 'mewm-oracle-no-am')).toBe(false);

    const outcome = (id: string) => summary.outcome.find((r) => r.method === id)!;
    expect(outcome('optimal').meanRegret.estimate).toBe(0);
    expect(outcome('optimal').optimalRate).toBe(1);
    expect(outcome('random-valid').meanRegret.estimate).toBeGreaterThan(outcome('mewm-oracle').meanRegret.estimate);
    expect(outcome('mewm-oracle').scored).toBe(59);
  });

  it('computes per-case agreement by hand for the guideline row', async () => {
    const input = await toyInput();
    const { summary } = evaluate(input);
    const { protocolAgreement } = await import('../../src/evaluation/set-agreement');
    const expected =
      input.truth.reduce((s, t) => s + protocolAgreement({ drugs: ['epirubicin'], embolics: ['lipiodol'] }, t.optimalProtocol).f1, 0) / input.truth.length;
    expect(summary.agreement.optimal.find((r) => r.method === 'guideline')!.metrics.f1.estimate).toBeCloseTo(expected, 12);
  });

  it('fits a cross-fitted Cox baseline that finds the generating effects and ranks survival', async () => {
    const { summary } = evaluate(await toyInput());
    expect(summary.coxBaseline!.features).toEqual(['largestDiameterMm', 'tumourCount']);
    expect(summary.coxBaseline!.coefficients['largestDiameterMm']).toBeGreaterThan(0);
    const cox = summary.survival.find((r) => r.score === 'cox-baseline')!;
    expect(cox.cIndex.estimate).toBeGreaterThan(0.6);
    expect(cox.brier).toBeGreaterThan(0);
    expect(cox.brier).toBeLessThan(0.35);
    expect(summary.survival.find((r) => r.score === 'true-risk')).toBeDefined();
  });

  it('fits the Cox baseline on separate training cases when given', async () => {
    const input = await toyInput();
    const training = toyCohort(200, 12).truth;
    const { summary } = evaluate({ ...input, coxTraining: training });
    expect(summary.coxBaseline).toMatchObject({ trainingCases: 200, folds: 0 });
    expect(summary.coxBaseline!.coefficients['largestDiameterMm']).toBeGreaterThan(0);
    const cox = summary.survival.find((r) => r.score === 'cox-baseline')!;
    expect(cox.label).toContain('fit on 200 training cases');
    expect(cox.cIndex.estimate).toBeGreaterThan(0.6);
  });

  it('writes every table as Markdown, CSV and figure, KM plots, risk bars, predictions and a README', async () => {
    const { files, summary } = evaluate(await toyInput());
    const paths = files.map((f) => f.path);
    for (const name of ['agreement-optimal', 'agreement-physician', 'outcome', 'ablation', 'survival', 'realism']) {
      expect(paths).toContain(`tables/${name}.md`);
      expect(paths).toContain(`tables/${name}.csv`);
      expect(paths).toContain(`figures/table-${name}.png`);
      expect(paths).toContain(`figures/table-${name}.svg`);
    }
    expect(paths).toContain('figures/km-cox-baseline.png');
    expect(paths).toContain('figures/km-true-risk.svg');
    expect(paths.filter((p) => p.startsWith('figures/risk-mewm-oracle-case-'))).toHaveLength(4);
    expect(paths).toEqual(expect.arrayContaining(['predictions.csv', 'summary.json', 'README.md']));
    expect(summary.skipped).toEqual([]);
    for (const f of files.filter((f) => f.path.endsWith('.png'))) {
      const png = PNG.sync.read(Buffer.from(f.content as Uint8Array));
      expect(png.width).toBeGreaterThan(100);
    }
    const predictions = files.find((f) => f.path === 'predictions.csv')!.content as string;
    expect(predictions.trim().split('\n')).toHaveLength(1 + 60 * 6);
    const md = files.find((f) => f.path === 'tables/agreement-optimal.md')!.content as string;
    expect(md).toContain('| Optimal protocol (best possible) | 100.00 [100.00, 100.00]');
  });

  it('reports ablation deltas against the full method', async () => {
    const { files, summary } = evaluate(await toyInput());
    const csv = (files.find((f) => f.path === 'tables/ablation.csv')!.content as string).trim().split('\n');
    const header = csv[0]!.split(',');
    const values = csv[1]!.split(',');
    const full = summary.agreement.optimal.find((r) => r.method === 'mewm-oracle')!.metrics.f1.estimate;
    const ablated = Number(values[header.indexOf('f1')]);
    expect(Number(values[header.indexOf('f1_delta')])).toBeCloseTo(ablated - full, 12);
    expect(ablated).toBeLessThan(full);
  });

  it('is deterministic and says what it skipped', async () => {
    const input = await toyInput();
    expect(JSON.stringify(evaluate(input).summary)).toEqual(JSON.stringify(evaluate(input).summary));
    const bare = evaluate({
      ...input,
      methods: input.methods.filter((m) => m.kind !== 'ablation').map((m) => ({ ...m, predictions: m.predictions.map(({ candidates: _c, ...p }) => p) })),
      realism: [],
      survivalScores: [],
    });
    expect(bare.summary.skipped.join('\n')).toMatch(/ablation table/);
    expect(bare.summary.skipped.join('\n')).toMatch(/realism table/);
    expect(bare.summary.skipped.join('\n')).toMatch(/risk-by-protocol/);
    expect(bare.files.find((f) => f.path === 'README.md')!.content).toMatch(/Not produced/);
  });

  it('rejects inconsistent input with typed errors', async () => {
    const input = await toyInput();
    const invalid = expect.objectContaining({ code: 'InvalidInput' });
    expect(() => evaluate({ ...input, truth: [...input.truth, input.truth[0]!] })).toThrow(invalid);
    expect(() => evaluate({ ...input, truth: [] })).toThrow(invalid);
    const stray: MethodPredictions = { method: 'stray', label: 'stray', kind: 'baseline', predictions: [{ caseId: 'nobody', protocol: null }] };
    expect(() => evaluate({ ...input, methods: [...input.methods, stray] })).toThrow(invalid);
    expect(() => evaluate({ ...input, methods: [...input.methods, { ...stray, method: 'Bad Name', predictions: [] }] })).toThrow(invalid);
    const orphan: MethodPredictions = { ...input.methods[5]!, method: 'orphan', ablationOf: 'missing' };
    expect(() => evaluate({ ...input, methods: [...input.methods, orphan] })).toThrow(invalid);
  });

  it('counts a resumed (skipped) cohort outcome that carries its protocol as planned, a failed one as no prediction', () => {
    const [a, b, c] = toyCohort(3, 5).truth;
    const row = methodFromCohortOutcomes('m', 'M', 'mewm', [
      { caseId: a!.caseId, status: 'skipped', protocol: a!.optimalProtocol, risk: 0.5 },
      { caseId: b!.caseId, status: 'failed' },
      { caseId: c!.caseId, status: 'skipped' },
    ]);
    expect(row.predictions.map((p) => p.protocol)).toEqual([a!.optimalProtocol, null, null]);
  });

  it('draws the random baseline reproducibly per case', () => {
    const { truth } = toyCohort(5, 1);
    const a = randomValidMethod(truth, 7, { maxDrugs: 2, maxEmbolics: 2 });
    const b = randomValidMethod(truth.slice(2), 7, { maxDrugs: 2, maxEmbolics: 2 });
    expect(b.predictions[0]).toEqual(a.predictions[2]);
    expect(deriveSeed(7, 'random-valid', 'x')).not.toBe(deriveSeed(8, 'random-valid', 'x'));
  });
});

if (process.env.MEWM_EVAL_DUMP) {
  it('dumps the toy results for a look', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { dirname, join } = await import('node:path');
    for (const f of evaluate(await toyInput()).files) {
      const path = join(process.env.MEWM_EVAL_DUMP!, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.content);
    }
  });
}
