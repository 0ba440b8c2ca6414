import { describe, expect, it } from 'vitest';
import {
  beamStepRunner,
  carryReplicas,
  exploreProtocols,
  originSlot,
  runBeamStep,
  type CandidateEvaluator,
  type StepReport,
  type StepRequest,
} from '../../../src/core/planning/exploration';
import { initBeams, type Beam, type CandidateSpec, type SearchOptions } from '../../../src/core/planning/beam-search';
import { EMPTY_PROTOCOL, isValidProtocol, protocolAgents, protocolKey, type AgentId, type DrugId, type EmbolicId } from '../../../src/core/vocabulary';
import { Rng } from '../../../src/core/random';

const paper = { appendLipiodolAfterDrugs: false, requireImprovement: false };

/** Additive risk per agent: a landscape whose greedy optimum is easy to work out by hand. Replicas: the candidate key. */
function additive(effects: Partial<Record<AgentId, number>>, noise = 0): CandidateEvaluator<string> & { calls: number; specs: number } {
  const evaluator = Object.assign(
    async (specs: readonly CandidateSpec[]) => {
      evaluator.calls += 1;
      evaluator.specs += specs.length;
      return specs.map((spec) => ({
        risks: spec.seeds.map(
          (seed) => protocolAgents(spec.protocol).reduce((risk, agent) => risk + (effects[agent] ?? 0), 1) + noise * new Rng(seed).normal(),
        ),
        replicas: spec.key,
      }));
    },
    { calls: 0, specs: 0 },
  );
  return evaluator;
}

const drugs: DrugId[] = ['cisplatin', 'epirubicin', 'oxaliplatin'];
const embolics: EmbolicId[] = ['lipiodol', 'gelatin-sponge'];
const effects = { cisplatin: -0.3, epirubicin: -0.2, oxaliplatin: -0.35, lipiodol: -0.1, 'gelatin-sponge': -0.15 };

function explore(options: SearchOptions, planSeed: number, evaluate: CandidateEvaluator<string>) {
  return exploreProtocols({ options, drugs, embolics, runStep: beamStepRunner({ ...options, planSeed }, evaluate) });
}

describe('exploreProtocols (Algorithm 1 end to end, pure)', () => {
  it('walks the drug then embolic horizons greedily, pruning the second platinum', async () => {
    const options: SearchOptions = { beams: 1, replicas: 1, drugHorizon: 2, embolicHorizon: 1, ...paper };
    const result = await explore(options, 3, additive(effects));
    expect(protocolKey(result.chosen.protocol)).toBe('oxaliplatin+epirubicin|gelatin-sponge');
    expect(result.chosen.moves.map((m) => m.agent)).toEqual(['oxaliplatin', 'epirubicin', 'gelatin-sponge']);
    expect(result.chosen.risk).toBeCloseTo(0.3, 12);
    expect(result.steps[1]!.pruned).toEqual([
      { beam: 0, agent: 'cisplatin', reasons: ['single-platinum'] },
      { beam: 0, agent: 'oxaliplatin', reasons: ['already-in-protocol'] },
    ]);
    expect(result.chosenReplicas).toBe('embolic/1/b0/gelatin-sponge');
  });

  it('asks for Hd drug steps, then He embolic steps, each with its phase candidates and the beams as they stand', async () => {
    const requests: StepRequest[] = [];
    const inner = beamStepRunner({ planSeed: 1, replicas: 1, requireImprovement: false }, additive(effects));
    const result = await exploreProtocols({
      options: { beams: 2, drugHorizon: 2, embolicHorizon: 2, appendLipiodolAfterDrugs: false },
      drugs,
      embolics,
      runStep: (request) => {
        requests.push(request);
        return inner(request);
      },
    });
    expect(requests.map((r) => `${r.phase}-${r.step}`)).toEqual(['drug-1', 'drug-2', 'embolic-1', 'embolic-2']);
    expect(requests.map((r) => r.candidates)).toEqual([drugs, drugs, embolics, embolics]);
    expect(requests[0]!.beams).toEqual(initBeams(2));
    for (let i = 1; i < requests.length; i++) expect(requests[i]!.beams).toBe(result.steps[i - 1]!.beams);
  });

  it('paper default appends even a harmful agent; requireImprovement (reference code) does not', async () => {
    const harmful = { ...effects, epirubicin: 0.1 };
    const base: SearchOptions = { beams: 1, replicas: 1, drugHorizon: 2, embolicHorizon: 1, ...paper };
    const asPaper = await explore(base, 3, additive(harmful));
    expect(protocolKey(asPaper.chosen.protocol)).toBe('oxaliplatin+epirubicin|gelatin-sponge');
    const asReference = await explore({ ...base, requireImprovement: true }, 3, additive(harmful));
    expect(protocolKey(asReference.chosen.protocol)).toBe('oxaliplatin|gelatin-sponge');
    expect(asReference.steps[1]!.extensions[0]!.outcome).toBe('no-improvement');
  });

  it('appendLipiodolAfterDrugs adds Lipiodol before the embolic horizon (reference code)', async () => {
    const options: SearchOptions = { beams: 2, replicas: 1, drugHorizon: 1, embolicHorizon: 1, appendLipiodolAfterDrugs: true, requireImprovement: false };
    const result = await explore(options, 3, additive(effects));
    expect(protocolKey(result.chosen.protocol)).toBe('oxaliplatin|lipiodol+gelatin-sponge');
    expect(result.chosen.moves.map((m) => m.source)).toEqual(['search', 'append-lipiodol', 'search']);
  });

  it('appendLipiodolAfterDrugs appends after the drug horizon even without an embolic horizon', async () => {
    const options: SearchOptions = { beams: 2, replicas: 1, drugHorizon: 1, embolicHorizon: 0, appendLipiodolAfterDrugs: true, requireImprovement: false };
    const result = await explore(options, 3, additive(effects));
    expect(protocolKey(result.chosen.protocol)).toBe('oxaliplatin|lipiodol');
    expect(result.beams.every((b) => b.moves.at(-1)?.source === 'append-lipiodol')).toBe(true);
    expect(result.steps).toHaveLength(1);
  });

  it('calls the evaluator once per step with every admissible beam × candidate', async () => {
    const evaluate = additive(effects, 0.05);
    const options: SearchOptions = { beams: 3, replicas: 2, drugHorizon: 2, embolicHorizon: 2, ...paper };
    const result = await explore(options, 11, evaluate);
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

  it('does not call the evaluator when every candidate is pruned', async () => {
    const evaluate = additive(effects);
    const options: SearchOptions = { beams: 1, replicas: 1, drugHorizon: 2, embolicHorizon: 1, ...paper };
    const result = await exploreProtocols({ options, drugs: ['cisplatin'], embolics, runStep: beamStepRunner({ ...options, planSeed: 1 }, evaluate) });
    expect(evaluate.calls).toBe(2); // drug 1 and embolic 1; drug 2 has nothing left to add
    expect(result.steps[1]!.extensions).toEqual([{ beam: 0, chosen: null, outcome: 'no-candidate' }]);
    expect(result.steps[1]!.beams).toEqual(result.steps[0]!.beams);
  });

  it('same plan seed gives the same plan, bit for bit; the seed reaches the evaluator', async () => {
    const options: SearchOptions = { beams: 3, replicas: 3, drugHorizon: 2, embolicHorizon: 2, ...paper };
    const run = (seed: number) => explore(options, seed, additive(effects, 0.5));
    const [a, b, c] = await Promise.all([run(5), run(5), run(6)]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.steps.map((s) => s.scores.map((x) => x.risks)))).not.toBe(JSON.stringify(c.steps.map((s) => s.scores.map((x) => x.risks))));
  });

  it('the chosen replicas are those of the chosen beam, also after it was copied into a replaced slot', async () => {
    const options: SearchOptions = { beams: 3, replicas: 2, drugHorizon: 2, embolicHorizon: 2, ...paper };
    const result = await explore(options, 7, additive(effects, 0.3));
    expect(result.steps.some((s) => s.replacement !== null)).toBe(true);
    const last = result.chosen.moves.at(-1)!;
    const lastStep = result.steps.at(-1)!;
    const chosenExtension = lastStep.extensions.find((e) => e.beam === originSlot(result.chosen.slot, lastStep.replacement))!;
    expect(last.agent).toBe(chosenExtension.chosen!.spec.agent);
    expect(result.chosenReplicas).toBe(chosenExtension.chosen!.spec.key);
  });

  it('refuses non-integer or negative horizons and ends in "no beam evaluated" without any step', async () => {
    const evaluate = additive(effects);
    await expect(explore({ beams: 1, replicas: 1, drugHorizon: -1, embolicHorizon: 1, ...paper }, 1, evaluate)).rejects.toThrow(
      /drugHorizon must be a non-negative integer/,
    );
    await expect(explore({ beams: 1, replicas: 1, drugHorizon: 1, embolicHorizon: 0.5, ...paper }, 1, evaluate)).rejects.toThrow(
      /embolicHorizon must be a non-negative integer/,
    );
    await expect(explore({ beams: 1, replicas: 1, drugHorizon: 0, embolicHorizon: 0, ...paper }, 1, evaluate)).rejects.toThrow(/no beam was ever evaluated/);
    expect(evaluate.calls).toBe(0);
  });
});

describe('runBeamStep (Algorithm 1 lines 7-12)', () => {
  const flat =
    (risk: Partial<Record<AgentId, number>>): CandidateEvaluator<string> =>
    async (specs) =>
      specs.map((spec) => ({ risks: spec.seeds.map(() => risk[spec.agent]!), replicas: spec.key }));

  it('extends every beam, then replaces the worst by the best; replicas follow the beams', async () => {
    const beams = initBeams(2);
    const request: StepRequest = { phase: 'drug', step: 1, beams, candidates: ['cisplatin'] };
    // both beams see the same candidate: equal risks, no replacement
    const even = await runBeamStep(request, { planSeed: 1, replicas: 2, requireImprovement: false }, flat({ cisplatin: 0.5 }));
    expect(even.replacement).toBeNull();
    expect(even.replicas).toEqual({ 0: 'drug/1/b0/cisplatin', 1: 'drug/1/b1/cisplatin' });

    const uneven = await runBeamStep(
      {
        phase: 'embolic',
        step: 1,
        beams: [
          { ...beams[0]!, protocol: { drugs: ['cisplatin'], embolics: [] }, risk: 0.9 },
          { ...beams[1]!, protocol: { drugs: ['epirubicin'], embolics: [] }, risk: 0.1 },
        ],
        candidates: ['lipiodol'],
      },
      { planSeed: 1, replicas: 1, requireImprovement: false },
      async (specs) => specs.map((spec) => ({ risks: [spec.beam === 0 ? 0.8 : 0.2], replicas: spec.key })),
    );
    expect(uneven.replacement).toEqual({ worst: 0, best: 1 });
    expect(uneven.beamsAfter.map((b) => protocolKey(b.protocol))).toEqual(['epirubicin|lipiodol', 'epirubicin|lipiodol']);
    expect(uneven.beamsAfter.map((b) => b.slot)).toEqual([0, 1]);
    expect(uneven.beams).toBe(uneven.beamsAfter);
    expect(uneven.extensions.map((e) => e.outcome)).toEqual(['extended', 'extended']);
    expect(uneven.replicas).toEqual({ 0: 'embolic/1/b1/lipiodol', 1: 'embolic/1/b1/lipiodol' });
  });

  it('a beam that takes nothing has no step replicas', async () => {
    const beams: Beam[] = [
      { slot: 0, protocol: { drugs: ['cisplatin'], embolics: [] }, risk: 0.4, moves: [] },
      { slot: 1, protocol: EMPTY_PROTOCOL, risk: null, moves: [] },
    ];
    const record = await runBeamStep(
      { phase: 'drug', step: 2, beams, candidates: ['cisplatin'] },
      { planSeed: 1, replicas: 1, requireImprovement: false },
      flat({ cisplatin: 0.3 }),
    );
    expect(record.extensions.map((e) => e.outcome)).toEqual(['no-candidate', 'extended']);
    expect(record.pruned).toEqual([{ beam: 0, agent: 'cisplatin', reasons: ['already-in-protocol'] }]);
    expect(record.replacement).toEqual({ worst: 0, best: 1 });
    expect(record.replicas).toEqual({ 0: 'drug/2/b1/cisplatin', 1: 'drug/2/b1/cisplatin' });
  });
});

describe('carryReplicas (the replicas behind each beam across a step)', () => {
  const beams = (n: number): Beam[] => initBeams(n);
  const step = (replicas: Record<number, string>, replacement: StepReport<string>['replacement'], n = 3): StepReport<string> => ({
    beams: beams(n),
    replacement,
    replicas,
  });

  it.each([
    ['moved beams take the step replicas', { 0: 'a', 1: 'b', 2: 'c' }, step({ 0: 'A', 1: 'B', 2: 'C' }, null), { 0: 'A', 1: 'B', 2: 'C' }],
    ['beams that did not move keep theirs', { 0: 'a', 1: 'b', 2: 'c' }, step({ 1: 'B' }, null), { 0: 'a', 1: 'B', 2: 'c' }],
    [
      'a replaced slot takes the step replicas given for it',
      { 0: 'a', 1: 'b', 2: 'c' },
      step({ 0: 'A', 1: 'B', 2: 'A' }, { worst: 2, best: 0 }),
      { 0: 'A', 1: 'B', 2: 'A' },
    ],
    [
      "a replaced slot whose best beam did not move inherits the best beam's",
      { 0: 'a', 1: 'b', 2: 'c' },
      step({ 1: 'B' }, { worst: 2, best: 0 }),
      { 0: 'a', 1: 'B', 2: 'a' },
    ],
    ['nothing before and nothing now: absent', {}, step({ 1: 'B' }, { worst: 0, best: 2 }), { 1: 'B' }],
  ])('%s', (_name, previous, report, expected) => {
    expect(carryReplicas(previous, report)).toEqual(expected);
  });

  it('originSlot: only the replaced slot changes origin', () => {
    expect([0, 1, 2].map((s) => originSlot(s, { worst: 2, best: 0 }))).toEqual([0, 1, 0]);
    expect([0, 1, 2].map((s) => originSlot(s, null))).toEqual([0, 1, 2]);
  });
});
