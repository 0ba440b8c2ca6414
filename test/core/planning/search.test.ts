import { describe, expect, it } from 'vitest';
import { runSearch, type CandidateEvaluator } from '../../../src/core/planning/search';
import type { SearchOptions } from '../../../src/core/planning/beam-search';
import { isValidProtocol, protocolAgents, protocolKey, type AgentId, type DrugId, type EmbolicId } from '../../../src/core/vocabulary';
import { Rng } from '../../../src/core/random';

const paper = { appendLipiodolAfterDrugs: false, requireImprovement: false };

/** Additive risk per agent: a landscape whose greedy optimum is easy to work out by hand. */
function additive(effects: Partial<Record<AgentId, number>>, noise = 0): CandidateEvaluator & { calls: number; specs: number } {
  const evaluator = Object.assign(
    async (specs: Parameters<CandidateEvaluator>[0]) => {
      evaluator.calls += 1;
      evaluator.specs += specs.length;
      return specs.map((spec) =>
        spec.seeds.map((seed) => protocolAgents(spec.protocol).reduce((risk, agent) => risk + (effects[agent] ?? 0), 1) + noise * new Rng(seed).normal()),
      );
    },
    { calls: 0, specs: 0 },
  );
  return evaluator;
}

const drugs: DrugId[] = ['cisplatin', 'epirubicin', 'oxaliplatin'];
const embolics: EmbolicId[] = ['lipiodol', 'gelatin-sponge'];
const effects = { cisplatin: -0.3, epirubicin: -0.2, oxaliplatin: -0.35, lipiodol: -0.1, 'gelatin-sponge': -0.15 };

describe('runSearch (Algorithm 1 end to end, pure)', () => {
  it('walks the drug then embolic horizons greedily, pruning the second platinum', async () => {
    const options: SearchOptions = { beams: 1, replicas: 1, drugHorizon: 2, embolicHorizon: 1, ...paper };
    const result = await runSearch({ options, planSeed: 3, drugs, embolics, evaluate: additive(effects) });
    expect(protocolKey(result.chosen.protocol)).toBe('oxaliplatin+epirubicin|gelatin-sponge');
    expect(result.chosen.moves.map((m) => m.agent)).toEqual(['oxaliplatin', 'epirubicin', 'gelatin-sponge']);
    expect(result.chosen.risk).toBeCloseTo(0.3, 12);
    expect(result.steps[1]!.pruned).toEqual([
      { beam: 0, agent: 'cisplatin', reasons: ['single-platinum'] },
      { beam: 0, agent: 'oxaliplatin', reasons: ['already-in-protocol'] },
    ]);
  });

  it('paper default appends even a harmful agent; requireImprovement (reference code) does not', async () => {
    const harmful = { ...effects, epirubicin: 0.1 };
    const base: SearchOptions = { beams: 1, replicas: 1, drugHorizon: 2, embolicHorizon: 1, ...paper };
    const asPaper = await runSearch({ options: base, planSeed: 3, drugs, embolics, evaluate: additive(harmful) });
    expect(protocolKey(asPaper.chosen.protocol)).toBe('oxaliplatin+epirubicin|gelatin-sponge');
    const asReference = await runSearch({ options: { ...base, requireImprovement: true }, planSeed: 3, drugs, embolics, evaluate: additive(harmful) });
    expect(protocolKey(asReference.chosen.protocol)).toBe('oxaliplatin|gelatin-sponge');
    expect(asReference.steps[1]!.extensions[0]!.outcome).toBe('no-improvement');
  });

  it('appendLipiodolAfterDrugs adds Lipiodol before the embolic horizon (reference code)', async () => {
    const options: SearchOptions = { beams: 2, replicas: 1, drugHorizon: 1, embolicHorizon: 1, appendLipiodolAfterDrugs: true, requireImprovement: false };
    const result = await runSearch({ options, planSeed: 3, drugs, embolics, evaluate: additive(effects) });
    expect(protocolKey(result.chosen.protocol)).toBe('oxaliplatin|lipiodol+gelatin-sponge');
    expect(result.chosen.moves.map((m) => m.source)).toEqual(['search', 'append-lipiodol', 'search']);
  });

  it('calls the evaluator once per step with every admissible beam × candidate', async () => {
    const evaluate = additive(effects, 0.05);
    const options: SearchOptions = { beams: 3, replicas: 2, drugHorizon: 2, embolicHorizon: 2, ...paper };
    const result = await runSearch({ options, planSeed: 11, drugs, embolics, evaluate });
    expect(evaluate.calls).toBe(4);
    const expected = result.steps.reduce((n, s) => n + s.scores.length, 0);
    expect(evaluate.specs).toBe(expected);
    for (const step of result.steps) expect(step.scores.length + step.pruned.length).toBe(3 * (step.phase === 'drug' ? drugs.length : embolics.length));
    expect(isValidProtocol(result.chosen.protocol)).toBe(true);
    expect(result.chosen.protocol.drugs.length).toBeLessThanOrEqual(2);
    expect(result.chosen.protocol.embolics.length).toBeLessThanOrEqual(2);
    expect(result.chosen.protocol.drugs.length).toBeGreaterThan(0);
    expect(result.chosen.protocol.embolics.length).toBeGreaterThan(0);
    expect(result.chosen.risk).toBe(Math.min(...result.beams.map((b) => b.risk!)));
  });

  it('same plan seed gives the same plan, bit for bit; the seed reaches the evaluator', async () => {
    const options: SearchOptions = { beams: 3, replicas: 3, drugHorizon: 2, embolicHorizon: 2, ...paper };
    const run = (seed: number) => runSearch({ options, planSeed: seed, drugs, embolics, evaluate: additive(effects, 0.5) });
    const [a, b, c] = await Promise.all([run(5), run(5), run(6)]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.steps.map((s) => s.scores.map((x) => x.risks)))).not.toBe(JSON.stringify(c.steps.map((s) => s.scores.map((x) => x.risks))));
  });
});
