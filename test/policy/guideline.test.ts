import { describe, expect, it } from 'vitest';
import { isValidProtocol } from '../../src/core/vocabulary';
import { policyConfigFromEnv } from '../../src/policy/config';
import { GuidelinePolicy, tumourBands } from '../../src/policy/guideline';
import { createPolicy, describePolicy } from '../../src/policy/index';
import { GOAL, observation } from './fixtures';

const request = (o = observation(), drugCount = 3, embolicCount = 2) => ({ caseId: 'case-1', observation: o, goal: GOAL, drugCount, embolicCount });

describe('GuidelinePolicy', () => {
  const policy = new GuidelinePolicy();

  it('is deterministic and returns D drugs and E embolics that form a rule-valid set', async () => {
    const a = await policy.propose(request());
    const b = await policy.propose(request());
    expect(a).toEqual(b);
    expect(a.drugs).toHaveLength(3);
    expect(a.embolics).toHaveLength(2);
    expect(isValidProtocol({ drugs: a.drugs, embolics: a.embolics })).toBe(true);
    expect(a.policy).toEqual({ name: 'guideline', version: 'guideline-2026.1' });
  });

  it('proposes conventional TACE for a small solitary lesion: anthracycline first, Lipiodol and gelatin sponge', async () => {
    const p = await policy.propose(request(observation({ largestDiameterMm: 25, enhancementHu: 30 })));
    expect(p.drugs[0]).toBe('epirubicin');
    expect(p.embolics).toEqual(['lipiodol', 'gelatin-sponge']);
    // Pirarubicin ranks above the cut-off but is a second anthracycline: removed, on record.
    expect(p.removals).toContainEqual({ agent: 'pirarubicin', rule: 'single-anthracycline', keptInstead: 'epirubicin' });
  });

  it('brings drug-eluting beads and idarubicin forward for a large hypervascular lesion', async () => {
    const p = await policy.propose(request(observation({ largestDiameterMm: 75, enhancementHu: 45, totalTumourMl: 200, tumourBurden: 0.13 }), 3, 3));
    expect(p.embolics).toContain('drug-eluting-beads');
    expect(p.drugs).toContain('idarubicin');
    expect(p.drugs.some((d) => ['lobaplatin', 'oxaliplatin', 'cisplatin'].includes(d))).toBe(true);
    expect(p.rationale).toContain('DEB-TACE');
  });

  it('prefers temporary embolics and no permanent particles at a high tumour burden', async () => {
    const p = await policy.propose(request(observation({ largestDiameterMm: 130, tumourBurden: 0.6, enhancementHu: 40 }), 3, 2));
    expect(p.embolics).toEqual(['lipiodol', 'gelatin-sponge']);
    expect(tumourBands(observation({ largestDiameterMm: 130, tumourBurden: 0.6 })).huge).toBe(true);
  });

  it('ranks raltitrexed first for multinodular bilobar disease and demotes Lipiodol for hypovascular lesions', async () => {
    const multi = await policy.propose(request(observation({ tumourCount: 5, location: 'bilobar' })));
    expect(multi.drugs[0]).toBe('raltitrexed');
    const hypo = await policy.propose(request(observation({ enhancementHu: 0 }), 2, 1));
    expect(hypo.embolics).toEqual(['gelatin-sponge']);
  });

  it('rejects non-positive counts', async () => {
    await expect(policy.propose(request(observation(), 0, 2))).rejects.toThrow(/drugCount/);
  });
});

describe('createPolicy and configuration', () => {
  it('uses the guideline policy without an API key or endpoint and says so', () => {
    const config = policyConfigFromEnv({});
    const policy = createPolicy(config);
    expect(policy.identity.name).toBe('guideline');
    expect(describePolicy(policy.identity)).toContain('no LLM endpoint in use');
  });

  it('uses the LLM policy when a key or endpoint is configured, with refinement when a reasoning model is named', () => {
    const llm = createPolicy(policyConfigFromEnv({ OPENAI_API_KEY: 'sk-test', MEWM_POLICY_MODEL: 'gpt-4o' }));
    expect(llm.identity).toMatchObject({ name: 'llm', models: ['gpt-4o'], promptVersions: { propose: 'propose.v1' } });
    const local = createPolicy(policyConfigFromEnv({ OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1', MEWM_REFINE_MODEL: 'deepseek-r1' }));
    expect(local.identity).toMatchObject({ name: 'llm+refine', models: ['gpt-4o', 'deepseek-r1'] });
    expect(describePolicy(local.identity)).toContain('refine.v1');
  });

  it('MEWM_POLICY=guideline wins over a configured key; MEWM_POLICY=llm without endpoint is a config error', () => {
    expect(policyConfigFromEnv({ OPENAI_API_KEY: 'sk', MEWM_POLICY: 'guideline' })).toEqual({});
    expect(() => policyConfigFromEnv({ MEWM_POLICY: 'llm' })).toThrow(/OPENAI_API_KEY/);
  });

  it('rejects malformed numbers and modes naming the variable', () => {
    expect(() => policyConfigFromEnv({ OPENAI_API_KEY: 'k', MEWM_POLICY_TIMEOUT_MS: 'soon' })).toThrow(/MEWM_POLICY_TIMEOUT_MS/);
    expect(() => policyConfigFromEnv({ OPENAI_API_KEY: 'k', MEWM_POLICY_OUTPUT: 'xml' })).toThrow(/MEWM_POLICY_OUTPUT/);
    expect(() => policyConfigFromEnv({ OPENAI_BASE_URL: 'not a url' })).toThrow(/OPENAI_BASE_URL/);
  });
});
