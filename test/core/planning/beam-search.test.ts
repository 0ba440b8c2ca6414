import { describe, expect, it } from 'vitest';
import {
  appendLipiodol,
  bestBeamIndex,
  chooseExtensions,
  chooseFinalBeam,
  expandBeams,
  initBeams,
  phaseSteps,
  replaceWorstBeam,
  replicaSeed,
  scoreCandidate,
  validateSearchOptions,
  worstBeamIndex,
  type Beam,
  type CandidateSpec,
} from '../../../src/core/planning/beam-search';
import { deriveSeed } from '../../../src/core/random';
import { isMewmError } from '../../../src/core/errors';
import { EMPTY_PROTOCOL, canonicalProtocol, type AgentId, type Protocol } from '../../../src/core/vocabulary';

const beam = (slot: number, risk: number | null, protocol: Protocol = EMPTY_PROTOCOL): Beam => ({ slot, protocol, risk, moves: [] });
const spec = (beamSlot: number, agent: AgentId, rank: number, protocol: Protocol = EMPTY_PROTOCOL, replicas = 2): CandidateSpec => {
  const [first] = expandBeams([beam(beamSlot, null, protocol)], [agent], { planSeed: 1, phase: 'drug', step: 1, replicas }).specs;
  return { ...first!, rank };
};

describe('initBeams (Algorithm 1 line 4)', () => {
  it('makes B empty, unevaluated beams in slot order', () => {
    const beams = initBeams(3);
    expect(beams.map((b) => b.slot)).toEqual([0, 1, 2]);
    expect(beams.every((b) => b.protocol.drugs.length === 0 && b.protocol.embolics.length === 0 && b.risk === null)).toBe(true);
  });
  it.each([0, -1, 1.5])('rejects B = %s with InvalidConfig', (b) => {
    expect(() => initBeams(b)).toThrow(/beams must be a positive integer/);
  });
});

describe('expandBeams (lines 8/16: candidates under the clinical rules)', () => {
  it.each([
    { name: 'second platinum pruned', protocol: { drugs: ['cisplatin'], embolics: [] }, candidate: 'oxaliplatin', reasons: ['single-platinum'] },
    { name: 'second anthracycline pruned', protocol: { drugs: ['epirubicin'], embolics: [] }, candidate: 'doxorubicin', reasons: ['single-anthracycline'] },
    {
      name: 'raltitrexed with fluorouracil pruned',
      protocol: { drugs: ['raltitrexed'], embolics: [] },
      candidate: 'fluorouracil',
      reasons: ['single-thymidylate-synthase-inhibitor'],
    },
    { name: 'two liquid embolics pruned', protocol: { drugs: [], embolics: ['nbca'] }, candidate: 'absolute-alcohol', reasons: ['single-liquid-embolic'] },
    {
      name: 'two permanent particles pruned',
      protocol: { drugs: [], embolics: ['pva'] },
      candidate: 'drug-eluting-beads',
      reasons: ['single-permanent-particle'],
    },
    { name: 'agent already in the beam pruned', protocol: { drugs: ['cisplatin'], embolics: [] }, candidate: 'cisplatin', reasons: ['already-in-protocol'] },
  ] as const)('$name', ({ protocol, candidate, reasons }) => {
    const { specs, pruned } = expandBeams([beam(0, 0.5, protocol as Protocol)], [candidate], { planSeed: 7, phase: 'drug', step: 2, replicas: 3 });
    expect(specs).toEqual([]);
    expect(pruned).toEqual([{ beam: 0, agent: candidate, reasons }]);
  });

  it('keeps admissible candidates in beam-then-candidate order with the extended protocol', () => {
    const beams = [beam(0, 0.4, { drugs: ['cisplatin'], embolics: [] }), beam(1, 0.6)];
    const { specs, pruned } = expandBeams(beams, ['epirubicin', 'oxaliplatin'], { planSeed: 7, phase: 'drug', step: 2, replicas: 2 });
    expect(specs.map((s) => s.key)).toEqual(['drug/2/b0/epirubicin', 'drug/2/b1/epirubicin', 'drug/2/b1/oxaliplatin']);
    expect(specs[0]!.protocol).toEqual(canonicalProtocol({ drugs: ['cisplatin', 'epirubicin'], embolics: [] }));
    expect(specs.map((s) => s.rank)).toEqual([0, 0, 1]);
    expect(pruned).toEqual([{ beam: 0, agent: 'oxaliplatin', reasons: ['single-platinum'] }]);
  });

  it('derives one seed per replica from (plan seed, phase, step, beam, agent, replica)', () => {
    const { specs } = expandBeams(initBeams(2), ['cisplatin'], { planSeed: 42, phase: 'drug', step: 1, replicas: 3 });
    expect(specs[1]!.seeds).toEqual([0, 1, 2].map((r) => deriveSeed(42, 'drug', 1, 1, 'cisplatin', r)));
    expect(replicaSeed(42, 'drug', 1, 1, 'cisplatin', 2)).toBe(specs[1]!.seeds[2]);
    const all = specs.flatMap((s) => s.seeds);
    expect(new Set(all).size).toBe(all.length);
  });

  it('ignores a candidate listed twice (rank of its first position)', () => {
    const { specs } = expandBeams(initBeams(1), ['cisplatin', 'cisplatin', 'epirubicin'], { planSeed: 1, phase: 'drug', step: 1, replicas: 1 });
    expect(specs.map((s) => [s.agent, s.rank])).toEqual([
      ['cisplatin', 0],
      ['epirubicin', 1],
    ]);
  });
});

describe('scoreCandidate', () => {
  it('averages replica risks and reports the population spread', () => {
    const score = scoreCandidate(spec(0, 'cisplatin', 0, EMPTY_PROTOCOL, 4), [1, 2, 3, 4]);
    expect(score.meanRisk).toBe(2.5);
    expect(score.spreadRisk).toBeCloseTo(Math.sqrt(1.25), 12);
  });
  it('rejects a non-finite risk as a model-contract error', () => {
    try {
      scoreCandidate(spec(0, 'cisplatin', 0), [0.1, Number.NaN]);
      expect.unreachable();
    } catch (error) {
      expect(isMewmError(error, 'ModelContract')).toBe(true);
    }
  });
});

describe('chooseExtensions (lines 9/17: lowest mean risk over T replicas)', () => {
  const beams = [beam(0, null), beam(1, null)];
  it('appends the lowest-mean candidate of each beam', () => {
    const scores = [
      scoreCandidate(spec(0, 'cisplatin', 0), [0.5, 0.7]),
      scoreCandidate(spec(0, 'epirubicin', 1), [0.2, 0.4]),
      scoreCandidate(spec(1, 'cisplatin', 0), [0.1, 0.1]),
      scoreCandidate(spec(1, 'epirubicin', 1), [0.0, 0.9]),
    ];
    const { beams: next, extensions } = chooseExtensions(beams, scores, { requireImprovement: false });
    expect(next.map((b) => b.protocol.drugs)).toEqual([['epirubicin'], ['cisplatin']]);
    expect(next.map((b) => b.risk)).toEqual([0.30000000000000004, 0.1]);
    expect(next[0]!.moves).toEqual([{ phase: 'drug', step: 1, agent: 'epirubicin', meanRisk: 0.30000000000000004, source: 'search' }]);
    expect(extensions.map((e) => e.outcome)).toEqual(['extended', 'extended']);
  });
  it('breaks exact ties by the policy rank, whatever the score order', () => {
    const scores = [scoreCandidate(spec(0, 'epirubicin', 1), [0.3, 0.3]), scoreCandidate(spec(0, 'cisplatin', 0), [0.3, 0.3])];
    const { beams: next } = chooseExtensions([beam(0, null)], scores, { requireImprovement: false });
    expect(next[0]!.protocol.drugs).toEqual(['cisplatin']);
    const { beams: reversed } = chooseExtensions([beam(0, null)], [...scores].reverse(), { requireImprovement: false });
    expect(reversed[0]!.protocol.drugs).toEqual(['cisplatin']);
  });
  it('keeps a beam without admissible candidates unchanged', () => {
    const { beams: next, extensions } = chooseExtensions([beam(0, 0.4, { drugs: ['cisplatin'], embolics: [] })], [], { requireImprovement: false });
    expect(next[0]).toEqual(beam(0, 0.4, { drugs: ['cisplatin'], embolics: [] }));
    expect(extensions[0]!.outcome).toBe('no-candidate');
  });
  it.each([
    { requireImprovement: false, current: 0.2, candidate: 0.3, moved: true },
    { requireImprovement: true, current: 0.2, candidate: 0.3, moved: false },
    { requireImprovement: true, current: 0.2, candidate: 0.2, moved: false },
    { requireImprovement: true, current: 0.2, candidate: 0.1, moved: true },
  ])('requireImprovement=$requireImprovement, risk $current → $candidate: moved=$moved', ({ requireImprovement, current, candidate, moved }) => {
    const start = beam(0, current, { drugs: ['cisplatin'], embolics: [] });
    const score = scoreCandidate(spec(0, 'epirubicin', 0, start.protocol), [candidate, candidate]);
    const { beams: next, extensions } = chooseExtensions([start], [score], { requireImprovement });
    expect(next[0]!.protocol.drugs.includes('epirubicin')).toBe(moved);
    expect(extensions[0]!.outcome).toBe(moved ? 'extended' : 'no-improvement');
  });
});

describe('chooseExtensions with requireImprovement: the first agent of a phase is always taken', () => {
  it('a drug-only beam takes its first embolic even when the risk rises', () => {
    const start = beam(0, 0.2, { drugs: ['cisplatin'], embolics: [] });
    const embolic: CandidateSpec = {
      ...spec(0, 'epirubicin', 0, start.protocol),
      key: 'embolic/1/b0/lipiodol',
      phase: 'embolic',
      agent: 'lipiodol',
      protocol: { drugs: ['cisplatin'], embolics: ['lipiodol'] },
    };
    const { beams: next, extensions } = chooseExtensions([start], [scoreCandidate(embolic, [0.5, 0.5])], { requireImprovement: true });
    expect(next[0]!.protocol.embolics).toEqual(['lipiodol']);
    expect(extensions[0]!.outcome).toBe('extended');
  });
  it('a second embolic still needs a lower risk', () => {
    const start = beam(0, 0.2, { drugs: ['cisplatin'], embolics: ['lipiodol'] });
    const embolic: CandidateSpec = {
      ...spec(0, 'epirubicin', 0, start.protocol),
      key: 'embolic/2/b0/pva',
      phase: 'embolic',
      step: 2,
      agent: 'pva',
      protocol: { drugs: ['cisplatin'], embolics: ['lipiodol', 'pva'] },
    };
    const { beams: next, extensions } = chooseExtensions([start], [scoreCandidate(embolic, [0.3, 0.3])], { requireImprovement: true });
    expect(next[0]!.protocol.embolics).toEqual(['lipiodol']);
    expect(extensions[0]!.outcome).toBe('no-improvement');
  });
});

describe('replaceWorstBeam (lines 11-12/19-20)', () => {
  const p = (drug: 'cisplatin' | 'epirubicin' | 'mitomycin'): Protocol => ({ drugs: [drug], embolics: [] });
  it.each([
    { risks: [0.1, 0.2, 0.3], replacement: { worst: 2, best: 0 } },
    { risks: [0.3, 0.2, 0.1], replacement: { worst: 0, best: 2 } },
    { risks: [0.1, 0.3, 0.3], replacement: { worst: 2, best: 0 } },
    { risks: [0.2, 0.1, 0.1], replacement: { worst: 0, best: 1 } },
    { risks: [0.2, 0.2, 0.2], replacement: null },
    { risks: [0.2], replacement: null },
    { risks: [0.2, null], replacement: { worst: 1, best: 0 } },
  ])('risks $risks → $replacement', ({ risks, replacement }) => {
    const drugs = ['cisplatin', 'epirubicin', 'mitomycin'] as const;
    const beams = risks.map((r, i) => beam(i, r, p(drugs[i]!)));
    const result = replaceWorstBeam(beams);
    expect(result.replacement).toEqual(replacement);
    if (replacement) {
      expect(result.beams[replacement.worst]).toEqual({ ...beams[replacement.best]!, slot: replacement.worst });
      expect(result.beams.filter((_, i) => i !== replacement.worst)).toEqual(beams.filter((_, i) => i !== replacement.worst));
    } else {
      expect(result.beams).toEqual(beams);
    }
  });
  it('ranks ties stably: best = lowest slot, worst = highest slot', () => {
    const beams = [beam(0, 0.5), beam(1, 0.1), beam(2, 0.1), beam(3, 0.5)];
    expect(bestBeamIndex(beams)).toBe(1);
    expect(worstBeamIndex(beams)).toBe(3);
  });
});

describe('horizons, final choice and options', () => {
  it('schedules Hd drug steps then He embolic steps', () => {
    expect(phaseSteps({ drugHorizon: 2, embolicHorizon: 1 })).toEqual([
      { phase: 'drug', step: 1 },
      { phase: 'drug', step: 2 },
      { phase: 'embolic', step: 1 },
    ]);
    expect(phaseSteps({ drugHorizon: 0, embolicHorizon: 0 })).toEqual([]);
  });
  it('returns the lowest-risk beam, lowest slot on ties (line 22)', () => {
    expect(chooseFinalBeam([beam(0, 0.3), beam(1, 0.2), beam(2, 0.2)]).slot).toBe(1);
  });
  it('refuses to choose among never-evaluated beams', () => {
    expect(() => chooseFinalBeam(initBeams(2))).toThrow(/no beam was ever evaluated/);
  });
  it('appendLipiodol adds an unsimulated Lipiodol move where the rules allow', () => {
    const beams = [beam(0, 0.2, { drugs: ['cisplatin'], embolics: [] }), beam(1, 0.3, { drugs: ['cisplatin'], embolics: ['lipiodol'] })];
    const next = appendLipiodol(beams, 2);
    expect(next[0]!.protocol.embolics).toEqual(['lipiodol']);
    expect(next[0]!.risk).toBe(0.2);
    expect(next[0]!.moves.at(-1)).toEqual({ phase: 'drug', step: 2, agent: 'lipiodol', meanRisk: null, source: 'append-lipiodol' });
    expect(next[1]).toBe(beams[1]);
  });
  it.each([
    [{ beams: 0, replicas: 1, drugHorizon: 1, embolicHorizon: 1 }, /beams must be a positive integer/],
    [{ beams: 1, replicas: 0, drugHorizon: 1, embolicHorizon: 1 }, /replicas must be a positive integer/],
    [{ beams: 1, replicas: 1, drugHorizon: -1, embolicHorizon: 1 }, /drugHorizon must be a non-negative integer/],
    [{ beams: 1, replicas: 1, drugHorizon: 0, embolicHorizon: 0 }, /both 0/],
  ])('validateSearchOptions(%o) fails with a message that says what to fix', (options, message) => {
    expect(() => validateSearchOptions({ ...options, appendLipiodolAfterDrugs: false, requireImprovement: false })).toThrow(message);
  });
});
