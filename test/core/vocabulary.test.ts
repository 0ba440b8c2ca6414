import { describe, expect, it } from 'vitest';
import {
  CLINICAL_RULES,
  canExtend,
  canonicalProtocol,
  isValidProtocol,
  protocolKey,
  ruleViolations,
  validProtocols,
  type Protocol,
  type RuleId,
} from '../../src/core/vocabulary';

const p = (drugs: Protocol['drugs'], embolics: Protocol['embolics'] = []): Protocol => ({ drugs, embolics });

describe('clinical rules', () => {
  const cases: Array<{ rule: RuleId; violating: Protocol; allowed: Protocol }> = [
    { rule: 'single-platinum', violating: p(['cisplatin', 'oxaliplatin']), allowed: p(['cisplatin', 'epirubicin']) },
    { rule: 'single-anthracycline', violating: p(['epirubicin', 'pirarubicin']), allowed: p(['epirubicin', 'mitomycin']) },
    { rule: 'single-thymidylate-synthase-inhibitor', violating: p(['raltitrexed', 'fluorouracil']), allowed: p(['raltitrexed', 'oxaliplatin']) },
    { rule: 'single-liquid-embolic', violating: p([], ['absolute-alcohol', 'nbca']), allowed: p([], ['absolute-alcohol', 'lipiodol']) },
    { rule: 'single-permanent-particle', violating: p([], ['pva', 'drug-eluting-beads']), allowed: p([], ['drug-eluting-beads', 'lipiodol']) },
    { rule: 'no-duplicate-agent', violating: p(['cisplatin', 'cisplatin']), allowed: p(['cisplatin']) },
  ];

  it.each(cases)('$rule flags its conflict and nothing else', ({ rule, violating, allowed }) => {
    expect(ruleViolations(violating).map((v) => v.rule)).toEqual([rule]);
    expect(ruleViolations(allowed)).toEqual([]);
  });

  it('every rule in the table has a test case', () => {
    for (const rule of CLINICAL_RULES) expect(cases.map((c) => c.rule)).toContain(rule.id);
  });

  it('canExtend refuses agents already present and rule-breaking additions', () => {
    expect(canExtend(p(['cisplatin']), 'cisplatin')).toBe(false);
    expect(canExtend(p(['cisplatin']), 'lobaplatin')).toBe(false);
    expect(canExtend(p(['cisplatin']), 'epirubicin')).toBe(true);
  });
});

describe('protocols', () => {
  it('canonical form is independent of insertion order', () => {
    expect(protocolKey(p(['epirubicin', 'cisplatin'], ['gelatin-sponge', 'lipiodol']))).toBe('cisplatin+epirubicin|lipiodol+gelatin-sponge');
    expect(canonicalProtocol(p(['epirubicin', 'cisplatin']))).toEqual(p(['cisplatin', 'epirubicin']));
  });

  it('enumerates only valid protocols, with both parts present', () => {
    const all = validProtocols(2, 2);
    expect(all.length).toBeGreaterThan(100);
    for (const protocol of all) {
      expect(isValidProtocol(protocol)).toBe(true);
      expect(protocol.drugs.length).toBeGreaterThanOrEqual(1);
      expect(protocol.embolics.length).toBeGreaterThanOrEqual(1);
    }
    expect(new Set(all.map(protocolKey)).size).toBe(all.length);
  });
});
