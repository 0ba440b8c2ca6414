import { describe, expect, it } from 'vitest';
import { Rng, deriveSeed } from '../../src/core/random';
import { DRUGS, EMBOLICS, isValidProtocol, protocolAgents, protocolKey, type AgentId, type Protocol } from '../../src/core/vocabulary';
import { generatePatientTruth } from '../../src/world/cohort';
import { candidateProtocols, goldProtocol, rankProtocols } from '../../src/world/gold';
import { samplePhenotype } from '../../src/world/phenotype';
import { physicianProtocol } from '../../src/world/physician';
import { drawSurvival, expectedRisk } from '../../src/world/survival';

const cohort = Array.from({ length: 24 }, (_, i) => samplePhenotype(`SYN-T-${i}`, deriveSeed(99, i)));

/** One drug of every class and every embolic that the rules allow together: "give everything". */
const everything: Protocol = {
  drugs: ['raltitrexed', 'cisplatin', 'epirubicin', 'mitomycin', 'hydroxycamptothecin'],
  embolics: ['lipiodol', 'gelatin-sponge', 'drug-eluting-beads', 'nbca'],
};

describe('gold protocol and expected risk', () => {
  it('expectedRisk is deterministic', () => {
    const p = cohort[0]!;
    expect(expectedRisk(p, { drugs: ['cisplatin'], embolics: ['lipiodol'] })).toBe(expectedRisk(p, { drugs: ['cisplatin'], embolics: ['lipiodol'] }));
  });

  it('gold is the minimum over the 1,235 rule-valid protocols with Hd = He = 2', () => {
    const candidates = candidateProtocols();
    expect(candidates).toHaveLength(1235);
    const phenotype = cohort[1]!;
    const gold = goldProtocol(phenotype);
    expect(isValidProtocol(gold.protocol)).toBe(true);
    for (const protocol of candidates.filter((_, i) => i % 37 === 0)) expect(expectedRisk(phenotype, protocol)).toBeGreaterThanOrEqual(gold.risk);
  });

  it('toxicity makes giving everything worse than gold for every patient', () => {
    expect(isValidProtocol(everything)).toBe(true);
    for (const phenotype of cohort) expect(expectedRisk(phenotype, everything)).toBeGreaterThan(goldProtocol(phenotype).risk + 0.2);
  });

  it('the gold protocol depends on the patient', () => {
    const golds = new Set(cohort.map((p) => goldProtocol(p).key));
    expect(golds.size).toBeGreaterThan(cohort.length / 3);
    const drugCounts = new Set(cohort.map((p) => goldProtocol(p).protocol.drugs.length));
    expect(drugCounts).toEqual(new Set([1, 2]));
  });

  it('choosing matters: the worst valid protocol is clearly riskier than gold', () => {
    for (const phenotype of cohort.slice(0, 6)) {
      const ranked = rankProtocols(phenotype);
      expect(ranked[ranked.length - 1]!.risk - ranked[0]!.risk).toBeGreaterThan(0.3);
    }
  });
});

describe('physician policy', () => {
  it('gives every agent support and stays rule-valid', () => {
    const seen = new Map<AgentId, number>();
    const keys = new Set<string>();
    const phenotype = cohort[2]!;
    const ranked = rankProtocols(phenotype);
    const rng = new Rng(5);
    for (let i = 0; i < 600; i++) {
      const p = physicianProtocol(phenotype, ranked, rng);
      expect(isValidProtocol(p)).toBe(true);
      keys.add(protocolKey(p));
      for (const a of protocolAgents(p)) seen.set(a, (seen.get(a) ?? 0) + 1);
    }
    for (const agent of [...DRUGS, ...EMBOLICS]) expect(seen.get(agent) ?? 0, agent).toBeGreaterThan(0);
    expect(keys.size).toBeGreaterThan(60);
  });

  it('is better than chance but not the oracle', () => {
    const gaps = Array.from({ length: 20 }, (_, i) => generatePatientTruth(3, i + 1)).map((t) => ({
      physician: t.physicianExpectedRisk - t.ranked[0]!.risk,
      median: t.ranked[t.ranked.length >> 1]!.risk - t.ranked[0]!.risk,
    }));
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(gaps.map((g) => g.physician))).toBeLessThan(mean(gaps.map((g) => g.median)));
    expect(mean(gaps.map((g) => g.physician))).toBeGreaterThan(0.05);
  });
});

describe('survival', () => {
  it('higher risk means shorter survival on average, with censoring', () => {
    const draw = (risk: number) => Array.from({ length: 400 }, (_, i) => drawSurvival(risk, i));
    const low = draw(1);
    const high = draw(3);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(high.map((s) => s.trueSurvivalMonths))).toBeLessThan(0.5 * mean(low.map((s) => s.trueSurvivalMonths)));
    const events = low.filter((s) => s.event === 1).length;
    expect(events).toBeGreaterThan(100);
    expect(events).toBeLessThan(400);
    for (const s of low) expect(s.osMonths).toBeCloseTo(Math.max(0.1, Math.min(s.trueSurvivalMonths, s.censoringMonths)), 0);
  });
});
