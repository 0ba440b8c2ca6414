import { describe, expect, it } from 'vitest';
import { DRUG_INFO, DRUGS, EMBOLIC_INFO, EMBOLICS } from '../../src/core/vocabulary';
import { boundedEditDistance, mapAgentNames, matchAgentName } from '../../src/policy/agent-names';

describe('matchAgentName', () => {
  it.each([
    ['THP', 'pirarubicin'],
    ['Pirarubicin', 'pirarubicin'],
    ['thp-adm', 'pirarubicin'],
    ['EPIRUBICIN HYDROCHLORIDE', 'epirubicin'],
    ['Epirubicin (40 mg)', 'epirubicin'],
    ['epirubicin 40mg', 'epirubicin'],
    ['L-OHP', 'oxaliplatin'],
    ['5-FU', 'fluorouracil'],
    ['5 fu', 'fluorouracil'],
    ['Mitomycin C', 'mitomycin'],
    ['gelfoam', 'gelatin-sponge'],
    ['Gelatin sponge particles', 'gelatin-sponge'],
    ['gelatin sponges', 'gelatin-sponge'],
    ['LC beads', 'drug-eluting-beads'],
    ['LC Bead', 'drug-eluting-beads'],
    ['drug-eluting beads', 'drug-eluting-beads'],
    ['ultra-liquid Lipiodol', 'lipiodol'],
    ['Ultra_liquid lipiodol.', 'lipiodol'],
    ['PVA particles', 'pva'],
    ['n-butyl cyanoacrylate', 'nbca'],
    ['Absolute Ethanol', 'absolute-alcohol'],
  ])('maps %s exactly onto %s', (input, agent) => {
    const match = matchAgentName(input);
    expect(match).toMatchObject({ kind: 'matched', agent });
    expect(match.kind === 'matched' && match.via !== 'fuzzy').toBe(true);
  });

  it.each([
    ['Raltitrexd', 'raltitrexed', 1],
    ['Lobaplatine', 'lobaplatin', 1],
    ['Epirubicine', 'epirubicin', 1],
    ['Hydroxycamptothecine', 'hydroxycamptothecin', 1],
    ['lipidol', 'lipiodol', 1],
    ['Oxaliplatn', 'oxaliplatin', 1],
    ['Cisplatim', 'cisplatin', 1],
    ['Iadrubicin', 'idarubicin', 1],
    ['Eiprubicin', 'epirubicin', 1],
  ])('corrects the typo %s to %s (distance %i)', (input, agent, distance) => {
    expect(matchAgentName(input)).toMatchObject({ kind: 'matched', agent, via: 'fuzzy', distance });
  });

  it('does not fuzz abbreviations: an unknown short code is unknown, not a near miss', () => {
    expect(matchAgentName('THQ').kind).toBe('unknown');
    expect(matchAgentName('PVB').kind).toBe('unknown');
  });

  it.each([
    ['oxaplatin', ['oxaliplatin', 'lobaplatin', 'cisplatin', 'nedaplatin']],
    ['pirubicin', ['epirubicin', 'pirarubicin']],
    ['epidarubicin', ['epirubicin', 'idarubicin', 'pirarubicin']],
  ])('refuses the typo %s that is about as close to several agents', (input, candidates) => {
    const match = matchAgentName(input);
    expect(match.kind).toBe('ambiguous');
    expect(match.kind === 'ambiguous' && [...match.candidates].sort()).toEqual([...candidates].sort());
  });

  it('reports an ambiguous name as a problem, not as a guess', () => {
    const mapped = mapAgentNames(['oxaplatin'], 'drug');
    expect(mapped.drugs).toEqual([]);
    expect(mapped.problems).toMatchObject([{ input: 'oxaplatin', reason: 'ambiguous' }]);
  });

  it.each(['Sorafenib', 'Lenvatinib', 'Y-90 microspheres', 'carboplatin', '', '   ', 'contrast agent'])('reports %j as unknown', (input) => {
    expect(matchAgentName(input).kind).toBe('unknown');
  });

  it('every synonym of the vocabulary maps back onto its own agent', () => {
    for (const id of DRUGS) for (const s of DRUG_INFO[id].synonyms) expect(matchAgentName(s), s).toMatchObject({ kind: 'matched', agent: id });
    for (const id of EMBOLICS) for (const s of EMBOLIC_INFO[id].synonyms) expect(matchAgentName(s), s).toMatchObject({ kind: 'matched', agent: id });
  });
});

describe('boundedEditDistance', () => {
  it('matches the edit distance within the bound and saturates beyond it', () => {
    expect(boundedEditDistance('kitten', 'sitting', 5)).toBe(3);
    expect(boundedEditDistance('kitten', 'sitting', 2)).toBe(3);
    expect(boundedEditDistance('abc', 'abc', 0)).toBe(0);
    expect(boundedEditDistance('a', 'abcdef', 2)).toBe(3);
    expect(boundedEditDistance('eiprubicin', 'epirubicin', 2)).toBe(1); // a transposition is one edit
    expect(boundedEditDistance('ca', 'abc', 3)).toBe(3); // optimal string alignment, not full Damerau
  });
});

describe('mapAgentNames', () => {
  it('splits by phase, removes duplicates after mapping and reports every problem', () => {
    const mapped = mapAgentNames(['THP', 'Pirarubicin', 'Sorafenib', 'Lipiodol', 'cisplatin'], 'drug');
    expect(mapped.drugs).toEqual(['pirarubicin', 'cisplatin']);
    expect(mapped.embolics).toEqual([]);
    expect(mapped.problems.map((p) => [p.input, p.reason])).toEqual([
      ['Sorafenib', 'unknown'],
      ['Lipiodol', 'wrong-phase'],
    ]);
  });

  it('accepts both phases with "any"', () => {
    const mapped = mapAgentNames(['gelfoam', 'Raltitrexed']);
    expect(mapped.drugs).toEqual(['raltitrexed']);
    expect(mapped.embolics).toEqual(['gelatin-sponge']);
    expect(mapped.problems).toEqual([]);
  });
});
