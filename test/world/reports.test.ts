import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/random';
import { protocolAgents, validProtocols } from '../../src/core/vocabulary';
import { samplePhenotype } from '../../src/world/phenotype';
import { ATTENUATION_PHRASES, attenuationLevelForState, attenuationLevelOf, generateReport, type AttenuationLevel } from '../../src/world/reports';

const protocols = validProtocols(2, 2);

describe('TACE reports', () => {
  const rng = new Rng(17);
  const reports = Array.from({ length: 500 }, (_, i) => {
    const protocol = rng.pick(protocols);
    const state = { viableRatio: rng.uniform() * 0.9, lipiodolFraction: rng.uniform() * 0.6 };
    return { protocol, state, report: generateReport({ phenotype: samplePhenotype(`SYN-T-${i}`, i), protocol, state, seed: i }) };
  });

  it('every report reads back to the attenuation level its outcome implies', () => {
    for (const { state, report } of reports) {
      expect(report.attenuationLevel).toBe(attenuationLevelForState(state));
      expect(attenuationLevelOf(report.text), report.text).toBe(report.attenuationLevel);
      expect(report.text).toMatch(/on the final angiography\.$/);
    }
    expect(new Set(reports.map((r) => r.report.attenuationLevel))).toEqual(new Set([1, 2, 3, 4]));
  });

  it.each([1, 2, 3, 4] as AttenuationLevel[])('every level-%i phrase parses to its level', (level) => {
    for (const phrase of ATTENUATION_PHRASES[level]) {
      expect(attenuationLevelOf(`Cisplatin 40 mg was infused; ${phrase} on the final angiography.`)).toBe(level);
      expect(attenuationLevelOf(`${phrase.replace('tumor', 'tumour')} on the final angiography.`)).toBe(level);
    }
  });

  it('mentions name exactly the protocol agents, each as written in the text', () => {
    for (const { protocol, report } of reports) {
      expect(new Set(report.mentions.map((m) => m.agent))).toEqual(new Set(protocolAgents(protocol)));
      for (const mention of report.mentions) expect(report.text).toContain(mention.surface);
    }
  });

  it('carries realistic noise: synonyms, abbreviations and the odd typo', () => {
    const surfaces = reports.flatMap((r) => r.report.mentions.map((m) => m.surface));
    expect(surfaces.some((s) => s === 'THP' || s === 'CDDP' || s === '5-FU' || s === 'EPI')).toBe(true);
    expect(surfaces.some((s) => /^(adriamycin|Adriamycin|tomudex|Tomudex|gelfoam|Gelfoam)$/.test(s))).toBe(true);
    expect(reports.some((r) => /cathether|fluroscopic|embolisation|emulsoin|satisfactorey/.test(r.report.text))).toBe(true);
  });

  it('is deterministic in its seed', () => {
    const phenotype = samplePhenotype('SYN-T-1', 1);
    const input = { phenotype, protocol: protocols[10]!, state: { viableRatio: 0.2, lipiodolFraction: 0.4 }, seed: 3 };
    expect(generateReport(input)).toEqual(generateReport(input));
  });
});
